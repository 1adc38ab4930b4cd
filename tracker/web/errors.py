"""Errors as JSON under /api and as pages elsewhere; never a stack trace."""
from __future__ import annotations

import logging

from flask import Flask, Response, g, jsonify, make_response, render_template, request
from flask_babel import LazyString
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from flask_login import AnonymousUserMixin
from sqlalchemy.exc import DataError, IntegrityError, InterfaceError, OperationalError
from werkzeug.exceptions import HTTPException

from tracker.domain.errors import (
    Conflict,
    DomainError,
    Forbidden,
    NotFound,
    ValidationFailed,
)

log = logging.getLogger(__name__)

#: What a page says for an HTTP error that brings no reason of its own: werkzeug's and Flask-WTF's are
#: English (the API keeps them, its messages are English).
PAGE_REASONS: dict[int, LazyString] = {
    400: _l("The form could not be used: reload the page and try again."),
    403: _l("You may not open this page."),
    404: _l("Nothing is here: the address is wrong, or what it leads to is not yours to see."),
    405: _l("This page does not take that kind of request."),
    413: _l("What was sent is too large."),
}

DOMAIN_STATUS: dict[type[DomainError], int] = {
    NotFound: 404, Forbidden: 403, Conflict: 409, ValidationFailed: 422,
}


def wants_json() -> bool:
    """Tell whether the request is for the API (JSON errors) rather than a page."""
    return request.path.startswith("/api/")


def error_response(status: int, code: str, message: str, **extra: object) -> tuple[Response, int]:
    """Return the JSON error body ``{"error": code, "message": text}`` with ``status``."""
    return jsonify({"error": code, "message": message, **extra}), status


def _render(status: int, code: str, message: str, **extra: object):  # type: ignore[no-untyped-def]
    if wants_json():
        return error_response(status, code, message, **extra)
    return render_template("error.html", status=status, message=message), status


def _domain_error(exc: DomainError):  # type: ignore[no-untyped-def]
    extra = {"fields": exc.errors} if isinstance(exc, ValidationFailed) else {}
    extra.update(getattr(exc, "extra", {}))  # e.g. the custody check's reasons, one by one
    status = next((s for kind, s in DOMAIN_STATUS.items() if isinstance(exc, kind)), 400)
    return _render(status, exc.code, exc.message, **extra)


def _reason(exc: HTTPException) -> str:
    """The error's reason; on a page, in the user's language where the reason is the library's English."""
    reason = exc.description or exc.name
    if wants_json() or exc.code not in PAGE_REASONS:
        return reason
    if isinstance(exc, CSRFError) or reason == type(exc).description:
        return str(PAGE_REASONS[exc.code])
    return reason


def _http_error(exc: HTTPException) -> Response:
    """Answer an HTTP error in the error format, keeping its headers (Allow on a 405)."""
    code = (exc.name or "error").lower().replace(" ", "_")
    extra = {"fields": exc.fields} if isinstance(getattr(exc, "fields", None), dict) else {}
    response = make_response(_render(exc.code or 500, code, _reason(exc), **extra))
    for name, value in exc.get_headers():
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


def _integrity_error(exc: IntegrityError):  # type: ignore[no-untyped-def]
    log.warning("integrity error: %s", exc.orig)
    return _render(409, "conflict", "the change conflicts with existing records")


def _out_of_range(exc: Exception):  # type: ignore[no-untyped-def]
    """A number past its column that no parser caught (the database or its driver refused it)."""
    log.warning("number out of range on %s %s: %s", request.method, request.path, exc)
    return _render(422, "validation_failed", "a number is too large for its field", fields={})


#: Seconds a client is asked to wait before trying again while the database is unreachable.
RETRY_AFTER_S = 5


def _database_unavailable(exc: Exception) -> Response:
    """The database did not answer (restart, failover, network): nothing was done, try again."""
    log.warning("database unavailable on %s %s: %s", request.method, request.path, exc)
    g._login_user = AnonymousUserMixin()  # Flask-Login's per-request user: the page must not ask the database
    response = make_response(_render(503, "database_unavailable",
                                     "the database is not answering; nothing was changed, try again shortly"))
    response.headers["Retry-After"] = str(RETRY_AFTER_S)
    return response


def _unexpected(exc: Exception):  # type: ignore[no-untyped-def]
    log.exception("unhandled error on %s %s", request.method, request.path)
    return _render(500, "internal_error", "an unexpected error occurred; it has been logged")


def init_app(app: Flask) -> None:
    """Register the error handlers."""
    app.register_error_handler(DomainError, _domain_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(IntegrityError, _integrity_error)
    app.register_error_handler(DataError, _out_of_range)  # PostgreSQL: numeric value out of range
    app.register_error_handler(OverflowError, _out_of_range)  # SQLite's driver: int too large
    app.register_error_handler(OperationalError, _database_unavailable)
    app.register_error_handler(InterfaceError, _database_unavailable)
    app.register_error_handler(Exception, _unexpected)
