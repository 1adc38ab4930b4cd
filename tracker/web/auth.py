"""Signing in and out, loading the current user, and guarding views by role.

A session is a row on the server (:mod:`tracker.domain.sessions`); the signed cookie
carries its secret. Each request looks it up, so sign-out, a password reset or a
deactivation ends every copy of the cookie at once; a session also ends after
SESSION_TIMEOUT_MINUTES without a request and SESSION_LIFETIME_HOURS after sign-in.
Sign-in is limited per account in the database (:mod:`tracker.domain.sign_in`) and per
address with Flask-Limiter; a refused attempt is answered 429 with Retry-After.
"""
from __future__ import annotations

import math
import time
from datetime import datetime, timedelta, timezone
from functools import wraps
from typing import Any, Callable, TypeVar

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
    flash,
    g,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext, ngettext
from flask_limiter import Limiter, RateLimitExceeded, RequestLimit
from flask_limiter.util import get_remote_address
from flask_login import LoginManager, current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from werkzeug.middleware.proxy_fix import ProxyFix
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired

from tracker.domain.access import Action, may
from tracker.domain.sessions import SessionEnd, SessionPolicy, check_session, end_all_sessions, open_session
from tracker.domain.sign_in import SignInLimit, SignInOutcome, attempt_sign_in
from tracker.models import User, UserSession
from tracker.web.database import get_session
from tracker.web.errors import error_response, wants_json
from tracker.web.redirects import safe_path

bp = Blueprint("auth", __name__)
login_manager = LoginManager()
limiter = Limiter(key_func=get_remote_address, storage_uri=None)
F = TypeVar("F", bound=Callable[..., Any])
#: The responses that count against an address: wrong password, or refused as limited.
FAILED_SIGN_IN = (401, 429)


class LoginUser:
    """Flask-Login's view of a :class:`User`, so the model stays free of Flask."""

    def __init__(self, user: User) -> None:
        self.user = user

    is_authenticated = True
    is_anonymous = False

    @property
    def is_active(self) -> bool:
        return self.user.active

    def get_id(self) -> str:
        return str(self.user.id)


class LoginForm(FlaskForm):
    """The sign-in form (lengths are the sign-in's to judge: a long guess is a failed attempt)."""

    login = StringField("Login", validators=[DataRequired()])
    password = PasswordField("Password", validators=[DataRequired()])


def init_app(app: Flask) -> None:
    """Set up Flask-Login, the per-address limit and the sign-in pages."""
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    # "basic", not "strong": officers' phones change IP on mobile networks.
    login_manager.session_protection = "basic"
    settings = app.config["SETTINGS"]
    if settings.trusted_proxies:  # else every client behind the proxy would share one address's limit
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.trusted_proxies)  # type: ignore[method-assign]
    app.config.setdefault("RATELIMIT_STORAGE_URI", settings.rate_limit_storage_uri)
    limiter.init_app(app)
    app.register_error_handler(RateLimitExceeded, _limited_answer)
    app.register_blueprint(bp)
    app.before_request(_end_ended_session)
    app.after_request(_no_store_when_private)


def clock() -> float:
    """The current time in seconds (a function, so tests can move the session's clock alone)."""
    return time.time()


def now() -> datetime:
    """The current time as an aware UTC datetime, by :func:`clock`."""
    return datetime.fromtimestamp(clock(), timezone.utc)


def session_policy() -> SessionPolicy:
    """The configured idle timeout and absolute lifetime of a session."""
    settings = current_app.config["SETTINGS"]
    return SessionPolicy(idle=current_app.permanent_session_lifetime,
                         lifetime=timedelta(hours=settings.session_lifetime_hours))


def sign_in_limit() -> SignInLimit:
    """The configured limit of failed sign-ins per account."""
    settings = current_app.config["SETTINGS"]
    return SignInLimit(failures=settings.sign_in_max_failures,
                       window=timedelta(minutes=settings.sign_in_lock_minutes))


#: The header live.js sends when a page fetches itself again to show what changed.
BACKGROUND_HEADER = "X-Mercury-Live"


def by_itself() -> bool:
    """Return whether this request is a page updating itself (its live stream or a refresh), not a person."""
    return request.endpoint == "portal.live" or request.headers.get(BACKGROUND_HEADER) == "1"


def _live_session() -> UserSession | SessionEnd | None:
    """This request's session row, or why it ended, or None when nobody signed in (once per request)."""
    if "live_session" not in g:
        secret, user_id = session.get("sid"), session.get("_user_id")
        if user_id is None:
            g.live_session = None
        elif not isinstance(secret, str):
            g.live_session = SessionEnd.ENDED  # a cookie from before server-side sessions
        else:
            g.live_session = _checked(secret, str(user_id))
    return g.live_session  # type: ignore[no-any-return]


def _checked(secret: str, user_id: str) -> UserSession | SessionEnd:
    """Check the session behind ``secret`` belongs to ``user_id``; keep what the check changed."""
    db = get_session()
    result = check_session(db, secret, now(), session_policy(), renew=not by_itself())
    if db.dirty or db.deleted:
        db.commit()
    if isinstance(result, UserSession) and str(result.user_id) != user_id:
        return SessionEnd.ENDED
    return result


def _end_ended_session():  # type: ignore[no-untyped-def]
    """Sign out a session that has ended (signed out elsewhere, reset, deactivated, timed out)."""
    if request.endpoint == "static":
        return None  # a stylesheet reveals nothing; no database work for it
    ended = _live_session()
    if not isinstance(ended, SessionEnd):
        return None
    logout_user()
    session.clear()
    timed_out = ended in (SessionEnd.IDLE, SessionEnd.EXPIRED)
    if wants_json():
        return error_response(401, "unauthorized", "the session timed out; sign in again" if timed_out
                              else "the session has ended; sign in again")
    flash(gettext("Your session timed out. Please sign in again.") if timed_out
          else gettext("Your session has ended. Please sign in again."), "info")
    return redirect(url_for("auth.login", next=request.path))


def _no_store_when_private(response: Response) -> Response:
    """Tell browsers and proxies to keep no copy of a signed-in user's page or of any API answer."""
    if request.endpoint == "static":
        return response
    # The cookie's claim is enough (no database work here, which also runs after a failed request).
    if request.path.startswith("/api/") or "_user_id" in session:
        response.headers["Cache-Control"] = "no-store"
    return response


@login_manager.user_loader
def _load_user(user_id: str) -> LoginUser | None:
    live = _live_session()
    if not isinstance(live, UserSession) or str(live.user_id) != user_id or not live.user.active:
        return None
    return LoginUser(live.user)


@login_manager.unauthorized_handler
def _unauthorized():  # type: ignore[no-untyped-def]
    if wants_json():
        return error_response(401, "unauthorized", "sign in first")
    return redirect(url_for("auth.login", next=request.path))


def acting_user() -> User:
    """Return the signed-in :class:`User` of this request."""
    return current_user.user  # type: ignore[no-any-return]


def sign_in(user: User) -> None:
    """Start a server-side session for ``user`` and put its secret in the (permanent) cookie."""
    db = get_session()
    secret = open_session(db, user, now(), session_policy(), request.remote_addr)
    db.commit()
    session.clear()
    session.permanent = True
    session["sid"] = secret
    login_user(LoginUser(user))


def sign_out() -> None:
    """End every session of the signed-in user, here and on every other device."""
    db = get_session()
    end_all_sessions(db, acting_user())
    db.commit()
    logout_user()
    session.clear()


def try_sign_in(login: str, password: str) -> SignInOutcome:
    """Check a login and password from this request's address against the limits; record the attempt."""
    db = get_session()
    outcome = attempt_sign_in(db, login, password, now=now(), address=request.remote_addr, limit=sign_in_limit())
    db.commit()
    return outcome


def too_many_attempts(retry_after: int) -> Response:
    """Answer a refused sign-in: 429 with Retry-After, saying nothing of whether the account exists."""
    minutes = max(1, math.ceil(retry_after / 60))
    if wants_json():
        response, _ = error_response(429, "too_many_requests",
                                     f"too many failed sign-ins; try again in {retry_after} s")
    else:
        page = render_template("login.html", form=LoginForm(), limited=ngettext(
            "Too many failed sign-ins. Try again in %(num)d minute.",
            "Too many failed sign-ins. Try again in %(num)d minutes.", minutes))
        response = make_response(page)
    response.status_code = 429
    response.headers["Retry-After"] = str(retry_after)
    return response


def _limited_answer(exc: RateLimitExceeded) -> Response:
    """Answer with the response :func:`_address_breached` made (the generic error page would drop Retry-After)."""
    return exc.get_response()


def _address_breached(limit: RequestLimit) -> Response:
    """Flask-Limiter's answer when one address has failed too often (any login)."""
    return too_many_attempts(max(1, limit.reset_at - int(time.time())))


#: Decorates the sign-in views: failed attempts (401, 429) per address, SIGN_IN_ADDRESS_LIMIT.
limit_failed_sign_ins = limiter.limit(
    lambda: current_app.config["SETTINGS"].sign_in_address_limit, methods=["POST"],
    deduct_when=lambda response: response.status_code in FAILED_SIGN_IN, on_breach=_address_breached)


def refusal(action: Action) -> str:
    """Say that the user's role may not do ``action``: English for the API (its messages are), else translated."""
    if wants_json():
        return f"your role may not {action.value.replace('_', ' ')}"
    return gettext("Your role may not do this.")


def requires(action: Action) -> Callable[[F], F]:
    """Guard a view: signed in, and the user's role allows ``action`` (else 403)."""

    def decorate(view: F) -> F:
        @wraps(view)
        @login_required
        def guarded(*args: Any, **kwargs: Any) -> Any:
            if not may(acting_user(), action):
                abort(403, description=refusal(action))
            return view(*args, **kwargs)

        return guarded  # type: ignore[return-value]

    return decorate


@bp.route("/login", methods=["GET", "POST"])
@limit_failed_sign_ins
def login():  # type: ignore[no-untyped-def]
    """Show the sign-in form and sign the user in."""
    form = LoginForm()
    if request.method == "POST" and not form.validate_on_submit():
        flash(gettext("Enter your login and password."), "error")
        return render_template("login.html", form=form), 400
    if request.method == "GET":
        return render_template("login.html", form=form)
    outcome = try_sign_in(form.login.data or "", form.password.data or "")
    if outcome.retry_after:
        return too_many_attempts(outcome.retry_after)
    if outcome.user is None:
        flash(gettext("Unknown login or wrong password."), "error")
        return render_template("login.html", form=form), 401
    sign_in(outcome.user)
    return redirect(safe_path(request.args.get("next"), url_for("portal.home")))


@bp.post("/logout")
@login_required
def logout():  # type: ignore[no-untyped-def]
    """End the session, and every other session of this user."""
    sign_out()
    flash(gettext("You are signed out."), "info")
    return redirect(url_for("auth.login"))
