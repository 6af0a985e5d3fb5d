"""Logs, request ids and metrics (docs/observability.md).

``init_observability(app)`` is the factory's one call: it installs the log handler (outside
tests and the debugger), gives every request an id, writes one access line per request and
counts it for `/metrics` (the blueprint is registered with the others).
"""

from __future__ import annotations

import logging
import time

import sqlalchemy as sa
from flask import Flask, Response, g, request, request_finished, request_started
from flask.logging import default_handler

from app.clients import client_ip
from app.observability.context import REQUEST_ID_HEADER, request_id_from_header, request_id_var
from app.observability.logs import install_handler
from app.observability.metrics import observe_request

access_log = logging.getLogger("app.access")

# Probes and scrapes come every few seconds from machines: counted, but not written to the log.
QUIET_ROUTES = frozenset({"/healthz", "/readyz", "/metrics"})


# URL parts that are credentials (a password-reset link's token): never written to the log.
SECRET_VIEW_ARGS = frozenset({"token"})


def init_observability(app: Flask) -> None:
    if not app.debug and not app.testing:
        install_handler(app.config["LOG_FORMAT"], app.config["LOG_LEVEL"])
        # Flask gives app.logger a text handler of its own if anything touched it before a root
        # handler existed; every app.* line would then be written twice, once not as JSON.
        app.logger.removeHandler(default_handler)
    # Signals, not before/after_request: request_started comes before every before_request
    # function (a rate limit refusing the request among them), request_finished after every
    # after_request function, so both see the whole request and its final status.
    request_started.connect(_begin, app, weak=False)
    request_finished.connect(_finish, app, weak=False)
    app.teardown_request(_end)


def _begin(sender: Flask, **extra) -> None:
    g.request_started_at = time.perf_counter()
    request_id_var.set(request_id_from_header(request.headers.get(REQUEST_ID_HEADER)))


def _finish(sender: Flask, response: Response, **extra) -> None:
    request_id = request_id_var.get()
    if request_id:
        response.headers[REQUEST_ID_HEADER] = request_id
    seconds = time.perf_counter() - g.get("request_started_at", time.perf_counter())
    route = request.url_rule.rule if request.url_rule is not None else None
    observe_request(route, request.method, response.status_code, seconds)
    if route in QUIET_ROUTES:
        return
    path = _loggable_path()
    access_log.info(
        "%s %s %s %.1fms",
        request.method,
        path,
        response.status_code,
        seconds * 1000,
        extra={
            "method": request.method,
            "path": path,
            "route": route,
            "status": response.status_code,
            "duration_ms": round(seconds * 1000, 1),
            "remote_addr": client_ip(),
            "user_id": _user_id(),
        },
    )


def _user_id() -> int | None:
    """The id of the account the request was loaded for, read without a query.

    A request that committed has expired every loaded object: reading ``user.id`` or
    ``is_authenticated`` (which reads ``banned``) would then cost a SELECT of the user on every
    like and comment. The identity key survives expiry.
    """
    user = g.get("_login_user")  # only a user the request itself loaded
    if user is None or user.is_anonymous:
        return None
    identity = sa.inspect(user).identity
    return identity[0] if identity else None


def _loggable_path() -> str:
    path = request.path
    for name, value in (request.view_args or {}).items():
        if name in SECRET_VIEW_ARGS and value:
            path = path.replace(str(value), "[redacted]")
    return path


def _end(exc: BaseException | None) -> None:
    request_id_var.set(None)
