"""Rate limits on posting comments, shared by the comment form and the API (Flask-Limiter on Redis).

Per account (``COMMENT_RATE_LIMIT``): the fine-grained brake on one person flooding comments. Per
IP (``COMMENT_IP_RATE_LIMIT``), and generous: hundreds of young colleagues behind one office NAT
are asked to take part in the same minutes, so the IP ceiling only stops a machine-made flood.
Both scopes are shared between the page route and the API, so switching between them gains
nothing. Limit strings are read from config on each request; only POSTs count.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import current_app
from flask_babel import gettext as _
from flask_limiter.util import get_remote_address
from flask_login import current_user

from app.extensions import limiter


def _ip() -> str:
    return get_remote_address() or "unknown"


def _account() -> str:
    # Signed-out posts are refused by the view anyway; they count against their IP here.
    if current_user and current_user.is_authenticated:
        return f"user:{current_user.id}"
    return f"ip:{_ip()}"


def _message() -> str:
    return _("评论太频繁了，请稍后再试。")


_per_account = limiter.shared_limit(
    lambda: current_app.config["COMMENT_RATE_LIMIT"],
    scope="comment-account",
    key_func=_account,
    methods=["POST"],
    error_message=_message,
)
_per_ip = limiter.shared_limit(
    lambda: current_app.config["COMMENT_IP_RATE_LIMIT"],
    scope="comment-ip",
    key_func=_ip,
    methods=["POST"],
    error_message=_message,
)


def comment_limits(view: Callable) -> Callable:
    """The comment limits, for the comment form and POST /api/v1/works/<id>/comments alike."""
    return _per_ip(_per_account(view))
