"""The application factory."""
from __future__ import annotations

import logging
import mimetypes
from datetime import timedelta
from typing import Any, Mapping
from urllib.parse import urlsplit

from flask import Flask, Response
from flask_wtf.csrf import CSRFProtect

from tracker.config import load_settings
from tracker.domain import custody_track, plausibility, signing
from tracker.web import api, auth, cli, database, domain_text, errors, guards, i18n, labels, portal

csrf = CSRFProtect()


def build_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Create the tracker app: settings, database, sign-in, portal, API and CLI."""
    settings = load_settings(test_config)
    app = Flask(
        "tracker", instance_path=str(settings.instance_path), instance_relative_config=True,
        template_folder="web/templates", static_folder="web/static",
    )
    app.config.update(
        SECRET_KEY=settings.secret_key,
        DATABASE_URL=settings.database_url,
        SETTINGS=settings,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.session_cookie_secure,
        REMEMBER_COOKIE_SECURE=settings.session_cookie_secure,
        REMEMBER_COOKIE_HTTPONLY=True,
        PERMANENT_SESSION_LIFETIME=timedelta(minutes=settings.session_timeout_minutes),
        JSON_SORT_KEYS=False,
    )
    if test_config:
        app.config.update(test_config)
    logging.basicConfig(level=logging.INFO)

    guards.init_app(app)  # first: bounded URL ids for every blueprint, and the first request hook
    database.init_app(app, settings.database_url)
    # The key that signs chain heads: read when first needed, created in the instance folder if absent there.
    signing.use_key_file(settings.signing_key_path, create_if_missing=settings.evidence_key_file is None)
    plausibility.use_limits(plausibility.Limits(
        settings.mass_ceiling_g, settings.plausible_past_days, settings.plausible_future_minutes))
    custody_track.use_distance_limit(settings.custody_beacon_distance_m)
    csrf.init_app(app)
    errors.init_app(app)
    i18n.init_app(app)
    labels.init_app(app)
    domain_text.init_app(app)
    auth.init_app(app)
    portal.init_app(app)
    api.init_app(app, csrf)
    cli.init_app(app)
    mimetypes.add_type("application/wasm", ".wasm")  # browsers compile WebAssembly only with this type
    policy = content_security_policy(settings.map_tile_url)
    app.after_request(lambda response: _security_headers(response, policy))
    return app


def content_security_policy(tile_url: str = "") -> str:
    """Only the app's own scripts, styles and connections; images also from the map's tile server.

    ``'wasm-unsafe-eval'`` lets the app's own WebAssembly (the viewfinder's barcode decoder) compile;
    it allows no JavaScript eval.
    """
    images = "'self' data: blob:"
    parts = urlsplit(tile_url.replace("{s}", "a"))
    if parts.scheme in ("http", "https") and parts.netloc:
        host = parts.netloc if "{s}" not in tile_url else "*." + parts.netloc.split(".", 1)[1]
        images += f" {parts.scheme}://{host}"
    return (
        f"default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src {images}; "
        "connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
        "frame-ancestors 'none'"
    )


def _security_headers(response: Response, policy: str) -> Response:
    """Only the app's own scripts and styles; no framing; no MIME sniffing."""
    response.headers.setdefault("Content-Security-Policy", policy)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response
