"""Real receivers for the notification tests: an SMTP server (aiosmtpd) and a webhook receiver (http.server)."""
from __future__ import annotations

import email
import email.policy
import socket
import threading
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller

from tracker.domain.notifications.webhooks import KEY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, verify


def free_port() -> int:
    """Return a TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Mailbox:
    """An aiosmtpd handler that keeps every message it accepts."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd's name)
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))  # type: ignore[arg-type]
        return "250 OK"


class SmtpServer:
    """A real local SMTP server that can be taken down and brought back on the same port."""

    def __init__(self) -> None:
        self.port = free_port()
        self.mailbox = Mailbox()
        self.controller: Controller | None = None

    def up(self) -> None:
        """Start listening."""
        self.controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def down(self) -> None:
        """Stop listening (connections are refused)."""
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@dataclass
class Receipt:
    """One webhook the receiver took: its headers, body, and whether the signature held."""

    headers: dict[str, str]
    body: bytes
    signature_ok: bool


@dataclass
class WebhookReceiver:
    """A real HTTP server in a thread that verifies each webhook's HMAC with the secret it is given."""

    secret: str = ""
    status: int = 204
    received: list[Receipt] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        """The address to register."""
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/mercury"

    def start(self, port: int = 0) -> None:
        """Listen on ``port`` (0: any free one)."""
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                headers = {k: v for k, v in self.headers.items()}
                ok = verify(receiver.secret, headers.get(TIMESTAMP_HEADER, ""), body, headers.get(SIGNATURE_HEADER, ""))
                receiver.received.append(Receipt(headers, body, ok))
                self.send_response(receiver.status)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        """Stop listening."""
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def keys(self) -> list[str]:
        """The idempotency keys received, in order."""
        return [r.headers[KEY_HEADER] for r in self.received]
