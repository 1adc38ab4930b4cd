"""Show the domain's messages (validation failures, refusals) in the user's language."""
from __future__ import annotations

from enum import Enum
from typing import Any

from flask import Flask
from flask_babel import gettext

from tracker.domain.text import Grams, Text
from tracker.web.labels import label


def translate(message: Any) -> str:
    """Translate a domain message: a :class:`Text` by its template, plain text as it is found.

    Its values are shown in the user's language too: a message within a message is translated,
    an enum value (a status, a kind) is named by its label.
    """
    if isinstance(message, Text):
        values = {name: _shown(value) for name, value in message.params.items()}
        try:
            return gettext(message.template).format(**values)
        except (KeyError, IndexError, ValueError):
            return str(message)  # a translation that names a value the message lacks
    return gettext(str(message)) if message else ""


def _shown(value: Any) -> Any:
    if isinstance(value, Grams):
        from tracker.web.i18n import kg  # i18n needs the app's database; this module is imported early

        return kg(int(value))
    if isinstance(value, Text):
        return translate(value)
    if isinstance(value, Enum):
        return label(value)
    return value


def init_app(app: Flask) -> None:
    """Register the ``tr`` template filter: ``{{ errors['consignee']|tr }}``."""
    app.add_template_filter(translate, "tr")
