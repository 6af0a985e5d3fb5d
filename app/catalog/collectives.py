"""Collectives (青年文明号集体): creating them, and the profile their members keep — 亮标识 (the
badge), 亮承诺 (the promise) and the supervision channel."""

from __future__ import annotations

import secrets
from typing import Any, BinaryIO

import sqlalchemy as sa
from flask_babel import gettext as _

from app.catalog.lists import INDUSTRIES, PROVINCES
from app.errors import Conflict, Forbidden, NotFound, ValidationFailed
from app.extensions import db
from app.field_limits import CHANNEL_MAX, PROMISE_MAX
from app.images import process_upload
from app.models import Collective, Level
from app.policy import can_manage_collective
from app.storage import delete_quietly
from app.stored_files import media_url, store_then_commit

BADGE_SIDE = 512


def badge_key(collective_id: int, ext: str) -> str:
    return f"collectives/{collective_id}/badge-{secrets.token_hex(8)}.{ext}"


def badge_url(collective: Collective) -> str | None:
    return media_url(collective.badge_key) if collective.badge_key else None


def get_collective(collective_id: int) -> Collective:
    collective = db.session.get(Collective, collective_id)
    if collective is None:
        raise NotFound(_("该集体不存在。"))
    return collective


def create_collective(
    name: str,
    *,
    industry: str,
    province: str,
    level: Level | str = Level.PROVINCIAL,
    promise: str = "",
    supervision_channel: str = "",
    verified: bool = False,
) -> Collective:
    name = name.strip()
    errors: dict[str, str] = {}
    if not name or len(name) > 120:
        errors["name"] = _("集体名称为 1 至 120 个字。")
    if industry not in INDUSTRIES:
        errors["industry"] = _("请选择行业。")
    if province not in PROVINCES:
        errors["province"] = _("请选择省份。")
    try:
        level = Level(level)
    except ValueError:
        errors["level"] = _("请选择级别。")
    if errors:
        raise ValidationFailed(next(iter(errors.values())), fields=errors)
    if db.session.scalar(sa.select(Collective.id).where(Collective.name == name)) is not None:
        raise Conflict(_("名为“%(name)s”的集体已存在。", name=name), code="collective_exists")
    collective = Collective(
        name=name,
        industry=industry,
        province=province,
        level=level,
        promise=promise.strip(),
        supervision_channel=supervision_channel.strip(),
        verified=verified,
    )
    db.session.add(collective)
    db.session.commit()
    return collective


def update_collective_profile(
    collective: Collective,
    actor: Any,
    *,
    promise: str,
    supervision_channel: str,
    badge: BinaryIO | bytes | None = None,
) -> Collective:
    """Members (and admins) edit 亮标识 (badge), 亮承诺 (promise) and the supervision channel."""
    if not can_manage_collective(actor, collective):
        raise Forbidden(_("只有本集体的成员可以修改集体资料。"))
    promise = (promise or "").strip()
    supervision_channel = (supervision_channel or "").strip()
    errors: dict[str, str] = {}
    if len(promise) > PROMISE_MAX:
        errors["promise"] = _("承诺最多 %(n)s 个字。", n=PROMISE_MAX)
    if len(supervision_channel) > CHANNEL_MAX:
        errors["supervision_channel"] = _("监督渠道最多 %(n)s 个字。", n=CHANNEL_MAX)
    if errors:
        raise ValidationFailed(next(iter(errors.values())), fields=errors)

    files: list[tuple[str, bytes, str]] = []
    old_badge = collective.badge_key
    if badge is not None:
        image = process_upload(badge, max_side=BADGE_SIDE)
        key = badge_key(collective.id, image.ext)
        files.append((key, image.data, image.mime))
        collective.badge_key = key
    collective.promise = promise
    collective.supervision_channel = supervision_channel
    store_then_commit(files)
    if files and old_badge:
        delete_quietly([old_badge])
    return collective


def set_collective_badge(collective: Collective, actor: Any, badge: BinaryIO | bytes) -> Collective:
    return update_collective_profile(
        collective,
        actor,
        promise=collective.promise,
        supervision_channel=collective.supervision_channel,
        badge=badge,
    )
