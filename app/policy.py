"""Who may do what: the one home of every rule about a person's standing.

Pages, the API and the services all ask here: signed in or not, member of which collective,
moderator of which province or of the whole country. The rules, in one place:

* Admins can do everything a national moderator can, and manage every collective.
* National moderators (no province) moderate everywhere; provincial moderators only works and
  comments of their own province's collectives.
* A collective's members (role ``collective``) edit their own collective's works and profile.
* Published works are for everyone; an unpublished one only for its collective, moderators in
  scope and admins (for anyone else it does not exist: 404, never 403).

Every function takes a :data:`Viewer`: the signed-in :class:`~app.models.User`, Flask-Login's
anonymous user, or None (services called without a request).
"""

from __future__ import annotations

from typing import TypeAlias

from flask_babel import gettext as _
from flask_login import AnonymousUserMixin

from app.errors import Forbidden, ServiceError
from app.models import Collective, Role, User, Work, WorkStatus

Viewer: TypeAlias = User | AnonymousUserMixin | None


def signed_in(user: Viewer) -> bool:
    return bool(user is not None and getattr(user, "is_authenticated", False))


def require_signed_in(user: Viewer) -> None:
    """401 with the sentence every page and API call uses."""
    if not signed_in(user):
        raise ServiceError(_("请先登录。"), code="unauthorized", status=401)


# --------------------------------------------------------------------------------------------
# Collectives and their works.


def is_member(user: Viewer, collective_id: int | None) -> bool:
    """True when `user` is a collective account of that collective."""
    return (
        signed_in(user)
        and collective_id is not None
        and user.role == Role.COLLECTIVE
        and user.collective_id == collective_id
    )


def can_manage_collective(user: Viewer, collective: Collective) -> bool:
    return signed_in(user) and (user.is_admin or is_member(user, collective.id))


def can_edit_work(user: Viewer, work: Work) -> bool:
    return signed_in(user) and (user.is_admin or is_member(user, work.collective_id))


def can_view_work(user: Viewer, work: Work) -> bool:
    """Published works to anyone; the rest to their collective, moderators in scope and admins."""
    if work.status == WorkStatus.PUBLISHED:
        return True
    return can_edit_work(user, work) or in_scope(user, work.collective.province)


def can_see_processing(user: Viewer, work: Work) -> bool:
    """A work's media processing status: those who see the work and either edit it or moderate."""
    return can_view_work(user, work) and (can_edit_work(user, work) or is_moderator(user))


# --------------------------------------------------------------------------------------------
# Moderators.


def is_moderator(user: Viewer) -> bool:
    return signed_in(user) and user.role in (Role.MODERATOR, Role.ADMIN)


def is_national(user: Viewer) -> bool:
    return is_moderator(user) and user.is_national


def province_of(user: Viewer) -> str | None:
    """The one province a moderator is limited to, or None for national scope."""
    return None if is_national(user) else user.province


def in_scope(user: Viewer, province: str | None) -> bool:
    """A moderator (or admin) whose scope holds `province`."""
    return is_moderator(user) and (is_national(user) or province == user.province)


def require_moderator(user: Viewer) -> None:
    """401 when signed out, 403 for anyone who is not a moderator or admin."""
    require_signed_in(user)
    if not is_moderator(user):
        raise Forbidden(_("只有审核管理员可以进行此操作。"))


def require_national(user: Viewer) -> None:
    require_moderator(user)
    if not is_national(user):
        raise Forbidden(_("只有全国组委会的管理员可以进行此操作。"))
