"""The portal's languages, time zones and number formats (Flask-Babel).

Text is English in the source; Russian and Kyrgyz (the state language) are in
``tracker/translations/ru`` and ``tracker/translations/ky``. The catalog is
split into one domain per part of the portal (see :data:`DOMAINS`), so each part keeps
its own ``.po`` file; Flask-Babel merges them. ``python -m tracker.web.catalogs`` extracts,
updates and compiles them.

A user's language is, in order: the one saved on the user, the one chosen in this
session (before sign-in), the browser's Accept-Language, English. Times are stored in
UTC and shown in the user's time zone, or the configured ``TIME_ZONE`` (Asia/Bishkek).
"""
from __future__ import annotations

from datetime import date, datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from babel.numbers import format_decimal
from flask import Blueprint, Flask, abort, g, has_request_context, redirect, render_template, request, session
from flask_babel import Babel, LazyString, format_date, format_datetime, get_locale, gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from tracker.web.database import get_session
from tracker.web.redirects import safe_path

#: The portal's languages: code -> name in that language (shown in the switcher).
LANGUAGES = {"en": "English", "ru": "Русский", "ky": "Кыргызча"}
#: Catalog domains, one ``.po`` file each under tracker/translations/<lang>/LC_MESSAGES.
DOMAINS = ("messages", "domain", "trader", "officer", "admin", "declaration", "audit")
TRANSLATIONS = Path(__file__).resolve().parent.parent / "translations"
GRAMS_PER_KG = 1000
_KG, _G = _l("%(value)s kg"), _l("%(value)s g")

bp = Blueprint("i18n", __name__)
babel = Babel()


def init_app(app: Flask) -> None:
    """Set up Flask-Babel, the formatting filters and the language switch."""
    settings = app.config["SETTINGS"]
    app.config.setdefault("BABEL_DEFAULT_LOCALE", "en")
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", settings.time_zone)
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = ";".join([str(TRANSLATIONS)] * len(DOMAINS))
    app.config["BABEL_DOMAIN"] = ";".join(DOMAINS)
    babel.init_app(app, locale_selector=select_language, timezone_selector=select_time_zone)
    app.register_blueprint(bp)
    app.add_template_filter(kg, "kg")
    app.add_template_filter(grams, "grams")
    app.add_template_filter(when, "when")
    app.add_template_filter(when, "utc")  # the name earlier templates used
    app.add_template_filter(day, "day")
    app.add_template_filter(number, "number")
    app.add_template_global(LANGUAGES, "LANGUAGES")
    app.add_template_global(current_language, "current_language")
    app.add_template_global(time_zone_name, "time_zone_name")


def _signed_in_user():  # type: ignore[no-untyped-def]
    if current_user and getattr(current_user, "is_authenticated", False):
        return current_user.user
    return None


def select_language() -> str:
    """Choose the request's language (user's, session's, browser's, English)."""
    user = _signed_in_user()
    if user is not None and user.language in LANGUAGES:
        return str(user.language)
    if session.get("language") in LANGUAGES:
        return str(session["language"])
    return request.accept_languages.best_match(list(LANGUAGES)) or "en"


def select_time_zone() -> str | None:
    """Choose the request's time zone (the user's, else Flask-Babel's default)."""
    user = _signed_in_user()
    return user.time_zone if user is not None and user.time_zone else None


def current_language() -> str:
    """Return the language code of this request ("en", "ru" or "ky")."""
    return str(get_locale() or "en")


def time_zone_name() -> str:
    """Return the IANA name of the time zone this request shows times in."""
    user = _signed_in_user()
    if user is not None and user.time_zone:
        return str(user.time_zone)
    from flask import current_app

    return str(current_app.config["BABEL_DEFAULT_TIMEZONE"])


