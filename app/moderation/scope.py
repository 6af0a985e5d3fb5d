"""Who moderates what: admins and national moderators everything, provincial moderators their
own province. Every moderation service checks through here."""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _

from app.errors import Forbidden, ServiceError
from app.models import Role


def is_moderator(user: Any) -> bool:
    return bool(getattr(user, "is_authenticated", False)) and user.role in (Role.MODERATOR, Role.ADMIN)


def is_national(user: Any) -> bool:
    return is_moderator(user) and user.is_national


def province_of(user: Any) -> str | None:
    """The one province a moderator is limited to, or None for national scope."""
    return None if is_national(user) else user.province


def in_scope(user: Any, province: str | None) -> bool:
    return is_moderator(user) and (is_national(user) or province == user.province)


def require_moderator(user: Any) -> None:
    """401 when signed out, 403 for anyone who is not a moderator or admin."""
    if not getattr(user, "is_authenticated", False):
        raise ServiceError(_("请先登录。"), code="unauthorized", status=401)
    if not is_moderator(user):
        raise Forbidden(_("只有审核管理员可以进行此操作。"))


def require_national(user: Any) -> None:
    require_moderator(user)
    if not is_national(user):
        raise Forbidden(_("只有全国组委会的管理员可以进行此操作。"))
