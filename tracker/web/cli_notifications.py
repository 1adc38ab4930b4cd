"""Flask CLI: ``notifications deliver`` — send the outbox by e-mail and webhooks, round after round."""
from __future__ import annotations

import signal
import threading

import click
from flask import current_app
from flask.cli import AppGroup

from tracker.domain.notifications.deliverer import Deliverer
from tracker.domain.notifications.email import MailServer
from tracker.web.database import session_factory
from tracker.web.notification_mail import compose

notifications_group = AppGroup("notifications", help="Notifications of alerts: the portal's bell, e-mail, webhooks.")


def make_deliverer() -> Deliverer:
    """Build the deliverer from the app's settings (no SMTP_HOST: the e-mail channel is off)."""
    settings = current_app.config["SETTINGS"]
    return Deliverer(session_factory(), compose, MailServer.from_settings(settings), settings.portal_url,
                     settings.webhook_allow_private)


@notifications_group.command("deliver")
@click.option("--once", is_flag=True, help="Do one round (fan out, send what is due) and stop.")
@click.option("--idle", default=2.0, show_default=True, type=click.FloatRange(0.1, 60),
              help="Seconds to wait when a round found nothing to do.")
def deliver_command(once: bool, idle: float) -> None:
    """Fan out opened alerts and send due e-mails and webhooks; loop until stopped (Ctrl-C, SIGTERM)."""
    deliverer = make_deliverer()
    if deliverer.mail is None:
        click.echo("e-mail is off (no SMTP_HOST): only the portal's bell and webhooks", err=True)
    if once:
        done = deliverer.run_once()
        click.echo(f"fanned out {done.fanned_out}, sent {done.sent}, retrying {done.retrying}, failed {done.failed}")
        return
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    click.echo("delivering notifications (Ctrl-C stops)")
    deliverer.run(stop, idle)
