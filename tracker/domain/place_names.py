"""A checkpoint's name in the reader's language.

The licensing authority types a checkpoint's name in English (the source language: the API's,
the logs'), and its names in the portal's other languages beside it: ``names`` is
``{"ru": "Ошский таможенный пост", "ky": "Ош бажы бекети"}``. Every page, export and PDF names a
place through :func:`place_name`, so a Kyrgyz page shows no "Osh customs post"; a language
without a name of its own falls back to the English one.
"""
from __future__ import annotations

from typing import Any, Mapping, Protocol

from tracker.domain.text import Text, text

#: The language the ``name`` column is written in.
SOURCE_LANGUAGE = "en"
#: The longest name, in any language (the ``name`` column's length).
MAX_NAME_LENGTH = 120


class Named(Protocol):
    """Anything named as a checkpoint is: an English ``name`` and ``names`` per language."""

    name: str
    names: dict[str, str]


class PlaceName(str):
    """A checkpoint's English name in a domain message (the API's, the logs') that keeps its
    names in the other languages, so the portal shows the reader's; see :func:`named`."""

    names: dict[str, str]

    def __new__(cls, name: str, names: Mapping[str, str] | None = None) -> "PlaceName":
        value = super().__new__(cls, name)
        value.names = dict(names or {})
        return value

    def __getnewargs__(self) -> tuple[str, dict[str, str]]:  # copy, deepcopy, pickle
        return str(self), self.names

    @property
    def name(self) -> str:
        """The English name (what the string itself is)."""
        return str.__str__(self)


def named(place: Named) -> PlaceName:
    """Name ``place`` in a domain message: ``text("... {post}", post=named(checkpoint))``."""
    return PlaceName(place.name, place.names)


def place_name(place: Named | Mapping[str, Any] | None, language: str) -> str:
    """Name ``place`` in ``language``: its own name there, else the English one ("—" for none)."""
    if place is None:
        return "—"
    if isinstance(place, Mapping):  # a checkpoint as a report's row keeps it: {"name": ..., "names": ...}
        name, names = place["name"], place.get("names")
    else:
        name, names = place.name, place.names
    own = (names or {}).get(language) if language != SOURCE_LANGUAGE else None
    return str(own or name)


def cleaned_names(typed: Mapping[str, str]) -> dict[str, str]:
    """Keep the names typed per language with their spaces tidied; a blank one is no name."""
    return {language: " ".join(value.split()) for language, value in typed.items()
            if language != SOURCE_LANGUAGE and value and value.strip()}


def name_errors(names: Mapping[str, str]) -> dict[str, Text]:
    """Report each name too long for the ``name_<language>`` field it was typed in."""
    return {f"name_{language}": text("1\u2013{length} characters", length=MAX_NAME_LENGTH)
            for language, value in names.items() if len(value) > MAX_NAME_LENGTH}
