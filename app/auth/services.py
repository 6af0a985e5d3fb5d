"""Accounts: creating users, checking passwords, API tokens, Flask-Login loaders.

Pages, the API and the CLI all create and check accounts through these functions, so the rules
(e-mail normalisation, password strength, duplicate e-mail) live in exactly one place.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from functools import cache
from typing import Any

import sqlalchemy as sa
from email_validator import EmailNotValidError, validate_email
from flask import current_app, request, session
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError
from werkzeug.security import check_password_hash, generate_password_hash

from app.auth import lockout, sessions, token_cache
from app.catalog.lists import INDUSTRIES, PROVINCES
from app.errors import Conflict, Forbidden, NotFound, ValidationFailed
from app.extensions import db, login_manager
from app.field_limits import (
    DISPLAY_NAME_MAX_LENGTH,
    PASSWORD_MAX_LENGTH,
    PASSWORD_MIN_LENGTH,
)
from app.models import ApiToken, Collective, Role, User, utcnow

login_manager.login_view = "auth.login"
login_manager.login_message = "请先登录。"
# Flask-Login passes the message through this, so it is shown in the reader's language.
login_manager.localize_callback = _
login_manager.login_message_category = "info"


# Passwords that pass the letters-and-digits rule yet top every leaked-password list (Chinese
# sites' lists included). Compared case-insensitively.
COMMON_PASSWORDS = frozenset(
    {
        "password1", "password12", "password123", "passw0rd", "p@ssw0rd", "p@ssword1",
        "abc12345", "abc123456", "abcd1234", "abcd12345", "a1234567", "a12345678", "a123456789",
        "aa123456", "aa12345678", "qq123456", "qq12345678", "qwerty12", "qwerty123", "qwe12345",
        "qwe123456", "1qaz2wsx", "1q2w3e4r", "1q2w3e4r5t", "1234qwer", "123qweasd", "qweasd123",
        "zxcvbnm1", "zxc12345", "zxc123456", "asd12345", "asd123456", "asdf1234", "admin123",
        "admin1234", "admin888", "root1234", "test1234", "12345678a", "123456789a", "123456abc",
        "123456aa", "123456qq", "woaini1314", "woaini520", "5201314a", "a5201314", "iloveyou1",
        "iloveyou520", "welcome1", "welcome123", "letmein1", "monkey123", "dragon123",
    }
)  # fmt: skip


# --- Flask-Login -----------------------------------------------------------------------------


@login_manager.user_loader
def load_user(identity: str) -> User | None:
    """The account of a session (or remember-me cookie) holding ``User.get_id()``, while the
    login session it names lives (app/auth/sessions.py); identities from before server-side
    sessions are simply signed out.

    A request carrying a Bearer token is authenticated by that token alone (cookies are ignored),
    so a bad token never falls back to the cookie's account."""
    if bearer_token(request) is not None:
        return None
    user = sessions.user_for_identity(identity)
    if user is None:
        # A dead identity (logged out, ended everywhere, expired): forget it, and have the browser
        # drop a remember-me cookie holding it, rather than look it up on every request.
        if session.get("_user_id") == identity:
            session.pop("_user_id", None)
        if identity == sessions.remembered_identity():
            session["_remember"] = "clear"
    return user


def bearer_token(req) -> str | None:
    """The token of an ``Authorization: Bearer …`` header ("" when empty), None without one."""
    scheme, _space, value = req.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    return value.strip()


@login_manager.request_loader
def load_user_from_bearer(req) -> User | None:
    token = bearer_token(req)
    return user_for_token(token) if token else None


# --- validation ------------------------------------------------------------------------------


