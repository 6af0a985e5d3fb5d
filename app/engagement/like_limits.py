"""Rate limits on likes and unlikes (Flask-Limiter on Redis), limits read from config per request.

Per account, the fine-grained limit (``LIKE_RATE_LIMIT``): a person, or a script holding one
account, can only click so fast. Per IP, a generous ceiling (``LIKE_IP_RATE_LIMIT``): hundreds of
colleagues behind one office NAT are exactly whom a collective mobilises, so they must all be
able to like in the same minutes. Likes and unlikes share both budgets, so toggling costs the
same as liking. The routes check log-in first, so the account key always names an account.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import current_app
from flask_babel import gettext as _
from flask_limiter.util import get_remote_address
from flask_login import current_user

from app.extensions import limiter


def _account() -> str:
    return f"u{current_user.id}" if current_user.is_authenticated else f"ip:{get_remote_address()}"


def _ip() -> str:
    return get_remote_address() or "unknown"


def _message() -> str:
    return _("点赞太频繁了，请稍后再试。")


_per_account = limiter.shared_limit(
    lambda: current_app.config["LIKE_RATE_LIMIT"],
    scope="like-account",
    key_func=_account,
    error_message=_message,
)
_per_ip = limiter.shared_limit(
    lambda: current_app.config["LIKE_IP_RATE_LIMIT"],
    scope="like-ip",
    key_func=_ip,
    error_message=_message,
)


def like_limits(view: Callable) -> Callable:
    """Both like limits, for PUT and DELETE /api/v1/works/<id>/like."""
    return _per_ip(_per_account(view))
