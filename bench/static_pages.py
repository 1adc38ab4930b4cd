"""The load benchmark's ceiling: saved pages served as static files by gunicorn (``bench/load.py``).

``STATIC_PAGES`` names the folder; ``/NAME`` answers its file NAME, as HTML or JSON.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Iterable

FOLDER = Path(os.environ.get("STATIC_PAGES", "."))
TYPES = {".html": "text/html; charset=utf-8", ".json": "application/json"}


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """Answer the saved file named by the path, or 404."""
    name = environ.get("PATH_INFO", "/").lstrip("/")
    path = FOLDER / name
    if "/" in name or not name or not path.is_file():
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found"]
    body = path.read_bytes()
    start_response("200 OK", [("Content-Type", TYPES.get(path.suffix, "application/octet-stream")),
                              ("Content-Length", str(len(body)))])
    return [body]
