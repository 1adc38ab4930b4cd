"""HTTP ingestion: the native JSON batch and the OsmAnd protocol (Traccar Client), on aiohttp.

- ``POST /api/v1/pings`` — a JSON batch from one device, ``Authorization: Bearer <beacon token>``.
- ``GET|POST /?key=<beacon token>`` — OsmAnd: the query string (URL or form body) or the
  Traccar Client JSON body; the ``key`` (or a bearer token) must be the token of the beacon
  the ``id`` names. A report with cell or Wi-Fi data but no coordinates is kept as a device
  status (evidence, kind ``status``), answered 200 with ``"kept": "status"``.
- ``GET /health`` — 200 when the gateway can commit in time; 503 when its database is
  unreachable or a message has waited longer than ``GATEWAY_HEALTH_STALL_S`` for its commit
  (a load balancer then sends devices to another gateway).
- ``GET /metrics`` — this process's Prometheus metrics (``beacon_gateway.metrics``).

``/health`` and ``/metrics`` take no request body (413) and only GET/HEAD (405).

2xx only once the positions are committed; 401/403/413/422 say precisely what was wrong
with the request and store nothing; 503 means "not stored, send again later".
"""
from __future__ import annotations

import logging
from typing import Any, Awaitable, Callable

from aiohttp import web

from beacon_gateway import metrics
from beacon_gateway.decoders import json_batch, osmand
from beacon_gateway.evidence import Evidence
from beacon_gateway.pipeline import FORBIDDEN, UNAUTHORIZED
from beacon_gateway.position import DecodeError, Position
from beacon_gateway.servers import Ingest
from beacon_gateway.writer import NotStored, Outcome
from tracker.domain.tokens import TOKEN_PREFIX, well_formed_token

log = logging.getLogger(__name__)

INGEST_KEY = web.AppKey("ingest", Ingest)
RETRY_AFTER_S = "5"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def error(status: int, code: str, message: str, fields: dict[str, str] | None = None,
          headers: dict[str, str] | None = None) -> web.Response:
    """Return the gateway's JSON error, shaped like the tracker's API errors."""
    body: dict[str, Any] = {"error": code, "message": message}
    if fields:
        body["fields"] = fields
    return web.json_response(body, status=status, headers=headers)


def bearer_token(request: web.Request) -> str | None:
    """Return the request's bearer token, or None when it sent none."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


async def native_batch(request: web.Request) -> web.Response:
    """Store a JSON batch from the beacon that owns the bearer token."""
    token = bearer_token(request)
    if token is None or not token.startswith(TOKEN_PREFIX):
        return _refused(json_batch.PROTOCOL, 401, "unauthorized", "a beacon bearer token is required",
                        headers={"WWW-Authenticate": 'Bearer realm="beacon-gateway"'})
    try:
        positions = json_batch.decode_batch(await request.read())
    except json_batch.BatchError as exc:
        return _refused(json_batch.PROTOCOL, 422, "invalid_batch", str(exc), exc.fields)
    return await _store(request, positions, token)


async def osmand_request(request: web.Request) -> web.Response:
    """Store an OsmAnd message (query string, form body or Traccar Client JSON) carrying its device key."""
    body = await request.read()
    key = osmand.request_key(request.query_string, body, request.content_type) or bearer_token(request)
    if key is None or not well_formed_token(key):
        log.warning("OsmAnd request from %s refused: %s device key", request.remote,
                    "no" if key is None else "a malformed")
        return _refused(osmand.PROTOCOL, 401, "unauthorized", "the device key is required: the server URL "
                        "must end in /?key=<the beacon's token>")
    try:
        status = osmand.decode_status(request.query_string, body, request.content_type)
        if status is not None:
            return await _keep_status(request, status, key)
        positions = osmand.decode_request(request.query_string, body, request.content_type)
    except DecodeError as exc:
        return _refused(osmand.PROTOCOL, 422, "invalid_message", str(exc))
    return await _store(request, positions, key)


def _refused(protocol: str, status: int, code: str, message: str, fields: dict[str, str] | None = None,
             headers: dict[str, str] | None = None) -> web.Response:
    """Count a message refused before it reached the writer (which counts the others) and answer it."""
    metrics.count_message(protocol)
    metrics.count_refusal(code)
    return error(status, code, message, fields, headers)
async def _keep_status(request: web.Request, status: osmand.Status, key: str) -> web.Response:
    """Keep a cell/Wi-Fi report without a fix as evidence (kind "status") once its key is checked."""
    ingest = request.app[INGEST_KEY]
    try:
        refusal = await ingest.key_refusal(status.device_id, key)
        if refusal is not None:
            log.warning("OsmAnd status of %r refused: %s", status.device_id, refusal[1])
            return _refused(osmand.PROTOCOL, refusal[0], "unauthorized" if refusal[0] == 401 else "forbidden",
                            refusal[1])
        reason = "cell/Wi-Fi report without a fix: " + ", ".join(sorted(status.extra))
        await ingest.keep(Evidence(status.device_id, osmand.PROTOCOL, "status", reason, status.raw),
                          request.remote)
    except NotStored as exc:
        return error(503, "not_stored", str(exc), headers={"Retry-After": RETRY_AFTER_S})
    return web.json_response({"stored": 0, "duplicates": 0, "kept": "status"})


async def health(request: web.Request) -> web.Response:
    """Say whether the gateway can commit positions in time (200), or why not (503)."""
    if request.body_exists:
        return error(413, "request_entity_too_large", "/health takes no request body")
    problem = await request.app[INGEST_KEY].problem()
    if problem is not None:
        return web.json_response({"status": "unavailable", "problem": problem}, status=503,
                                 headers={"Retry-After": RETRY_AFTER_S})
    return web.json_response({"status": "ok"})


async def metrics_text(request: web.Request) -> web.Response:
    """Return this process's metrics in the Prometheus text format."""
    if request.body_exists:
        return error(413, "request_entity_too_large", "/metrics takes no request body")
    return web.Response(body=metrics.exposition(), headers={"Content-Type": metrics.CONTENT_TYPE})


