"""Messages the domain writes for people, kept translatable without Flask.

``text("{sscc} is not held by {holder}", sscc=..., holder=...)`` is a ``str`` (the English
sentence, so the API and logs are unchanged) that also remembers its template and values;
the portal translates the template and fills in the values in the user's language. The
translation catalog's domain "domain" collects every ``text(...)`` template.
"""
from __future__ import annotations

from functools import reduce
from typing import Any, Sequence


class Text(str):
    """An English message that remembers its template and values, for translation."""

    template: str
    params: dict[str, Any]

    def __new__(cls, template: str, params: dict[str, Any]) -> "Text":
        value = super().__new__(cls, template.format(**params) if params else template)
        value.template = template
        value.params = params
        return value

    def __str__(self) -> "Text":
        # str(error) of an exception raised with a Text keeps it translatable (str() would copy it).
        return self

    def __getnewargs__(self) -> tuple[str, dict[str, Any]]:  # copy, deepcopy (dataclasses.asdict), pickle
        return self.template, self.params


class Grams(int):
    """A mass in grams that a message shows in kilograms: "34.600 kg" in English (the API, logs);
    the portal writes it in the user's language (34,600 кг)."""

    def __format__(self, _spec: str) -> str:
        return f"{int(self) / 1000:,.3f} kg"


def text(template: str, **params: Any) -> Text:
    """Make a message from a ``str.format`` template and its values (see the module docstring)."""
    return Text(template, params)


def joined(messages: Sequence[str]) -> str:
    """Join messages with "; " as ``"; ".join`` does, keeping each one translatable."""
    return reduce(lambda first, second: text("{first}; {second}", first=first, second=second), messages)


def listed(values: Sequence[Any]) -> str:
    """List values with ", " as ``", ".join`` does; a value that is a Text or an enum stays translatable."""
    return reduce(lambda first, second: text("{first}, {second}", first=first, second=second), values)
