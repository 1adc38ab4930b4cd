"""Signed webhooks: which URLs may receive them, how a body is signed and sent.

A receiver verifies ``X-Mercury-Signature: sha256=<hex>``, the HMAC-SHA256 with its
secret of ``<X-Mercury-Timestamp>.<raw body>``, refuses old timestamps (replays), and
drops a repeated ``Idempotency-Key``. Only http(s) URLs are accepted; loopback, private,
link-local and reserved addresses are refused (a webhook must not reach into the
tracker's own network) unless the setting ``WEBHOOK_ALLOW_PRIVATE`` allows them.
"""
from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import socket
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit

from tracker.domain.text import text

SIGNATURE_HEADER = "X-Mercury-Signature"
TIMESTAMP_HEADER = "X-Mercury-Timestamp"
KEY_HEADER = "Idempotency-Key"
#: Seconds a receiver has to answer.
TIMEOUT_S = 10
URL_CHARS = 500


class WebhookRefused(ValueError):
    """A URL that may not receive webhooks (its reason is a translatable message)."""


class DeliveryFailed(RuntimeError):
    """The receiver did not take the message; ``permanent`` when retrying cannot help."""

    def __init__(self, reason: str, permanent: bool = False) -> None:
        super().__init__(reason)
        self.permanent = permanent


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """Return the signature header's value for ``body`` sent at ``timestamp`` (Unix seconds)."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify(secret: str, timestamp: str, body: bytes, signature: str) -> bool:
    """Tell whether ``signature`` is this body's, as a receiver checks it (constant time)."""
    if not timestamp.isdigit():
        return False
    return hmac.compare_digest(sign(secret, int(timestamp), body), signature)


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    return ip.is_global and not ip.is_multicast


def check_url(url: str, allow_private: bool) -> str:
    """Return ``url`` when webhooks may go there, else raise :class:`WebhookRefused` saying why."""
    url = url.strip()
    parts = urlsplit(url)
    if len(url) > URL_CHARS or parts.scheme not in ("http", "https") or not parts.hostname:
        raise WebhookRefused(text("give an http:// or https:// address"))
    if parts.username or parts.password:
        raise WebhookRefused(text("the address may not carry a user name or password"))
    if allow_private:
        return url
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(parts.hostname, parts.port or 443)}
    except (socket.gaierror, UnicodeError, ValueError):
        raise WebhookRefused(text("the address's host name is not known")) from None
    if not all(_public(a) for a in addresses):
        raise WebhookRefused(text("webhooks may not go to loopback or private network addresses"))
    return url


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:  # a redirect could lead anywhere
        return None


def post(url: str, secret: str, payload: dict[str, Any], key: str, timestamp: int, allow_private: bool) -> None:
    """Send one signed webhook; raise :class:`DeliveryFailed` unless the receiver answers 2xx."""
    try:
        check_url(url, allow_private)
    except WebhookRefused as exc:
        raise DeliveryFailed(str(exc), permanent=True) from None
    body = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": "application/json", "User-Agent": "mercury-tracking-webhooks",
        TIMESTAMP_HEADER: str(timestamp), SIGNATURE_HEADER: sign(secret, timestamp, body), KEY_HEADER: key})
    try:
        with urllib.request.build_opener(_NoRedirect).open(request, timeout=TIMEOUT_S) as answer:
            status = answer.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    except (OSError, ValueError) as exc:
        raise DeliveryFailed(f"{url}: {exc}") from None
    if not 200 <= status < 300:
        raise DeliveryFailed(f"{url}: HTTP {status}")
