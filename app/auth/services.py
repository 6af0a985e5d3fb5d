"""Accounts: creating users, checking passwords, API tokens, Flask-Login loaders."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app, request

from app.extensions import db, login_manager
from app.models import ApiToken, User, utcnow

login_manager.login_view = "auth.login"
login_manager.login_message = "请先登录。"
login_manager.login_message_category = "info"


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    return db.session.get(User, int(user_id))


@login_manager.request_loader
def load_user_from_bearer(req) -> User | None:
    header = req.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        return None
    return user_for_token(header.removeprefix("Bearer ").strip())


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(user: User) -> str:
    """A new API token for `user`; only its hash is stored."""
    token = secrets.token_urlsafe(32)
    days = current_app.config["API_TOKEN_DAYS"]
    db.session.add(
        ApiToken(user_id=user.id, token_hash=_hash_token(token), expires_at=utcnow() + timedelta(days=days))
    )
    db.session.commit()
    return token


def user_for_token(token: str) -> User | None:
    if not token:
        return None
    row = db.session.scalar(sa.select(ApiToken).where(ApiToken.token_hash == _hash_token(token)))
    if row is None or row.expires_at < utcnow() or row.user.banned:
        return None
    return row.user


def client_ip() -> str:
    return request.remote_addr or ""
