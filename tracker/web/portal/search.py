"""Search by declaration reference or container SSCC, from the box in every page's header."""
from __future__ import annotations

from flask import redirect, render_template, request, url_for
from flask_login import login_required

from tracker.domain.lookup import find_records
from tracker.models import Container
from tracker.web.auth import acting_user
from tracker.web.database import get_session
from tracker.web.portal.blueprint import bp


@bp.get("/search")
@login_required
def search():  # type: ignore[no-untyped-def]
    """Open the one record that matches, or list the matches."""
    text = request.args.get("q", "")
    matches = find_records(get_session(), acting_user(), text)
    found = matches.only
    if isinstance(found, Container):
        return redirect(url_for("portal.container", sscc=found.sscc))
    if found is not None:
        return redirect(url_for("portal.declaration", declaration_id=found.id))
    return render_template("search.html", matches=matches, text=text)
