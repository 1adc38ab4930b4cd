"""Show the domain's messages (validation failures, refusals) in the user's language."""
from __future__ import annotations

from datetime import date, datetime
from enum import Enum
from typing import Any

from flask import Flask
from flask_babel import gettext

from tracker.domain.place_names import PlaceName
from tracker.domain.exports import Period
from tracker.domain.text import Grams, Text
from tracker.web.labels import label, place


def translate(message: Any) -> str:
    """Translate a domain message: a :class:`Text` by its template, plain text as it is found.

    Its values are shown in the user's language too: a message within a message is translated,
    an enum value (a status, a kind) is named by its label, a day or a period as the language writes dates.
    """
    if isinstance(message, Text):
        values = {name: _shown(value) for name, value in message.params.items()}
        try:
            return gettext(message.template).format(**values)
        except (KeyError, IndexError, ValueError):
            return str(message)  # a translation that names a value the message lacks
    return gettext(str(message)) if message else ""


def _shown(value: Any) -> Any:
    from tracker.web.i18n import day, kg  # i18n needs the app's database; this module is imported early

    if isinstance(value, Grams):
        return kg(int(value))
    if isinstance(value, PlaceName):
        return place(value)
    if isinstance(value, Period):  # the language's dates and an en dash, never ISO's "2026-01-01..2026-12-31"
        return f"{day(value.start) if value.start else '…'} \u2013 {day(value.end) if value.end else '…'}"
    if isinstance(value, date) and not isinstance(value, datetime):
        return day(value)
    if isinstance(value, Text):
        return translate(value)
    if isinstance(value, Enum):
        return label(value)
    return value


def init_app(app: Flask) -> None:
    """Register the ``tr`` template filter: ``{{ errors['consignee']|tr }}``."""
    app.add_template_filter(translate, "tr")
