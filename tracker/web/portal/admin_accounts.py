"""Users and devices: accounts, beacons and checkpoint stations, with the secrets shown once.

A generated password or a device token is shown on the page that answers the POST and
nowhere else: it is not put in the session or a redirect, and only its hash is stored.
"""
from __future__ import annotations

from flask import Response, abort, flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext
from sqlalchemy import select

from datetime import timedelta

from tracker.domain import account_events, accounts
from tracker.domain.device_traffic import traffic_by_beacon
from tracker.domain.sessions import live_sessions
from tracker.domain.access import Action, may
from tracker.domain.devices import (
    IMEI_IDENTIFIED,
    issue_station_token,
    register_beacon,
    revoke_device_token,
    set_allowed_networks,
)
from tracker.domain.errors import Conflict, NotFound, ValidationFailed
from tracker.domain.tokens import issue_token
from tracker.models import HOME_COUNTRY, Beacon, BeaconProtocol, Checkpoint, Dealer, DeviceToken, Role, User, utcnow
from tracker.web.auth import acting_user, now, requires, session_policy
from tracker.web.database import get_session
from tracker.web.guards import optional_row_id
from tracker.web.labels import label, place
from tracker.web.portal.admin_forms import domestic_dealers, int_field, readers_only, text_field
from tracker.web.portal.blueprint import bp
from tracker.web.portal.pages import paginate


def _shown_once(page: str, status: int) -> Response:
    """Answer with a page that carries a secret, telling browsers and proxies not to keep it."""
    response = make_response(page, status)
    response.headers["Cache-Control"] = "no-store"
    return response


#: The administrator's lists count failed sign-ins over this period.
FAILURES_PERIOD = timedelta(hours=24)
#: How many of the latest failed sign-ins (any login) the users page lists.
RECENT_FAILURES = 10


# ---------------------------------------------------------------- users
def _users_page(errors: dict[str, str] | None = None, secret: tuple[User, str] | None = None,
                failed: str = ""):  # type: ignore[no-untyped-def]
    db = get_session()
    page = paginate(db, select(User).order_by(User.active.desc(), User.login))
    checkpoints = db.scalars(select(Checkpoint).order_by(Checkpoint.code))
    return render_template(
        "admin/users.html", page=page, role_options=[(r.value, label(r)) for r in Role],
        dealer_options=domestic_dealers(db), checkpoint_options=[(c.id, f"{c.code} — {place(c)}") for c in checkpoints],
        errors=errors or {}, failed=failed, secret=secret, me=acting_user(),
        can_manage=may(acting_user(), Action.MANAGE_USERS),
        failures=account_events.failures_since(db, utcnow() - FAILURES_PERIOD),
        recent_failures=list(db.scalars(account_events.failed_sign_ins_query().limit(RECENT_FAILURES))))


