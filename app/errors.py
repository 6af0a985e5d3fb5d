"""One error shape for the API and friendly Chinese pages for people.

API errors: ``{"error": {"code": "snake_case_code", "message": "a sentence"}}`` with the right
HTTP status, for our own errors and for 404, 405, 413, CSRF failures and rate limits alike.
"""

from __future__ import annotations

import logging
import math
import time

import sqlalchemy as sa
from flask import Flask, g, jsonify, render_template, request
from flask.globals import request_ctx
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from app.extensions import limiter, login_manager

log = logging.getLogger(__name__)

NUMERIC_VALUE_OUT_OF_RANGE = "22003"  # SQLSTATE


class ServiceError(Exception):
    """A refusal a person can understand, raised by services and shown by pages and the API."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        if status:
            self.status = status


class RateLimited(ServiceError):
    """429 from a limit checked outside Flask-Limiter (app/rate_limits.py), with its Retry-After."""

    status = 429
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int):
        super().__init__(message)
        self.retry_after = max(1, int(retry_after))


class NotFound(ServiceError):
    status = 404
    code = "not_found"


class Forbidden(ServiceError):
    status = 403
    code = "forbidden"


class Conflict(ServiceError):
    status = 409
    code = "conflict"


class ValidationFailed(ServiceError):
    status = 422
    code = "validation_failed"

    def __init__(self, message: str, *, fields: dict[str, str] | None = None, **kwargs):
        super().__init__(message, **kwargs)
        self.fields = fields or {}


def _http_messages() -> dict[int, tuple[str, str]]:
    return {
        400: ("bad_request", _("请求格式不正确。")),
        401: ("unauthorized", _("请先登录。")),
        403: ("forbidden", _("您没有权限进行此操作。")),
        404: ("not_found", _("您要找的内容不存在或已被删除。")),
        405: ("method_not_allowed", _("不支持该请求方法。")),
        413: ("payload_too_large", _("上传的内容太大，超出了允许的上限。")),
        415: ("unsupported_media_type", _("请以 JSON 格式提交。")),
        429: ("rate_limited", _("操作太频繁，请稍后再试。")),
        500: ("internal_error", _("服务器出了点问题，请稍后再试。")),
        503: ("unavailable", _("服务暂时不可用，请稍后再试。")),
    }


def wants_json() -> bool:
    # oEmbed consumers are programs too: they get the API's error shape, never an HTML page.
    return request.path.startswith("/api/") or request.path == "/oembed"


def error_response(status: int, code: str, message: str, **extra):
    if wants_json():
        body: dict = {"error": {"code": code, "message": message}}
        body["error"].update(extra)
        return jsonify(body), status
    if request_ctx.url_adapter is None:
        # A Host outside TRUSTED_HOSTS: no URL can be built for it, so no page either.
        return message, status, {"Content-Type": "text/plain; charset=utf-8"}
    if g.get("cookieless"):
        # A page that promises no cookie (the embeddable player) fails without the site's
        # header, whose CSRF token would start a session.
        return render_template("error_bare.html", status=status, message=message), status
    return render_template("error.html", status=status, message=message), status


def _seconds_until_reset(exc) -> int:
    """Seconds until the breached limit's window resets (Flask-Limiter's X-RateLimit headers,
    which would say it, are off: see config.py); its whole window if the store cannot tell."""

    try:
        breached = limiter.current_limit
        if breached is not None:
            return max(1, math.ceil(breached.window[0] - time.time()))
    except Exception:  # the limiter's store failing must not turn a 429 into a 500
        log.warning("rate limit window unknown", exc_info=True)
    return int(exc.limit.limit.get_expiry())


def _database_unavailable(exc: sa.exc.DBAPIError) -> bool:
    """The database is down, restarting or too busy, as opposed to a bug in a statement."""
    if exc.connection_invalidated:
        return True
    if not isinstance(exc, sa.exc.OperationalError):
        return False
    if type(exc.orig).__module__.startswith("sqlite3"):
        # SQLite reports its programming errors (no such table, syntax) as OperationalError too.
        return any(sign in str(exc.orig) for sign in ("locked", "busy", "unable to open", "disk I/O"))
    return True


def init_errorhandlers(app: Flask) -> None:
    @app.errorhandler(ServiceError)
    def handle_service_error(exc: ServiceError):
        extra = {"fields": exc.fields} if isinstance(exc, ValidationFailed) and exc.fields else {}
        if isinstance(exc, RateLimited):
            response = app.make_response(error_response(exc.status, exc.code, exc.message))
            response.headers["Retry-After"] = str(exc.retry_after)
            return response
        return error_response(exc.status, exc.code, exc.message, **extra)

    @app.errorhandler(CSRFError)
    def handle_csrf(exc: CSRFError):
        return error_response(400, "csrf_failed", _("页面已过期或缺少安全令牌，请刷新页面后重试。"))

    @app.errorhandler(429)
    def handle_rate_limit(exc):
        code, message = _http_messages()[429]
        # A limit declared with its own message (e.g. likes) says what was too frequent.
        if getattr(getattr(exc, "limit", None), "error_message", None):
            message = exc.description
        response = error_response(429, code, message)
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is None and getattr(exc, "limit", None) is not None:
            retry_after = _seconds_until_reset(exc)
        resp = app.make_response(response)
        if retry_after is not None and "Retry-After" not in resp.headers:
            resp.headers["Retry-After"] = str(int(retry_after))
        return resp

    @app.errorhandler(HTTPException)
    def handle_http(exc: HTTPException):
        code, message = _http_messages().get(exc.code or 500, ("http_error", exc.description))
        response = app.make_response(error_response(exc.code or 500, code, message))
        if exc.code == 405 and exc.valid_methods:
            response.headers["Allow"] = ", ".join(exc.valid_methods)
        return response

    @app.errorhandler(sa.exc.DBAPIError)
    def handle_database_error(exc: sa.exc.DBAPIError):
        # The database restarting, failing over or refusing connections is an outage, not a bug:
        # say so with a 503 the client may retry (the pool pings and reconnects by itself).
        if _database_unavailable(exc):
            log.warning("database unavailable on %s %s: %s", request.method, request.path, exc.orig)
            code, message = _http_messages()[503]

            # The page must not look the signed-in account up again: that is what just failed.
            g._login_user = login_manager.anonymous_user()
            try:
                response = app.make_response(error_response(503, code, message))
            except Exception:  # the page itself needs the database: the message alone, then
                log.warning("error page unavailable too", exc_info=True)
                response = app.make_response((message, 503, {"Content-Type": "text/plain; charset=utf-8"}))
            response.headers["Retry-After"] = "5"
            return response
        if getattr(exc.orig, "sqlstate", None) == NUMERIC_VALUE_OUT_OF_RANGE:
            # A number from the client past what its column holds (ids are 32-bit on PostgreSQL).
            return error_response(422, "number_out_of_range", _("数值超出范围。"))
        return handle_unexpected(exc)

    @app.errorhandler(Exception)
    def handle_unexpected(exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        code, message = _http_messages()[500]
        return error_response(500, code, message)