def is_time_zone(name: str) -> bool:
    """Tell whether ``name`` is an IANA time zone this machine knows."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return name in available_timezones() or name == "UTC"


def translated(message: str | LazyString) -> str:
    """Translate a constant message (or a ``lazy_gettext`` one), once per request.

    A long page repeats the same words on every row: a busy post's day lists hundreds of
    events, and each gettext call costs more than the dictionary look-up that replaces it.
    """
    if isinstance(message, LazyString):
        if message._kwargs or len(message._args) != 1:  # with values, or with a context (lazy_pgettext)
            return str(message)
        message = message._args[0]
    if not has_request_context():
        return gettext(message)
    cache = g.setdefault("translated_once", {})
    if message not in cache:
        cache[message] = gettext(message)
    return cache[message]


def kg(grams_: int | None) -> str:
    """Show a mass in grams as kilograms with gram precision, per language (34.500 kg, 34,500 кг)."""
    if grams_ is None:
        return "—"
    value = format_decimal(grams_ / GRAMS_PER_KG, format="#,##0.000", locale=current_language())
    return translated(_KG) % {"value": value}


def grams(grams_: int | None) -> str:
    """Show a mass in grams with the language's digit grouping (34 500 g)."""
    if grams_ is None:
        return "—"
    return translated(_G) % {"value": format_decimal(grams_, locale=current_language())}


def number(value: float | int | None, digits: int = 0) -> str:
    """Show a number with the language's separators and ``digits`` decimals."""
    if value is None:
        return "—"
    pattern = "#,##0" + ("." + "0" * digits if digits else "")
    return format_decimal(value, format=pattern, locale=current_language())


def when(moment: datetime | None, style: str = "medium") -> str:
    """Show a UTC timestamp in the user's time zone, formatted per language.

    ``style`` is "medium" (date and seconds), "short" (date and minutes) or "time" (hours and
    minutes only, for a list whose day is said once, such as the events recorded today).
    """
    if moment is None:
        return "—"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    if style == "time":
        return format_datetime(moment, "HH:mm")
    pattern = "dd.MM.yyyy HH:mm" if style == "short" else "dd.MM.yyyy HH:mm:ss"
    if current_language() == "en":
        pattern = "yyyy-MM-dd HH:mm" if style == "short" else "yyyy-MM-dd HH:mm:ss"
    return format_datetime(moment, pattern)


def day(value: date | datetime | None) -> str:
    """Show a date per language (25 Nov 2026, 25 нояб. 2026 г.)."""
    if value is None:
        return "—"
    return format_date(value, "medium")


#: Time zones offered first on the preferences page (any IANA name is accepted).
COMMON_TIME_ZONES = ("Asia/Bishkek", "Asia/Almaty", "Asia/Tashkent", "Asia/Dushanbe", "Europe/Moscow", "UTC")


@bp.get("/preferences")
def preferences():  # type: ignore[no-untyped-def]
    """Show the language and time-zone choices (time zone for signed-in users)."""
    return render_template("preferences.html", zones=COMMON_TIME_ZONES, signed_in=_signed_in_user() is not None,
                           now=datetime.now(timezone.utc))


@bp.post("/preferences/language")
def set_language():  # type: ignore[no-untyped-def]
    """Switch the portal's language; saved on the user when signed in, else in the session."""
    language = request.form.get("language", "")
    if language not in LANGUAGES:
        abort(400, description=f"unknown language {language!r}; choose one of {', '.join(LANGUAGES)}")
    session["language"] = language
    user = _signed_in_user()
    if user is not None:
        user.language = language
        get_session().commit()
    return redirect(safe_path(request.form.get("next"), "/"))


@bp.post("/preferences/time-zone")
def set_time_zone():  # type: ignore[no-untyped-def]
    """Save the signed-in user's time zone (an IANA name such as Asia/Bishkek)."""
    user = _signed_in_user()
    if user is None:
        abort(401, description="sign in first")
    name = request.form.get("time_zone", "").strip()
    if not is_time_zone(name):
        abort(400, description=f"{name!r} is not a time zone such as Asia/Bishkek")
    user.time_zone = name
    get_session().commit()
    return redirect(safe_path(request.form.get("next"), "/"))
