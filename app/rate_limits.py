"""Per-account and per-IP rate limits (Flask-Limiter on Redis), with limits read from config.

Every action a bot would hammer gets the same pair: a fine-grained limit per account, and a
generous one per IP, because hundreds of colleagues behind one office NAT are exactly whom a
collective mobilises. Limit strings are read from config on each request, so deployments and tests
change them without touching code.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from flask import current_app

from app.clients import client_ip
from app.extensions import account_or_ip_key, limiter


def account_and_ip_limits(
    name: str,
    *,
    account_setting: str,
    ip_setting: str,
    message: Callable[[], str] | None = None,
    methods: Iterable[str] | None = None,
) -> Callable[[Callable], Callable]:
    """A decorator applying both limits; every view it decorates shares the same budgets."""
    common = {"methods": list(methods) if methods else None, "error_message": message}
    per_account = limiter.shared_limit(
        lambda: current_app.config[account_setting],
        scope=f"{name}-account",
        key_func=account_or_ip_key,
        **common,
    )
    per_ip = limiter.shared_limit(
        lambda: current_app.config[ip_setting], scope=f"{name}-ip", key_func=client_ip, **common
    )

    def decorate(view: Callable) -> Callable:
        return per_ip(per_account(view))

    return decorate
