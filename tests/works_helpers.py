"""Helpers shared by the works tests: pictures made in memory, a session log-in, a CSRF token."""

from __future__ import annotations

import io
import re
import struct
import zlib

from PIL import Image

_CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


def jpeg_bytes(size: tuple[int, int] = (800, 600), color=(200, 30, 40), **save_kwargs) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, "JPEG", **save_kwargs)
    return out.getvalue()


def png_bytes(size: tuple[int, int] = (400, 300), mode: str = "RGB", color=(20, 120, 200)) -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, color).save(out, "PNG")
    return out.getvalue()


def png_bomb(width: int = 10_000, height: int = 10_000) -> bytes:
    """A valid 1-bit PNG of width×height pixels that is only a few kilobytes on disk."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = b"\x00" * (1 + (width + 7) // 8)  # filter byte + packed bits
    packer = zlib.compressobj(9)
    idat = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def sign_in(client, user) -> None:
    """Log a user in through the session, the way Flask-Login stores it (on a login session
    opened on the server, as the log-in page does)."""
    from app.auth.sessions import open_session

    with client.session_transaction() as session:
        session["_user_id"] = open_session(user, remember=False)
        session["_fresh"] = True


def page_csrf_token(client) -> str:
    html = client.get("/").get_data(as_text=True)
    match = _CSRF_META.search(html)
    assert match, "the home page carries no csrf-token meta tag"
    return match.group(1)


def make_campaign(*, submission_days=(-10, 30), voting_days=(-10, 60), title="测试活动"):
    """A campaign whose windows are given in days relative to now."""
    from datetime import timedelta

    from app.extensions import db
    from app.models import Campaign, utcnow

    now = utcnow()
    campaign = Campaign(
        title=title,
        submission_opens=now + timedelta(days=submission_days[0]),
        submission_closes=now + timedelta(days=submission_days[1]),
        voting_opens=now + timedelta(days=voting_days[0]),
        voting_closes=now + timedelta(days=voting_days[1]),
    )
    db.session.add(campaign)
    db.session.commit()
    return campaign


def make_work(collective, campaign, *, title="作品", kind="story", status="published", published_at=None):
    """A work row written directly (for listing tests that need many of them quickly)."""
    from app.extensions import db
    from app.models import Work, WorkKind, WorkStatus, utcnow

    status = WorkStatus(status)
    work = Work(
        collective_id=collective.id,
        campaign_id=campaign.id,
        kind=WorkKind(kind),
        title=title,
        summary=f"{title}的简介",
        body=f"{title}的正文",
        body_html=f"<p>{title}的正文</p>",
        status=status,
        published_at=published_at or (utcnow() if status == WorkStatus.PUBLISHED else None),
    )
    db.session.add(work)
    db.session.commit()
    return work
