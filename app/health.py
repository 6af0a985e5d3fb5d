"""Liveness and readiness probes for load balancers and `make run`."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, current_app, jsonify

from app.extensions import db, queue_redis, redis_client
from app.storage import get_storage

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():
    checks: dict[str, str] = {}
    probes = [
        ("sql", lambda: db.session.execute(sa.text("SELECT 1"))),
        ("redis", lambda: redis_client.client.ping()),
        ("storage", lambda: get_storage().check()),
    ]
    if current_app.config.get("QUEUE_REDIS_URL") not in (None, "", current_app.config["REDIS_URL"]):
        probes.append(("queue", lambda: queue_redis.client.ping()))  # the queue's own Redis
    for name, probe in probes:
        try:
            probe()
            checks[name] = "ok"
        except Exception as exc:  # a probe reports any failure rather than raising it
            checks[name] = f"error: {type(exc).__name__}"
    ready = all(value == "ok" for value in checks.values())
    return jsonify(status="ok" if ready else "unavailable", checks=checks), 200 if ready else 503
