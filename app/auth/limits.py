"""Rate limits on log-in and sign-up, shared by the pages and the API (Flask-Limiter on Redis).

Log-in is limited per (IP, submitted e-mail), which stops password guessing against one account,
and per IP with a generous ceiling: hundreds of colleagues behind one office NAT must still be
able to log in at the start of a campaign. Limit strings are read from config on each request, so
deployments (and tests) change them without touching code. Only POSTs count: opening a page is free.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from flask import current_app, request

from app.auth.services import identity_of
from app.clients import client_ip
from app.extensions import account_or_ip_key, limiter


def _submitted_email() -> str:
    """The person the submitted e-mail names, by the same normalisation the account lookup uses
    (``identity_of``): ``Member@ｅxample.com `` spends the budget of ``member@example.com``.

    What names nobody (not an address at all) is counted as typed: it opens no account, so
    variants of it gain nothing."""
    if request.is_json:
        data = request.get_json(silent=True)
        value = data.get("email") if isinstance(data, dict) else None
    else:
        value = request.form.get("email")
    identity = identity_of(value) or (value.strip() if isinstance(value, str) else "")
    # Hashed: keeps the Redis key short whatever is submitted, and addresses out of Redis.
    # surrogatepass: a lone surrogate (JSON can send one) must reach the parser's clear 422.
    return hashlib.sha256(identity.encode("utf-8", "surrogatepass")).hexdigest()[:24]


def _login_account_key() -> str:
    return f"{client_ip()}|{_submitted_email()}"


_login_per_account = limiter.shared_limit(
    lambda: current_app.config["LOGIN_RATE_LIMIT"],
    scope="login-account",
    key_func=_login_account_key,
    methods=["POST"],
)
_login_per_ip = limiter.shared_limit(
    lambda: current_app.config["LOGIN_IP_RATE_LIMIT"],
    scope="login-ip",
    key_func=client_ip,
    methods=["POST"],
)
# Per submitted address, whoever asks: stops anyone flooding one mailbox with reset mails;
# counted for addresses without an account too, so the limit tells nothing about who exists.
_reset_per_email = limiter.shared_limit(
    lambda: current_app.config["PASSWORD_RESET_RATE_LIMIT"],
    scope="password-reset-email",
    key_func=_submitted_email,
    methods=["POST"],
)
_reset_per_ip = limiter.shared_limit(
    lambda: current_app.config["PASSWORD_RESET_IP_RATE_LIMIT"],
    scope="password-reset-ip",
    key_func=client_ip,
    methods=["POST"],
)
# Confirmation mails asked for again, per account: a person needs one or two, a script hundreds.
_verification_per_account = limiter.shared_limit(
    lambda: current_app.config["EMAIL_VERIFY_RATE_LIMIT"],
    scope="email-verify-account",
    key_func=account_or_ip_key,
    methods=["POST"],
)
_register_per_ip = limiter.shared_limit(
    lambda: current_app.config["REGISTER_RATE_LIMIT"],
    scope="register-ip",
    key_func=client_ip,
    methods=["POST"],
)


def login_limits(view: Callable) -> Callable:
    """The log-in limits, for the log-in page and POST /api/v1/auth/token alike."""
    return _login_per_ip(_login_per_account(view))


def register_limits(view: Callable) -> Callable:
    """The sign-up limit, for the sign-up page and POST /api/v1/auth/register alike."""
    return _register_per_ip(view)


def password_reset_limits(view: Callable) -> Callable:
    """Asking for a reset link: per address and per IP."""
    return _reset_per_ip(_reset_per_email(view))


def verification_mail_limits(view: Callable) -> Callable:
    """Sending the confirmation link again: per account."""
    return _verification_per_account(view)