def _history_page(user_id: int, errors: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    db = get_session()
    user = db.get(User, user_id)
    if user is None:
        abort(404)
    checkpoints = db.scalars(select(Checkpoint).order_by(Checkpoint.code))
    return render_template(
        "admin/user_history.html", user=user, page=paginate(db, account_events.history_query(user)),
        sessions=live_sessions(db, user, now(), session_policy()), roles={r.value: label(r) for r in Role},
        failures=account_events.failures_since(db, utcnow() - FAILURES_PERIOD).get(user.login, 0),
        role_options=[(r.value, label(r)) for r in Role], dealer_options=domestic_dealers(db),
        checkpoint_options=[(c.id, f"{c.code} — {place(c)}") for c in checkpoints], errors=errors or {},
        me=acting_user(), can_manage=may(acting_user(), Action.MANAGE_USERS))


@bp.get("/users/<int:user_id>/history")
@readers_only
def user_history(user_id: int):  # type: ignore[no-untyped-def]
    """Show one account's audit trail: what administrators did to it and every sign-in attempt."""
    return _history_page(user_id)


@bp.post("/users/<int:user_id>/role")
@requires(Action.MANAGE_USERS)
def change_user_role(user_id: int):  # type: ignore[no-untyped-def]
    """Give an account another role, with its dealer (traders) or checkpoints (customs officers)."""
    errors: dict[str, str] = {}
    dealer_id = int_field("dealer_id", errors, required=False)
    checkpoint_ids = [int(v) for v in request.form.getlist("checkpoint_ids") if v.isdigit()]
    db = get_session()
    try:
        if errors:
            raise ValidationFailed(errors)
        user = accounts.change_role(db, acting_user(), user_id, text_field("role"), dealer_id, checkpoint_ids)
    except ValidationFailed as exc:
        db.rollback()
        return _history_page(user_id, exc.errors), 400
    except Conflict as exc:
        db.rollback()
        return _history_page(user_id, {"role": exc.message}), 409
    db.commit()
    flash(gettext("%(login)s is now: %(role)s.", login=user.login, role=label(user.role)), "success")
    return redirect(url_for("portal.user_history", user_id=user.id))


@bp.get("/users")
@readers_only
def users():  # type: ignore[no-untyped-def]
    """List the accounts; the licensing authority also opens, deactivates and resets them."""
    return _users_page()


@bp.post("/users")
@requires(Action.MANAGE_USERS)
def create_user():  # type: ignore[no-untyped-def]
    """Open an account; a password left empty is generated and shown once."""
    errors: dict[str, str] = {}
    checkpoint_ids = [i for v in request.form.getlist("checkpoint_ids") if (i := optional_row_id(v))]
    data = accounts.AccountInput(
        login=text_field("login"), name=text_field("name"), role=text_field("role"),
        password=request.form.get("password", ""), dealer_id=int_field("dealer_id", errors, required=False),
        checkpoint_ids=checkpoint_ids)
    db = get_session()
    try:
        if errors:
            raise ValidationFailed(errors)
        user, generated = accounts.open_account(db, acting_user(), data)
    except ValidationFailed as exc:
        db.rollback()
        return _users_page(exc.errors, failed="create"), 400
    db.commit()
    if generated is None:
        flash(gettext("Account %(login)s opened with the password you set.", login=user.login), "success")
        return redirect(url_for("portal.users"))
    return _shown_once(_users_page(secret=(user, generated)), 201)


@bp.post("/users/<int:user_id>/active")
@requires(Action.MANAGE_USERS)
def set_user_active(user_id: int):  # type: ignore[no-untyped-def]
    """Deactivate or reactivate an account (nobody deactivates themselves)."""
    db = get_session()
    active = text_field("active") == "yes"
    try:
        user = accounts.set_active(db, acting_user(), user_id, active)
    except Conflict as exc:
        db.rollback()
        return _users_page({"active": exc.message}, failed=f"user-{user_id}"), 409
    db.commit()
    flash(gettext("%(login)s can sign in again.", login=user.login) if active
          else gettext("%(login)s can no longer sign in.", login=user.login), "success")
    return redirect(url_for("portal.users"))


@bp.post("/users/<int:user_id>/password")
@requires(Action.MANAGE_USERS)
def reset_password(user_id: int):  # type: ignore[no-untyped-def]
    """Give an account a new password: the one typed, or a generated one shown once."""
    db = get_session()
    try:
        user, generated = accounts.reset_password(db, acting_user(), user_id, request.form.get("password", ""))
    except ValidationFailed as exc:
        db.rollback()
        return _users_page(exc.errors, failed=f"user-{user_id}"), 400
    db.commit()
    if generated is None:
        flash(gettext("The password of %(login)s was changed.", login=user.login), "success")
        return redirect(url_for("portal.users"))
    return _shown_once(_users_page(secret=(user, generated)), 200)


# ---------------------------------------------------------------- devices
def _devices_page(errors: dict[str, str] | None = None, token: tuple[DeviceToken, str] | None = None,
                  failed: str = ""):  # type: ignore[no-untyped-def]
    db = get_session()
    beacons = list(db.scalars(select(Beacon).order_by(Beacon.device_id)))
    return render_template(
        "admin/devices.html", beacons=beacons, traffic=traffic_by_beacon(db, [b.id for b in beacons]),
        stations=list(db.scalars(select(DeviceToken).where(DeviceToken.checkpoint_id.is_not(None))
                                 .order_by(DeviceToken.revoked_at.is_not(None), DeviceToken.id.desc()))),
        owner_options=[(d.taxpayer_number, d.legal_name) for d in db.scalars(
            select(Dealer).where(Dealer.country == HOME_COUNTRY).order_by(Dealer.legal_name))],
        checkpoint_options=[(c.code, f"{c.code} — {place(c)}")
                            for c in db.scalars(select(Checkpoint).order_by(Checkpoint.code))],
        protocol_options=[(p.value, p.value) for p in BeaconProtocol], errors=errors or {}, failed=failed, token=token,
        imei_identified=IMEI_IDENTIFIED, can_manage=may(acting_user(), Action.MANAGE_DEVICES))


@bp.get("/devices")
@readers_only
def devices():  # type: ignore[no-untyped-def]
    """List beacons and station tokens; the licensing authority registers, issues and revokes."""
    return _devices_page()


@bp.post("/devices/beacons", endpoint="register_beacon")
@requires(Action.MANAGE_DEVICES)
def register_beacon_form():  # type: ignore[no-untyped-def]
    """Register a beacon and show its token once."""
    errors: dict[str, str] = {}
    period = int_field("reporting_period_s", errors) or 0
    db = get_session()
    try:
        if errors:
            raise ValidationFailed(errors)
        beacon, secret = register_beacon(
            db, device_id=text_field("device_id"), protocol=text_field("protocol"),
            owner_taxpayer=text_field("owner") or None, reporting_period_s=period,
            description=text_field("description"), created_by=acting_user())
    except (ValidationFailed, Conflict) as exc:
        db.rollback()
        shown = exc.errors if isinstance(exc, ValidationFailed) else {"device_id": exc.message}
        return _devices_page(shown, failed="beacon"), 400 if isinstance(exc, ValidationFailed) else 409
    db.commit()
    return _shown_once(_devices_page(token=(beacon.tokens[-1], secret)), 201)


@bp.post("/devices/stations", endpoint="issue_station_token")
@requires(Action.MANAGE_DEVICES)
def issue_station_token_form():  # type: ignore[no-untyped-def]
    """Issue a scanner station's token for a checkpoint and show it once."""
    db, code = get_session(), text_field("checkpoint")
    try:
        if not code:
            raise NotFound(gettext("Choose a checkpoint."))
        row, secret = issue_station_token(db, checkpoint_code=code, name=text_field("name"),
                                          created_by=acting_user())
    except NotFound as exc:
        db.rollback()
        return _devices_page({"checkpoint": exc.message}, failed="station"), 400
    db.commit()
    return _shown_once(_devices_page(token=(row, secret)), 201)


def _beacon(beacon_id: int) -> Beacon:
    """Return the beacon the URL names, or answer 404."""
    beacon = get_session().get(Beacon, beacon_id)
    if beacon is None:
        abort(404)
    return beacon


@bp.post("/devices/beacons/<int:beacon_id>/token")
@requires(Action.MANAGE_DEVICES)
def issue_beacon_token(beacon_id: int):  # type: ignore[no-untyped-def]
    """Issue a registered beacon a new token (its old one lost or revoked) and show it once."""
    db = get_session()
    beacon = _beacon(beacon_id)
    row, secret = issue_token(db, name=beacon.description or f"beacon {beacon.device_id}", beacon=beacon,
                              created_by=acting_user())
    db.commit()
    return _shown_once(_devices_page(token=(row, secret)), 201)


@bp.post("/devices/beacons/<int:beacon_id>/networks", endpoint="set_beacon_networks")
@requires(Action.MANAGE_DEVICES)
def set_beacon_networks(beacon_id: int):  # type: ignore[no-untyped-def]
    """Set the networks a TCP beacon may connect from (blank: any address)."""
    db = get_session()
    beacon = _beacon(beacon_id)
    try:
        set_allowed_networks(db, beacon.device_id, text_field("allowed_networks").replace(",", " ").split())
    except ValidationFailed as exc:
        db.rollback()
        return _devices_page(exc.errors, failed=f"networks-{beacon_id}"), 400
    db.commit()
    flash(gettext("Networks of beacon %(device_id)s saved.", device_id=beacon.device_id), "success")
    return redirect(url_for("portal.devices"))


@bp.post("/devices/tokens/<int:token_id>/revoke", endpoint="revoke_device_token")
@requires(Action.MANAGE_DEVICES)
def revoke_device_token_form(token_id: int):  # type: ignore[no-untyped-def]
    """Revoke a device token at once."""
    db = get_session()
    row = revoke_device_token(db, token_id)
    db.commit()
    flash(gettext("Token %(name)s revoked; the device is refused from now on.", name=row.name), "success")
    return redirect(url_for("portal.devices"))
