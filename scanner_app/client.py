"""The tracker's API as the station sees it: look up a container, post a custody event.

Plain ``urllib`` (no extra dependency): two JSON calls with a bearer token. Failures
are split by what the caller should do: :class:`Unreachable` means "try again later"
(network down, timeout, 5xx, 429), :class:`Rejected` means the tracker refused this
request for good (any other 4xx) and retrying it would not help.
"""
from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import quote

#: Statuses worth retrying: timeouts, rate limits and server-side trouble.
RETRYABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


class TrackerError(Exception):
    """A call to the tracker did not succeed."""


class Unreachable(TrackerError):
    """The tracker could not be reached or answered with a temporary failure; retry later.

    ``status`` is the HTTP status of a temporary failure (5xx, 429), None for a network error.
    """

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class Rejected(TrackerError):
    """The tracker refused the request for good (4xx); ``status`` and ``body`` say why."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(f"HTTP {status}: {body.get('message') or body.get('error') or body}")
        self.status = status
        self.body = body


def read_token(path: str | Path) -> str:
    """Return the device token stored in ``path`` (first line, surrounding blanks removed)."""
    token = Path(path).read_text(encoding="utf-8").strip().splitlines()
    if not token or not token[0].strip():
        raise ValueError(f"{path} holds no token")
    return token[0].strip()


class TrackerClient:
    """JSON calls to one tracker with a station's device token."""

    def __init__(self, base_url: str, token: str, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout

    def container(self, sscc: str, timeout: float | None = None, kind: str | None = None) -> dict[str, Any] | None:
        """Return the container record (with its declaration), or None when the tracker has none.

        With ``kind``, the record carries the tracker's custody check of that event at the station's
        checkpoint now (``custody_check``: verdict and reasons).
        """
        query = f"?kind={quote(kind)}" if kind else ""
        try:
            return self._call("GET", f"/api/v1/containers/{quote(sscc)}{query}", timeout=timeout)[1]
        except Rejected as exc:
            if exc.status == 404:
                return None
            raise

    def device(self, timeout: float | None = None) -> dict[str, Any]:
        """Return what the token stands for: {"kind", "name", "checkpoint", "beacon"}."""
        return self._call("GET", "/api/v1/device", timeout=timeout)[1]

    def post_custody_event(self, event: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """Send one custody event; return (201 first time or 200 replay, the tracker's record)."""
        return self._call("POST", "/api/v1/custody-events", body=event)

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None,
              timeout: float | None = None) -> tuple[int, dict[str, Any]]:
        data = None if body is None else json.dumps(body).encode("utf-8")
        request = urllib.request.Request(self.base_url + path, data=data, method=method, headers={
            "Authorization": f"Bearer {self.token}", "Accept": "application/json",
            **({"Content-Type": "application/json"} if data is not None else {}),
        })
        try:
            with urllib.request.urlopen(request, timeout=timeout or self.timeout) as response:
                return response.status, _strict_json(response.read())
        except urllib.error.HTTPError as exc:
            if exc.code in RETRYABLE_STATUS:
                raise Unreachable(f"HTTP {exc.code} from {self.base_url}", exc.code) from exc
            raise Rejected(exc.code, _error_body(exc)) from exc
        except (OSError, ValueError, http.client.HTTPException) as exc:  # refused, reset, timeout, cut off
            raise Unreachable(f"{self.base_url}: {exc}") from exc


def _strict_json(raw: bytes) -> dict[str, Any]:
    """Decode a success answer; one that is not a JSON object raises ValueError (retry)."""
    value = json.loads(raw)
    if not isinstance(value, dict):
        raise ValueError("the tracker's answer is not a JSON object")
    return value


def _error_body(error: urllib.error.HTTPError) -> dict[str, Any]:
    """Read a 4xx answer's JSON body; one cut off on the way is a network failure (retry)."""
    try:
        return _json(error.read())
    except (OSError, http.client.HTTPException) as exc:
        raise Unreachable(f"HTTP {error.code} answer cut off: {exc!r}") from exc


def _json(raw: bytes) -> dict[str, Any]:
    """Decode a JSON object answer; anything else becomes {"raw": text}."""
    try:
        value = json.loads(raw or b"{}")
    except ValueError:
        return {"raw": raw[:200].decode("utf-8", "replace")}
    return value if isinstance(value, dict) else {"value": value}
