"""Where the portal may send a browser back to: only a path on this site.

A ``next`` parameter or a form's ``next`` field is the attacker's to choose:
``/%09/evil.example`` unquotes to ``/<tab>/evil.example``, which browsers read as
``//evil.example``, another site. A target is kept only when, both as given and
unquoted, it starts with one "/", holds no backslash or control character, and has
neither a scheme nor a host.
"""
from __future__ import annotations

from urllib.parse import unquote, urlsplit

#: Longer targets are not paths this portal makes.
MAX_TARGET_LENGTH = 2048


def _is_local_path(candidate: str) -> bool:
    """Tell whether ``candidate`` is a path on this site that no browser can read as another host."""
    if not candidate.startswith("/") or candidate.startswith("//") or "\\" in candidate:
        return False
    if any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in candidate):
        return False
    parts = urlsplit(candidate)
    return not parts.scheme and not parts.netloc


def safe_path(target: str | None, fallback: str) -> str:
    """Return ``target`` when it is a path on this site, else ``fallback``."""
    if not target or len(target) > MAX_TARGET_LENGTH:
        return fallback
    if _is_local_path(target) and _is_local_path(unquote(target)):
        return target
    return fallback
