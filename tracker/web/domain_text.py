"""Show the domain's messages (validation failures, refusals) in the user's language."""
from __future__ import annotations

from typing import Any

from flask import Flask
from flask_babel import gettext

from tracker.domain.text import Text


def translate(message: Any) -> str:
    """Translate a domain message: a :class:`Text` by its template, plain text as it is found."""
    if isinstance(message, Text):
        try:
            return gettext(message.template).format(**message.params)
        except (KeyError, IndexError, ValueError):
            return str(message)  # a translation that names a value the message lacks
    return gettext(str(message)) if message else ""


def init_app(app: Flask) -> None:
    """Register the ``tr`` template filter: ``{{ errors['consignee']|tr }}``."""
    app.add_template_filter(translate, "tr")
