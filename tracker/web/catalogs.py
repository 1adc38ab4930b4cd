"""The translation catalogs: extract the portal's text, update the Russian files, compile them.

Each catalog domain (see :data:`tracker.web.i18n.DOMAINS`) is fed by its own source
files, so the people working on different pages never edit the same ``.po`` file::

    python -m tracker.web.catalogs update            # extract, then merge into ru/*.po
    python -m tracker.web.catalogs update trader     # one domain only
    python -m tracker.web.catalogs compile           # .po -> .mo (bootstrap does this)
    python -m tracker.web.catalogs check             # exit 1 listing untranslated text
"""
from __future__ import annotations

import sys
from io import BytesIO
from pathlib import Path

from babel.messages.catalog import Catalog, Message
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

from tracker.web.i18n import DOMAINS, LANGUAGES, TRANSLATIONS

WEB = Path(__file__).resolve().parent
TRACKER = WEB.parent
TEMPLATES = WEB / "templates"
#: The languages that have catalogs (English is the source language).
TRANSLATED = [code for code in LANGUAGES if code != "en"]
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "lazy_gettext": None, "_l": None,
            "pgettext": ((1, "c"), 2), "lazy_pgettext": ((1, "c"), 2), "text": None, "N_": None}
OPTIONS = {"**.html": {"extensions": "jinja2.ext.do", "trimmed": "true"}}

#: Which files feed which domain: (folder, glob patterns relative to it).
SOURCES: dict[str, list[tuple[Path, tuple[str, ...]]]] = {
    "messages": [(WEB, ("app.py", "auth.py", "errors.py", "guards.py", "i18n.py", "labels.py", "portal/home.py",
                        "portal/search.py", "portal/navigation.py", "portal/pages.py", "portal/containers.py",
                        "portal/live.py", "templates/*.html", "portal/notifications*.py",
                        "templates/notifications/*.html", "notification_mail.py"))],
    "domain": [(TRACKER / "domain", ("*.py", "notifications/*.py"))],
    "trader": [(WEB, ("portal/trader*.py", "templates/trader/*.html"))],
    "officer": [(WEB, ("portal/officer*.py", "portal/alerts*.py", "templates/officer/*.html",
                       "templates/alerts/*.html"))],
    "admin": [(WEB, ("portal/admin*.py", "templates/admin/*.html"))],
    "declaration": [(WEB, ("portal/declarations*.py", "templates/declaration/*.html"))],
    "audit": [(WEB, ("portal/audit*.py", "templates/audit/*.html"))],
}


def source_files(domain: str) -> list[Path]:
    """List the files whose text belongs to ``domain``."""
    files: set[Path] = set()
    for folder, patterns in SOURCES[domain]:
        for pattern in patterns:
            files.update(p for p in folder.glob(pattern) if p.is_file())
    return sorted(files)


def extract(domain: str) -> Catalog:
    """Collect every translatable text of ``domain``'s files into a template catalog."""
    from babel.messages.extract import extract_from_file

    catalog = Catalog(project="mercury-tracking", domain=domain)
    for path in source_files(domain):
        method = "jinja2" if path.suffix == ".html" else "python"
        options = OPTIONS["**.html"] if method == "jinja2" else {}
        for lineno, message, comments, context in extract_from_file(
            method, str(path), keywords=KEYWORDS, options=options
        ):
            catalog.add(message, None, [(str(path.relative_to(TRACKER.parent)), lineno)],
                        auto_comments=comments, context=context)
    return catalog


def po_path(language: str, domain: str) -> Path:
    """Where ``domain``'s catalog for ``language`` lives."""
    return TRANSLATIONS / language / "LC_MESSAGES" / f"{domain}.po"


def read_catalog(path: Path, language: str, domain: str) -> Catalog:
    """Read a ``.po`` file, or start an empty catalog for it."""
    if not path.exists():
        return Catalog(locale=language, domain=domain, project="mercury-tracking")
    with path.open("rb") as fh:
        return read_po(fh, locale=language, domain=domain)


def update(domains: list[str]) -> None:
    """Extract each domain and merge it into its ``.po`` files (new text left untranslated)."""
    for domain in domains:
        template = extract(domain)
        for language in TRANSLATED:
            path = po_path(language, domain)
            catalog = read_catalog(path, language, domain)
            catalog.update(template, no_fuzzy_matching=True)
            path.parent.mkdir(parents=True, exist_ok=True)
            buffer = BytesIO()
            write_po(buffer, catalog, width=100, omit_header=False, ignore_obsolete=True,
                     sort_by_file=True)
            path.write_bytes(buffer.getvalue())
            print(f"{path.relative_to(TRACKER.parent)}: {len(catalog)} texts, "
                  f"{len(missing(catalog))} untranslated")


def untranslated_message(message: Message) -> bool:
    """Tell whether ``message`` lacks a (non-fuzzy) translation, in any of its plural forms."""
    strings = message.string if isinstance(message.string, tuple) else (message.string,)
    return message.fuzzy or not all(strings)


def missing(catalog: Catalog) -> list[str]:
    """List the texts of ``catalog`` without a (non-fuzzy) translation."""
    return [message.id if isinstance(message.id, str) else message.id[0]
            for message in catalog if message.id and untranslated_message(message)]


def compile_all() -> None:
    """Write a ``.mo`` beside every ``.po`` (what Flask-Babel reads)."""
    for language in TRANSLATED:
        for domain in DOMAINS:
            path = po_path(language, domain)
            if not path.exists():
                continue
            catalog = read_catalog(path, language, domain)
            with path.with_suffix(".mo").open("wb") as fh:
                write_mo(fh, catalog, use_fuzzy=False)


def untranslated(domains: list[str]) -> dict[str, list[str]]:
    """For each language and domain, the texts in the sources that its catalog does not translate."""
    gaps: dict[str, list[str]] = {}
    for domain in domains:
        template = extract(domain)
        for language in TRANSLATED:
            catalog = read_catalog(po_path(language, domain), language, domain)
            missing_here = []
            for message in template:
                if not message.id:
                    continue
                found = catalog.get(message.id, context=message.context)
                if found is None or untranslated_message(found):
                    missing_here.append(message.id if isinstance(message.id, str) else message.id[0])
            if missing_here:
                gaps[f"{language}/{domain}"] = missing_here
    return gaps


def main(argv: list[str] | None = None) -> int:
    """Run ``update``, ``compile`` or ``check`` (see the module docstring)."""
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] not in {"update", "compile", "check"}:
        print(__doc__, file=sys.stderr)
        return 2
    domains = args[1:] or list(DOMAINS)
    unknown = [d for d in domains if d not in SOURCES]
    if unknown:
        print(f"unknown domain {unknown[0]!r}; domains: {', '.join(SOURCES)}", file=sys.stderr)
        return 2
    if args[0] == "update":
        update(domains)
    elif args[0] == "compile":
        compile_all()
    else:
        gaps = untranslated(domains)
        for where, texts in gaps.items():
            for text in texts:
                print(f"{where}: untranslated: {text}")
        return 1 if gaps else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
