"""Password reset by e-mail.

The link carries a token signed with SECRET_KEY (itsdangerous) over the account id and a
fingerprint of its current password hash, and expires after PASSWORD_RESET_MINUTES. Setting a
new password changes the hash, so the link is single-use, and so is every other link sent
before it. The reset also revokes the account's API tokens, ends its login sessions everywhere
(app/auth/sessions.py), lifts a lock-out and, since the link came through the mailbox, confirms
the address.

Asking for a link answers the same whether the address has an account or not, so the form
cannot be used to find out who is registered; a mail that cannot be sent is logged, not shown.
"""

from __future__ import annotations

import logging

from flask import current_app
from flask_babel import gettext as _
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from app.auth import lockout, sessions
from app.auth.services import find_account, password_problem
from app.errors import ServiceError, ValidationFailed
from app.extensions import db
from app.mail import MailError, send_mail
from app.models import User, fingerprint_matches, password_fingerprint, utcnow
from app.secret_keys import signing_keys

log = logging.getLogger(__name__)

_SALT = "password-reset"


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(signing_keys(), salt=_SALT)


def make_token(user: User) -> str:
    return _serializer().dumps({"u": user.id, "p": password_fingerprint(user.password_hash)})


def _invalid_link() -> ServiceError:
    return ServiceError(_("重设密码的链接无效或已过期，请重新申请。"), code="invalid_reset_token", status=400)


def user_for_token(token: str) -> User:
    """The account a reset link is for, or ServiceError when it is forged, expired or used."""
    max_age = current_app.config["PASSWORD_RESET_MINUTES"] * 60
    try:
        data = _serializer().loads(token or "", max_age=max_age)
    except (SignatureExpired, BadSignature) as exc:
        raise _invalid_link() from exc
    if not isinstance(data, dict) or not isinstance(data.get("u"), int) or not isinstance(data.get("p"), str):
        raise _invalid_link()
    user = db.session.get(User, data["u"])
    if user is None or not fingerprint_matches(data["p"], user.password_hash):
        raise _invalid_link()
    return user


def request_reset(email: str, link_for) -> None:
    """Mail a reset link to `email` when it has an account; silently nothing otherwise.

    ``link_for(token)`` builds the absolute URL of the reset page for a token.
    """
    user = find_account(email)
    if user is None:
        log.info("password reset asked for an address without an account")
        return
    minutes = current_app.config["PASSWORD_RESET_MINUTES"]
    body = _(
        "%(name)s，您好：\n\n"
        "有人（希望是您本人）申请重设您在“网络倡文明”平台的密码。"
        "请在 %(minutes)d 分钟内打开下面的链接设置新密码：\n\n"
        "%(link)s\n\n"
        "链接只能使用一次。如果不是您本人申请，请忽略这封邮件，您的密码不会改变。\n",
        name=user.display_name,
        minutes=minutes,
        link=link_for(make_token(user)),
    )
    try:
        send_mail(user.email, _("重设您的密码 · 网络倡文明"), body)
    except MailError:
        # Shown to nobody: an error only for existing accounts would tell who is registered.
        log.exception("password reset mail for user %s could not be sent", user.id)


def reset_password(token: str, new_password: str) -> User:
    """Set a new password through a reset link: tokens revoked, other sessions ended, unlocked."""
    user = user_for_token(token)
    problem = password_problem(new_password or "", user.email)
    if problem:
        code, message = problem
        raise ValidationFailed(message, code=code, fields={"password": message})
    user.set_password(new_password)
    sessions.end_everywhere(user.id)
    # The link came through the account's mailbox: that confirms the address as well.
    if user.email_verified_at is None:
        user.email_verified_at = utcnow()
    lockout.clear_failures(user.id)
    db.session.commit()
    log.info("password of user %s reset by e-mail link", user.id)
    return user