def normalize_email(raw: str) -> str:
    """The canonical (lower-case) form of an e-mail address, or ValidationFailed."""
    candidate = (raw or "").strip()
    if not candidate:
        raise ValidationFailed(_("请填写邮箱。"), code="invalid_email", fields={"email": _("请填写邮箱。")})
    try:
        normalized = validate_email(candidate, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        message = _("邮箱地址格式不正确，请检查后重新填写。")
        raise ValidationFailed(message, code="invalid_email", fields={"email": message}) from exc
    return normalized.lower()


def identity_of(raw: Any) -> str | None:
    """The person an e-mail address typed into a form names: its canonical form (case, spaces,
    full-width letters and other Unicode variants of the domain folded as ``normalize_email``
    does), or None when it cannot be anyone's address.

    The one normalisation of identities: the account lookup (log-in, token, password reset) finds
    accounts by it and every per-person rate limit counts by it (app/auth/limits.py), so no
    variant of an address reaches the account without also spending the account's budget.
    """
    if not isinstance(raw, str):
        return None
    try:
        return normalize_email(raw)
    except ValidationFailed:
        return None


def find_account(raw_email: Any) -> User | None:
    """The account an e-mail address typed into a form belongs to, or None."""
    identity = identity_of(raw_email)
    return _find_by_email(identity) if identity else None


def password_problem(password: str, email: str = "") -> tuple[str, str] | None:
    """Why `password` is unacceptable, as (code, message), or None when it is fine."""
    if len(password) < PASSWORD_MIN_LENGTH:
        return "weak_password", _("密码至少需要 %(n)d 个字符。", n=PASSWORD_MIN_LENGTH)
    if len(password) > PASSWORD_MAX_LENGTH:
        return "password_too_long", _("密码不能超过 %(n)d 个字符。", n=PASSWORD_MAX_LENGTH)
    has_letter = any("a" <= c.lower() <= "z" for c in password)
    has_digit = any(c.isascii() and c.isdigit() for c in password)
    if not (has_letter and has_digit):
        return "weak_password", _("密码需要同时包含字母和数字。")
    lowered = password.lower()
    local_part = email.rpartition("@")[0].lower()
    # A very short local part ("li@…") would forbid half the alphabet; it cannot equal an 8-character
    # password anyway.
    if len(local_part) >= 3 and local_part in lowered:
        return "weak_password", _("密码不能与邮箱用户名相同，也不能包含邮箱用户名。")
    if lowered in COMMON_PASSWORDS:
        return "weak_password", _("这个密码太常见，很容易被猜到，请换一个。")
    return None


def clean_display_name(raw: str) -> str:
    name = (raw or "").strip()
    if not name:
        message = _("请填写昵称。")
        raise ValidationFailed(message, code="invalid_display_name", fields={"display_name": message})
    if len(name) > DISPLAY_NAME_MAX_LENGTH:
        message = _("昵称不能超过 %(n)d 个字符。", n=DISPLAY_NAME_MAX_LENGTH)
        raise ValidationFailed(message, code="invalid_display_name", fields={"display_name": message})
    return name


def _validated_account(email: str, password: str, display_name: str) -> tuple[str, str]:
    """(normalised email, display name), or one ValidationFailed naming every bad field."""
    fields: dict[str, str] = {}
    codes: list[str] = []

    def checked(field: str, check) -> str:
        try:
            return check()
        except ValidationFailed as exc:
            fields[field] = exc.message
            codes.append(exc.code)
            return ""

    normalized = checked("email", lambda: normalize_email(email))
    name = checked("display_name", lambda: clean_display_name(display_name))
    problem = password_problem(password or "", normalized or (email or "").strip().lower())
    if problem:
        codes.append(problem[0])
        fields["password"] = problem[1]
    if fields:
        raise ValidationFailed("；".join(fields.values()), code=codes[0], fields=fields)
    return normalized, name


def _email_taken() -> Conflict:
    return Conflict(_("该邮箱已注册，请直接登录。"), code="email_taken")


def _find_by_email(email: str) -> User | None:
    return db.session.scalar(sa.select(User).where(User.email == email))


def _commit_new_user() -> None:
    """Commit, turning a lost race on the unique e-mail into the same refusal as the pre-check."""
    try:
        db.session.commit()
    except IntegrityError as exc:
        db.session.rollback()
        raise _email_taken() from exc


# --- accounts --------------------------------------------------------------------------------


def register_user(email: str, password: str, display_name: str, ip: str | None = None) -> User:
    """Sign-up: a new viewer account, or ValidationFailed / Conflict with nothing stored.
    ``ip`` is the address it registers from (kept for the vote-integrity detector's evidence)."""
    normalized, name = _validated_account(email, password, display_name)
    if _find_by_email(normalized) is not None:
        raise _email_taken()
    address = ip[:45] if ip else None
    user = User(email=normalized, display_name=name, role=Role.VIEWER, registration_ip=address)
    user.set_password(password)
    db.session.add(user)
    _commit_new_user()
    return user


@cache
def _dummy_password_hash(method: str) -> str:
    # Made with the same method as real hashes so that an unknown e-mail costs the same time.
    return generate_password_hash(secrets.token_hex(16), method=method)


def authenticate(email: str, password: str) -> User | None:
    """The account these credentials open, or None. A banned account raises Forbidden.

    An unknown e-mail still costs one password check, so response time does not tell which
    addresses have accounts. The ban is only revealed to someone who knows the password.
    """
    user = find_account(email)
    if user is None:
        check_password_hash(_dummy_password_hash(current_app.config["PASSWORD_HASH_METHOD"]), password or "")
        return None
    # A locked account is refused before its password is checked: the lock holds even
    # against the right password, and guessing during it costs no hashing.
    lockout.ensure_not_locked(user)
    if not user.check_password(password or ""):
        locked_until = lockout.record_failure(user.id)
        if locked_until is not None:
            raise lockout.AccountLocked(locked_until)
        return None
    if user.banned:
        raise Forbidden(_("该账号已被停用，如有疑问请联系活动管理员。"), code="account_banned")
    user.last_login_at = utcnow()
    lockout.clear_failures(user.id)
    db.session.commit()
    return user


class AccountError(Exception):
    """A CLI-level refusal (bad role/collective/province combination), said plainly."""


def create_account(
    *,
    email: str,
    password: str,
    role: Role | str,
    display_name: str | None = None,
    collective_name: str | None = None,
    industry: str | None = None,
    province: str | None = None,
) -> tuple[User, bool]:
    """An account of any role, for `flask users create` and demo data.

    Returns (user, whether the named collective was created). The collective and the user are
    committed together, so a refusal leaves neither behind.
    """
    role = Role(role)
    collective_name = (collective_name or "").strip() or None
    if role == Role.COLLECTIVE and not collective_name:
        raise AccountError(_("角色为 collective 的账号必须用 --collective 指定所属集体。"))
    if collective_name and role != Role.COLLECTIVE:
        raise AccountError(_("只有角色为 collective 的账号才能属于集体（--collective）。"))
    if province is not None and province not in PROVINCES:
        raise AccountError(_("未知的省份：%(p)s。可选：%(all)s", p=province, all="、".join(PROVINCES)))
    if industry is not None and industry not in INDUSTRIES:
        raise AccountError(_("未知的行业：%(i)s。可选：%(all)s", i=industry, all="、".join(INDUSTRIES)))
    if industry and not collective_name:
        raise AccountError(_("--industry 只用于创建集体，请同时给出 --collective。"))
    if province and role in (Role.VIEWER, Role.ADMIN):
        raise AccountError(_("--province 只用于集体（所在省份）或审核员（负责省份）。"))

    normalized = normalize_email(email)
    name = display_name if display_name is not None else normalized.partition("@")[0]
    normalized, name = _validated_account(normalized, password, name[:DISPLAY_NAME_MAX_LENGTH])
    if _find_by_email(normalized) is not None:
        raise _email_taken()

    collective = None
    created = False
    if collective_name:
        collective = db.session.scalar(sa.select(Collective).where(Collective.name == collective_name))
        if collective is None:
            if not industry or not province:
                message = _("集体“%(name)s”不存在；创建它需要同时给出 --industry 和 --province。")
                raise AccountError(message % {"name": collective_name})
            collective = Collective(name=collective_name, industry=industry, province=province)
            db.session.add(collective)
            created = True

    user = User(
        email=normalized,
        display_name=name,
        role=role,
        collective=collective,
        # For moderators the province is their review scope (None = national); for collective
        # members it describes the collective, not the person.
        province=province if role == Role.MODERATOR else None,
        # An operator typed the address: the account needs no confirmation mail.
        email_verified_at=utcnow(),
    )
    user.set_password(password)
    db.session.add(user)
    _commit_new_user()
    return user, created


# --- serialisation ---------------------------------------------------------------------------


def user_to_dict(user: User) -> dict[str, Any]:
    """The account as the API shows it to its owner (GET /me, auth/token, auth/register)."""
    collective = user.collective
    return {
        "id": user.id,
        "email": user.email,
        "display_name": user.display_name,
        "role": user.role.value,
        "collective": {"id": collective.id, "name": collective.name} if collective else None,
        "province": user.province,
    }


def public_user_to_dict(user: User) -> dict[str, Any]:
    """What anyone may see about an account (comment authors, …): no e-mail address."""
    return {"id": user.id, "display_name": user.display_name}


# --- API tokens ------------------------------------------------------------------------------


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


TOKEN_LABEL_MAX = 120


def issue_token(user: User, label: str | None = None) -> str:
    """A new API token for `user`; only its hash is stored. `label` (the client's User-Agent)
    is what the owner sees in the list of their tokens."""
    token = secrets.token_urlsafe(32)
    days = current_app.config["API_TOKEN_DAYS"]
    db.session.add(
        ApiToken(
            user_id=user.id,
            token_hash=_hash_token(token),
            expires_at=utcnow() + timedelta(days=days),
            label=(label or "")[:TOKEN_LABEL_MAX] or None,
        )
    )
    db.session.commit()
    return token


# The account behind a live token, in one query: every bearer-token call (a like, above all) runs it.
# Built once, so SQLAlchemy reuses its compiled form (see app.works.services._WORK_BY_ID).
_USER_FOR_TOKEN = (
    sa.select(User, ApiToken.id, ApiToken.expires_at)
    .join(ApiToken, ApiToken.user_id == User.id)
    .where(
        ApiToken.token_hash == sa.bindparam("token_hash"),
        ApiToken.expires_at > sa.bindparam("now", type_=ApiToken.__table__.c.expires_at.type),
        User.banned.is_(False),
    )
)


# What a refused like or unlike asks (app/engagement/services.py): is the token that wrote it live?
_TOKEN_LIVE = (
    sa.select(ApiToken.id)
    .join(User, ApiToken.user_id == User.id)
    .where(
        ApiToken.id == sa.bindparam("token_id"),
        ApiToken.expires_at > sa.bindparam("now", type_=ApiToken.__table__.c.expires_at.type),
        User.banned.is_(False),
    )
)


def authenticate_token(token: str) -> tuple[User, int] | None:
    """The account behind a live API token and the token's id, or None. Remembered by this
    process for TOKEN_CACHE_SECONDS (app/auth/token_cache.py says how soon a revocation or a ban
    is seen)."""
    if not token:
        return None
    token_hash = _hash_token(token)
    cached = token_cache.lookup(token_hash)
    if cached is not None:
        return cached
    now = utcnow()
    row = db.session.execute(_USER_FOR_TOKEN, {"token_hash": token_hash, "now": now}).first()
    if row is None:
        return None
    token_cache.remember(token_hash, row[0], row[1], row[2], now)
    return row[0], row[1]


def token_still_live(token: str, token_id: int) -> bool:
    """Asked from SQL, never the cache: the token opens a live, unbanned account. When it does not,
    this process forgets it at once."""
    live = db.session.execute(_TOKEN_LIVE, {"token_id": token_id, "now": utcnow()}).first() is not None
    if not live:
        token_cache.forget(_hash_token(token))
    return live


def user_for_token(token: str) -> User | None:
    found = authenticate_token(token)
    return found[0] if found else None


def live_tokens(user_id: int) -> list[ApiToken]:
    """The account's API tokens that still open it, newest first."""
    return list(
        db.session.scalars(
            sa.select(ApiToken)
            .where(ApiToken.user_id == user_id, ApiToken.expires_at > utcnow())
            .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
        )
    )


def revoke_token(user_id: int, token_id: int) -> None:
    """End one of the account's API tokens at once; someone else's (or none) is 404."""
    deleted = db.session.execute(
        sa.delete(ApiToken).where(ApiToken.id == token_id, ApiToken.user_id == user_id)
    ).rowcount
    db.session.commit()
    if not deleted:
        raise NotFound(_("该令牌不存在或已撤销。"), code="token_not_found")