async def _store(request: web.Request, positions: list[Position], token: str | None) -> web.Response:
    try:
        outcome = await request.app[INGEST_KEY].store(positions, token)
    except NotStored as exc:
        return error(503, "not_stored", str(exc), headers={"Retry-After": RETRY_AFTER_S})
    if outcome.rejected:
        return _refusal(outcome)
    return web.json_response({"stored": outcome.stored, "duplicates": outcome.duplicates})


def _refusal(outcome: Outcome) -> web.Response:
    codes = {rejection.code for rejection in outcome.rejected}
    first = outcome.rejected[0]
    if UNAUTHORIZED in codes or FORBIDDEN in codes:
        chosen = next(r for r in outcome.rejected if r.code in (UNAUTHORIZED, FORBIDDEN))
        status = 401 if chosen.code == UNAUTHORIZED else 403
        return error(status, chosen.code, chosen.reason)
    fields = {f"pings[{r.index}]": r.reason for r in outcome.rejected if r.code != "batch_rejected"}
    return error(422, "invalid_batch", f"batch refused, nothing stored: {first.reason}"
                 if len(fields) <= 1 else "batch refused, nothing stored", fields)


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Answer aiohttp's own errors (404, 405, 413) as JSON, never as HTML or a traceback."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = exc.reason.lower().replace(" ", "_")
        return error(exc.status, code, exc.text or exc.reason)
    except Exception:  # noqa: BLE001 - a device gets a 500 JSON, the log gets the traceback
        log.exception("HTTP %s %s failed", request.method, request.path)
        return error(500, "internal_error", "the gateway failed on this request; send it again")


def make_app(ingest: Ingest, max_body_bytes: int) -> web.Application:
    """Return the gateway's HTTP application."""
    app = web.Application(client_max_size=max_body_bytes, middlewares=[json_errors])
    app[INGEST_KEY] = ingest
    app.router.add_post("/api/v1/pings", native_batch)
    app.router.add_get("/health", health)
    app.router.add_get("/metrics", metrics_text)
    app.router.add_route("GET", "/", osmand_request)
    app.router.add_route("POST", "/", osmand_request)
    return app


async def start_http(ingest: Ingest, host: str, port: int, max_body_bytes: int,
                     shutdown_timeout_s: float = 5.0) -> web.AppRunner:
    """Start listening; the returned runner's ``cleanup()`` stops accepting and finishes requests."""
    runner = web.AppRunner(make_app(ingest, max_body_bytes), access_log=None,
                           shutdown_timeout=shutdown_timeout_s)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner
