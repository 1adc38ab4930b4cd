"""Signing in and out, loading the current user, and guarding views by role."""
from __future__ import annotations

import time
from functools import wraps
from typing import Any, Callable, TypeVar

from flask import (
    Blueprint,
    current_app,
    Flask,
    abort,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext
from flask_login import (
    LoginManager,
    current_user,
    login_required,
    login_user,
    logout_user,
)
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from tracker.domain.access import Action, may
from tracker.domain.users import authenticate
from tracker.models import User
from tracker.web.database import get_session
from tracker.web.errors import error_response, wants_json

bp = Blueprint("auth", __name__)
login_manager = LoginManager()
F = TypeVar("F", bound=Callable[..., Any])


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
    """The sign-in form."""

    login = StringField("Login", validators=[DataRequired(), Length(max=64)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=256)])


def init_app(app: Flask) -> None:
    """Set up Flask-Login and register the sign-in pages."""
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    # "basic", not "strong": officers' phones change IP on mobile networks.
    login_manager.session_protection = "basic"
    app.register_blueprint(bp)
    app.before_request(_end_idle_session)


#: How finely the idle timeout is kept (seconds): the session's time is rewritten no more often.
SEEN_RESOLUTION_S = 60


def clock() -> float:
    """The current time in seconds (a function, so tests can move the session's clock alone)."""
    return time.time()


def _end_idle_session():  # type: ignore[no-untyped-def]
    """Sign out a session idle for longer than the configured timeout (SESSION_TIMEOUT_MINUTES).

    The cookie's own expiry is the browser's to keep; this check is the server's.
    """
    if "_user_id" not in session:
        return None
    now = int(clock())
    limit = int(current_app.permanent_session_lifetime.total_seconds())
    seen = session.get("seen")
    if isinstance(seen, int) and now - seen > limit:
        logout_user()
        session.clear()
        if wants_json():
            return error_response(401, "unauthorized", "the session timed out; sign in again")
        flash(gettext("Your session timed out. Please sign in again."), "info")
        return redirect(url_for("auth.login", next=request.path))
    if not isinstance(seen, int) or now - seen >= SEEN_RESOLUTION_S:
        session["seen"] = now  # rewritten at most once a minute: each write re-signs the cookie
    return None


@login_manager.user_loader
def _load_user(user_id: str) -> LoginUser | None:
    user = get_session().get(User, int(user_id)) if user_id.isdigit() else None
    return LoginUser(user) if user is not None and user.active else None


@login_manager.unauthorized_handler
def _unauthorized():  # type: ignore[no-untyped-def]
    if wants_json():
        return error_response(401, "unauthorized", "sign in first")
    return redirect(url_for("auth.login", next=request.path))


def acting_user() -> User:
    """Return the signed-in :class:`User` of this request."""
    return current_user.user  # type: ignore[no-any-return]


def sign_in(user: User) -> None:
    """Start a session for ``user`` (permanent, so the configured timeout applies)."""
    session.clear()
    session.permanent = True
    login_user(LoginUser(user))


def requires(action: Action) -> Callable[[F], F]:
    """Guard a view: signed in, and the user's role allows ``action`` (else 403)."""

    def decorate(view: F) -> F:
        @wraps(view)
        @login_required
        def guarded(*args: Any, **kwargs: Any) -> Any:
            if not may(acting_user(), action):
                abort(403, description=f"your role may not {action.value.replace('_', ' ')}")
            return view(*args, **kwargs)

        return guarded  # type: ignore[return-value]

    return decorate


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return url_for("portal.home")


@bp.route("/login", methods=["GET", "POST"])
def login():  # type: ignore[no-untyped-def]
    """Show the sign-in form and sign the user in."""
    form = LoginForm()
    if form.validate_on_submit():
        db = get_session()
        user = authenticate(db, form.login.data or "", form.password.data or "")
        if user is not None:
            db.commit()
            sign_in(user)
            return redirect(_safe_next(request.args.get("next")))
        flash(gettext("Unknown login or wrong password."), "error")
        return render_template("login.html", form=form), 401
    return render_template("login.html", form=form)


@bp.post("/logout")
@login_required
def logout():  # type: ignore[no-untyped-def]
    """End the session."""
    logout_user()
    session.clear()
    flash(gettext("You are signed out."), "info")
    return redirect(url_for("auth.login"))
