"""The translation catalogs agree with each other: one English text has one Russian translation.

The portal merges every catalog domain into one set of translations, so when two parts of it
translate the same English differently, whichever loads last wins everywhere (the menu would
suddenly say something else than the page it opens).
"""
from __future__ import annotations

from collections import defaultdict

from tracker.web.catalogs import TRANSLATED, po_path, read_catalog
from tracker.web.i18n import DOMAINS


def test_one_english_text_has_one_translation_in_every_catalog() -> None:
    for language in TRANSLATED:
        translations: dict[tuple[str, str | None], dict[str, str]] = defaultdict(dict)
        for domain in DOMAINS:
            path = po_path(language, domain)
            if not path.exists():
                continue
            for message in read_catalog(path, language, domain):
                if message.id and message.string:
                    english = message.id if isinstance(message.id, str) else message.id[0]
                    translations[(english, message.context)][domain] = str(message.string)
        clashes = {english: by_domain for (english, _), by_domain in translations.items()
                   if len(set(by_domain.values())) > 1}
        assert clashes == {}, f"{language}: texts translated differently by different catalogs: {clashes}"
