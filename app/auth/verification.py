"""Confirming an account's e-mail address, so that likes and comments come from real people.

Sign-up asks for nothing but an address; without this, a script makes a hundred accounts an hour
from one address and each likes at once. With ``REQUIRE_VERIFIED_EMAIL`` (on in production, off
for ``make run`` and the tests) an account must open the link mailed to it before it may like or
comment; the work page says why and the account page sends the link again (rate limited per
account: ``EMAIL_VERIFY_RATE_LIMIT``).

The link carries a token signed with SECRET_KEY (itsdangerous, salt ``email-verify``) over the
account id and its address, valid for ``EMAIL_VERIFY_DAYS``: a link for an address the account
no longer has confirms nothing. Opening it again changes nothing. The mail goes through the
configured mail backend (app/mail.py).

The vote-integrity detector weighs confirmation too (``unproven_at``): a like from an account
that had not confirmed, or had confirmed only minutes before, is what a farm's likes look like.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from flask_babel import gettext as _
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from app.errors import Forbidden, ServiceError
from app.extensions import db
from app.ids import parse_id
from app.mail import MailError, send_mail
from app.models import User, utcnow
from app.public_urls import public_url_for
from app.secret_keys import signing_keys

log = logging.getLogger(__name__)

_SALT = "email-verify"
# Confirmed this shortly before a like: as telling as not confirmed at all (a farm confirms its
# accounts in a batch, then spends them).
JUST_VERIFIED = timedelta(minutes=30)


def required() -> bool:
    return bool(current_app.config["REQUIRE_VERIFIED_EMAIL"])


def is_verified(user: Any) -> bool:
    return getattr(user, "email_verified_at", None) is not None


def needs_verification(user: Any) -> bool:
    """Whether this signed-in account must still confirm its address before liking/commenting."""
    return required() and getattr(user, "is_authenticated", False) and not is_verified(user)


def unverified_message() -> str:
    return _(
        "请先验证邮箱：打开我们发到你注册邮箱的确认链接后，才能点赞和评论。没收到可在“我的账号”中重新发送。"
    )


def ensure_may_engage(user: Any) -> None:
    """Refuse a like or a comment from an account that has not confirmed its address (when the
    setting asks for it). Reads the already loaded user row: no query on the like path."""
    if needs_verification(user):
        raise Forbidden(unverified_message(), code="email_unverified")


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(signing_keys(), salt=_SALT)


def make_token(user: User) -> str:
    return _serializer().dumps({"u": user.id, "e": user.email})


def _invalid_link() -> ServiceError:
    message = _("确认链接无效或已过期，请登录后在“我的账号”中重新发送。")
    return ServiceError(message, code="invalid_verify_token")


def confirm(token: str) -> User:
    """Mark the account a link was sent to as confirmed (once; opening it again changes nothing)."""
    max_age = current_app.config["EMAIL_VERIFY_DAYS"] * 24 * 3600
    try:
        data = _serializer().loads(token or "", max_age=max_age)
    except (SignatureExpired, BadSignature) as exc:
        raise _invalid_link() from exc
    user_id = parse_id(data.get("u")) if isinstance(data, dict) else None
    user = db.session.get(User, user_id) if user_id is not None else None
    if user is None or data.get("e") != user.email:
        raise _invalid_link()
    if user.email_verified_at is None:
        user.email_verified_at = utcnow()
        db.session.commit()
        log.info("user %s confirmed their e-mail address", user.id)
    return user


def confirmation_url(user: User) -> str:
    """The link the mail carries: absolute, on PUBLIC_BASE_URL (app/public_urls.py)."""
    return public_url_for("auth.verify_email", token=make_token(user))


def send_link(user: User) -> None:
    """Mail the confirmation link; MailError when the mail backend cannot take it."""
    days = current_app.config["EMAIL_VERIFY_DAYS"]
    body = _(
        "%(name)s，您好：\n\n"
        "欢迎参加“网络倡文明”活动。请在 %(days)d 天内打开下面的链接，确认这是您的邮箱，"
        "确认后即可为喜欢的作品点赞和评论：\n\n"
        "%(link)s\n\n"
        "如果您没有注册过，请忽略这封邮件。\n",
        name=user.display_name,
        days=days,
        link=confirmation_url(user),
    )
    send_mail(user.email, _("请确认您的邮箱 · 网络倡文明"), body)


def send_link_after_sign_up(user: User) -> None:
    """At sign-up: send the link when confirmation is required; a mail that cannot be sent is
    logged, and the account page offers to send it again."""
    if not required():
        return
    try:
        send_link(user)
    except MailError:
        log.exception("confirmation mail for user %s could not be sent", user.id)


def unproven_at(verified_at: datetime | None, at: datetime) -> bool:
    """For the vote-integrity detector: whether an account's address was unconfirmed at `at`,
    or confirmed only just before it (within JUST_VERIFIED). Where confirmation is not required
    (REQUIRE_VERIFIED_EMAIL off) nobody is asked to confirm, so it tells nothing: False."""
    if not required():
        return False
    return verified_at is None or verified_at > at or at - verified_at <= JUST_VERIFIED
