"""Typed SQLAlchemy 2.0 models for every entity in DESIGN.md "Data".

The SQL database is the source of truth; Redis only caches counters derived from these rows.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
from datetime import UTC, date, datetime

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import current_app
from flask_login import UserMixin
from werkzeug.security import check_password_hash, generate_password_hash

from app.clock import utcnow
from app.extensions import db


class UTCDateTime(sa.TypeDecorator):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them naive)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


class Role(enum.StrEnum):
    VIEWER = "viewer"
    COLLECTIVE = "collective"
    MODERATOR = "moderator"
    ADMIN = "admin"


class Level(enum.StrEnum):
    NATIONAL = "national"
    PROVINCIAL = "provincial"
    CITY = "city"


class WorkKind(enum.StrEnum):
    FILM = "film"
    VIDEO = "video"
    STORY = "story"


class WorkStatus(enum.StrEnum):
    DRAFT = "draft"
    UPLOADING = "uploading"
    PROCESSING = "processing"
    FAILED = "failed"
    PENDING_REVIEW = "pending_review"
    PUBLISHED = "published"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


class AssetRole(enum.StrEnum):
    SOURCE = "source"
    MP4_360 = "mp4_360"
    MP4_720 = "mp4_720"
    MP4_1080 = "mp4_1080"
    HLS = "hls"
    POSTER = "poster"
    IMAGE = "image"


class AssetStatus(enum.StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    READY = "ready"
    FAILED = "failed"


class CommentStatus(enum.StrEnum):
    VISIBLE = "visible"
    PENDING = "pending"
    HIDDEN = "hidden"


class ReportStatus(enum.StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"
    DISMISSED = "dismissed"


class ReportTarget(enum.StrEnum):
    """What a report (Report.target_type) names."""

    WORK = "work"
    COMMENT = "comment"


class ReviewQueue(enum.StrEnum):
    """The review queues of works; "recommended" is the national committee's view of the works
    provinces put forward (推报)."""

    PENDING = "pending"
    RECOMMENDED = "recommended"
    PUBLISHED = "published"
    REJECTED = "rejected"


class ReviewAction(enum.StrEnum):
    """The review actions on a work (also ModerationEvent.action of those events)."""

    APPROVE = "approve"
    REJECT = "reject"
    RECOMMEND = "recommend"
    UNRECOMMEND = "unrecommend"


def _enum(cls: type[enum.StrEnum], name: str) -> sa.Enum:
    # Stored as VARCHAR + a named CHECK constraint: portable and easy to extend in a migration.
    return sa.Enum(
        cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=24,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )


class Collective(db.Model):
    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    name: so.Mapped[str] = so.mapped_column(sa.String(120), unique=True)
    industry: so.Mapped[str] = so.mapped_column(sa.String(32), index=True)
    province: so.Mapped[str] = so.mapped_column(sa.String(32), index=True)
    level: so.Mapped[Level] = so.mapped_column(_enum(Level, "level"), default=Level.PROVINCIAL)
    badge_key: so.Mapped[str | None] = so.mapped_column(sa.String(255))
    promise: so.Mapped[str] = so.mapped_column(sa.Text, default="")
    supervision_channel: so.Mapped[str] = so.mapped_column(sa.String(255), default="")
    verified: so.Mapped[bool] = so.mapped_column(default=False)
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime(), default=utcnow)

    members: so.WriteOnlyMapped[User] = so.relationship(back_populates="collective")
    works: so.WriteOnlyMapped[Work] = so.relationship(back_populates="collective")


def password_fingerprint(password_hash: str) -> str:
    """A keyed digest of the password hash: changes with the password, reveals nothing of it."""
    key = current_app.secret_key
    key_bytes = key.encode() if isinstance(key, str) else bytes(key or b"")
    return hmac.new(key_bytes, password_hash.encode(), hashlib.sha256).hexdigest()[:20]


class User(UserMixin, db.Model):
    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    email: so.Mapped[str] = so.mapped_column(sa.String(254), unique=True)
    display_name: so.Mapped[str] = so.mapped_column(sa.String(64))
    password_hash: so.Mapped[str] = so.mapped_column(sa.String(256))
    role: so.Mapped[Role] = so.mapped_column(_enum(Role, "role"), default=Role.VIEWER)
    collective_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("collective.id"), index=True)
    # Moderators: a province name, or None for national scope.
    province: so.Mapped[str | None] = so.mapped_column(sa.String(32))
    banned: so.Mapped[bool] = so.mapped_column(default=False)
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime(), default=utcnow)
    # Where the account was registered from: the vote-integrity detector shows moderators where
    # a batch of accounts was made (app.moderation.integrity). Null for accounts made by the CLI.
    registration_ip: so.Mapped[str | None] = so.mapped_column(sa.String(45))
    last_login_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime())
    # Lock-out (app/auth/lockout.py): wrong passwords counted since failed_since; log-in is
    # refused until locked_until. Only ever changed by single UPDATE statements.
    failed_logins: so.Mapped[int] = so.mapped_column(default=0, server_default="0")
    failed_since: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime())
    locked_until: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime())
    # When the owner opened the confirmation link mailed to `email` (app/auth/verification.py);
    # None while unconfirmed. With REQUIRE_VERIFIED_EMAIL, liking and commenting wait for it.
    email_verified_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime())

    collective: so.Mapped[Collective | None] = so.relationship(back_populates="members")

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password)

    def get_id(self) -> str:
        """What Flask-Login keeps in the session and the remember-me cookie.

        ``<id>.<login session token>.<password fingerprint>`` once app.auth.sessions has opened a
        login session for this object (``login_identity``): the server can end that one browser,
        and a password change ends them all. Without one, the bare id, which signs nobody in."""
        return self.__dict__.get("login_identity") or str(self.id)

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    @property
    def is_active(self) -> bool:  # Flask-Login refuses sessions of banned accounts
        return not self.banned

    @property
    def is_moderator(self) -> bool:
        return self.role in (Role.MODERATOR, Role.ADMIN)

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN

    @property
    def is_national(self) -> bool:
        """National scope: admins, and moderators without a province."""
        return self.role == Role.ADMIN or (self.role == Role.MODERATOR and not self.province)


class ApiToken(db.Model):
    """Bearer tokens for API clients; only a SHA-256 of the token is stored."""

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    user_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("user.id"), index=True)
    token_hash: so.Mapped[str] = so.mapped_column(sa.String(64), unique=True)
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime(), default=utcnow)
    expires_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime())
    # What the owner sees in the list of their tokens: the client that asked for it (User-Agent).
    label: so.Mapped[str | None] = so.mapped_column(sa.String(120))

    user: so.Mapped[User] = so.relationship()


class LoginSession(db.Model):
    """One signed-in browser (app/auth/sessions.py): log-out deletes its row, so a copy of its
    session or remember-me cookie signs nobody in afterwards. Only a SHA-256 of the token that
    the cookies carry is stored."""

    __tablename__ = "login_session"

    id: so.Mapped[str] = so.mapped_column(sa.String(64), primary_key=True)
    user_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("user.id"), index=True)
    remember: so.Mapped[bool] = so.mapped_column(default=False)
    user_agent: so.Mapped[str] = so.mapped_column(sa.String(120), default="")
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime(), default=utcnow)
    expires_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime())


class Campaign(db.Model):
    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    title: so.Mapped[str] = so.mapped_column(sa.String(120))
    description: so.Mapped[str] = so.mapped_column(sa.Text, default="")
    submission_opens: so.Mapped[datetime] = so.mapped_column(UTCDateTime())
    submission_closes: so.Mapped[datetime] = so.mapped_column(UTCDateTime())
    voting_opens: so.Mapped[datetime] = so.mapped_column(UTCDateTime())
    voting_closes: so.Mapped[datetime] = so.mapped_column(UTCDateTime())
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime(), default=utcnow)


class Work(db.Model):
    __table_args__ = (sa.Index("ix_work_status_published_at", "status", "published_at"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    collective_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("collective.id"), index=True)
    campaign_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("campaign.id"), index=True)
    author_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("user.id"))
    kind: so.Mapped[WorkKind] = so.mapped_column(_enum(WorkKind, "kind"))
    title: so.Mapped[str] = so.mapped_column(sa.String(120))
    summary: so.Mapped[str] = so.mapped_column(sa.String(500), default="")
    body: so.Mapped[str] = so.mapped_column(sa.Text, default="")
    # Sanitised HTML rendered from `body` at save time, so pages never render Markdown.
    body_html: so.Mapped[str] = so.mapped_column(sa.Text, default="")
    status: so.Mapped[WorkStatus] = so.mapped_column(_enum(WorkStatus, "status"), default=WorkStatus.DRAFT)
    reject_reason: so.Mapped[str | None] = so.mapped_column(sa.String(500))
    recommended: so.Mapped[bool] = so.mapped_column(default=False)
    recommended_by_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("user.id"))
    recommended_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime())
    published_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime())
    # Views are counted in Redis and flushed here in batches; likes and comments are counted
    # from their own rows so that no hot work becomes a hot row.
    view_count: so.Mapped[int] = so.mapped_column(default=0)
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime(), default=utcnow)
    updated_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    collective: so.Mapped[Collective] = so.relationship(back_populates="works")
    campaign: so.Mapped[Campaign] = so.relationship()
    author: so.Mapped[User | None] = so.relationship(foreign_keys=[author_id])
    assets: so.Mapped[list[MediaAsset]] = so.relationship(
        back_populates="work", order_by="MediaAsset.position", cascade="all, delete-orphan"
    )


class MediaAsset(db.Model):
    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    work_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("work.id"), index=True)
    role: so.Mapped[AssetRole] = so.mapped_column(_enum(AssetRole, "role"))
    position: so.Mapped[int] = so.mapped_column(default=0)
    storage_key: so.Mapped[str] = so.mapped_column(sa.String(255))
    thumbnail_key: so.Mapped[str | None] = so.mapped_column(sa.String(255))
    mime: so.Mapped[str] = so.mapped_column(sa.String(100), default="application/octet-stream")
    bytes: so.Mapped[int] = so.mapped_column(sa.BigInteger, default=0)
    width: so.Mapped[int | None]
    height: so.Mapped[int | None]
    duration: so.Mapped[float | None]
    status: so.Mapped[AssetStatus] = so.mapped_column(
        _enum(AssetStatus, "status"), default=AssetStatus.PENDING
    )
    error: so.Mapped[str | None] = so.mapped_column(sa.String(500))
    progress: so.Mapped[float] = so.mapped_column(default=0.0)
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime(), default=utcnow)

    work: so.Mapped[Work] = so.relationship(back_populates="assets")


class Like(db.Model):
    __table_args__ = (
        sa.UniqueConstraint("user_id", "work_id", name="uq_like_user_work"),
        # The vote-integrity detector (app.moderation.integrity) reads by time: the last minutes'
        # likes of every work, and one work's likes in a window.
        sa.Index("ix_like_created_at", "created_at"),
        sa.Index("ix_like_work_id_created_at", "work_id", "created_at"),
    )

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    user_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("user.id"))
    work_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("work.id"))
    ip: so.Mapped[str | None] = so.mapped_column(sa.String(45))
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime(), default=utcnow)


class ViewDay(db.Model):
    """Views per work per day (Beijing time), written by the periodic views flush next to
    ``work.view_count``: what the organisers' dashboard charts over time."""

    __tablename__ = "view_day"

    work_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("work.id"), primary_key=True)
    day: so.Mapped[date] = so.mapped_column(sa.Date, primary_key=True, index=True)
    views: so.Mapped[int] = so.mapped_column(default=0)


class Comment(db.Model):
    __table_args__ = (sa.Index("ix_comment_work_status_id", "work_id", "status", "id"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    work_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("work.id"))
    user_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("user.id"), index=True)
    parent_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("comment.id"))
    body: so.Mapped[str] = so.mapped_column(sa.Text)
    status: so.Mapped[CommentStatus] = so.mapped_column(
        _enum(CommentStatus, "status"), default=CommentStatus.VISIBLE
    )
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime(), default=utcnow)


class Report(db.Model):
    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    reporter_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("user.id"), index=True)
    target_type: so.Mapped[str] = so.mapped_column(sa.String(16))
    target_id: so.Mapped[int]
    reason: so.Mapped[str] = so.mapped_column(sa.String(500))
    status: so.Mapped[ReportStatus] = so.mapped_column(
        _enum(ReportStatus, "status"), default=ReportStatus.OPEN
    )
    resolved_by_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("user.id"))
    resolved_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime())
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime(), default=utcnow)


class FeaturedSlot(db.Model):
    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    work_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("work.id"), unique=True)
    position: so.Mapped[int]
    note: so.Mapped[str] = so.mapped_column(sa.String(255), default="")
    by_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("user.id"))
    at: so.Mapped[datetime] = so.mapped_column(UTCDateTime(), default=utcnow)


class ModerationEvent(db.Model):
    """Append-only audit log: rows are inserted, never updated or deleted."""

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    actor_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("user.id"), index=True)
    action: so.Mapped[str] = so.mapped_column(sa.String(32))
    target_type: so.Mapped[str] = so.mapped_column(sa.String(16))
    target_id: so.Mapped[int]
    reason: so.Mapped[str] = so.mapped_column(sa.String(500), default="")
    at: so.Mapped[datetime] = so.mapped_column(UTCDateTime(), default=utcnow)


class FlagStatus(enum.StrEnum):
    OPEN = "open"
    DISMISSED = "dismissed"
    VOIDED = "voided"


class VoteFlag(db.Model):
    """Evidence that a work's likes may be bought or scripted (刷票), scored by the detector
    (app.moderation.integrity) for a moderator to judge; never an automatic verdict.

    One open flag per work: a later detection run updates it with the newer, stronger evidence.
    """

    __tablename__ = "vote_flag"
    __table_args__ = (
        sa.Index("ix_vote_flag_status_score", "status", "score"),
        # One open flag per work, even when two detector processes find the same work at once.
        sa.Index(
            "uq_vote_flag_open_work",
            "work_id",
            unique=True,
            sqlite_where=sa.text("status = 'open'"),
            postgresql_where=sa.text("status = 'open'"),
        ),
    )

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    work_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("work.id"), index=True)
    score: so.Mapped[float]
    # JSON: the signals, the window and the accounts whose likes look suspicious.
    evidence: so.Mapped[str] = so.mapped_column(sa.Text)
    status: so.Mapped[FlagStatus] = so.mapped_column(
        _enum(FlagStatus, "flag_status"), default=FlagStatus.OPEN
    )
    window_start: so.Mapped[datetime] = so.mapped_column(UTCDateTime())
    window_end: so.Mapped[datetime] = so.mapped_column(UTCDateTime())
    decided_by_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("user.id"))
    decided_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime())
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime(), default=utcnow)
    updated_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    work: so.Mapped[Work] = so.relationship()


class IntegrityPass(db.Model):
    """When each pass of the vote-integrity detector last ran (app.moderation.integrity): a pass
    is claimed by one conditional UPDATE, so among several detector processes one runs it."""

    __tablename__ = "integrity_pass"

    name: so.Mapped[str] = so.mapped_column(sa.String(16), primary_key=True)
    last_run_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime())


class UploadStatus(enum.StrEnum):
    OPEN = "open"
    COMPLETED = "completed"
    ABORTED = "aborted"


class UploadSession(db.Model):
    """A resumable multipart upload of a film's or video's source file (app.media.uploads).

    ``id`` is a random, unguessable token: it is the ``upload_id`` clients see. The storage
    backend's own multipart id (``storage_upload_id``) never leaves the server.
    """

    __tablename__ = "upload_session"

    id: so.Mapped[str] = so.mapped_column(sa.String(64), primary_key=True)
    work_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("work.id"), index=True)
    user_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("user.id"))
    storage_key: so.Mapped[str] = so.mapped_column(sa.String(255))
    storage_upload_id: so.Mapped[str] = so.mapped_column(sa.String(1024))
    filename: so.Mapped[str] = so.mapped_column(sa.String(255))
    size: so.Mapped[int] = so.mapped_column(sa.BigInteger)
    content_type: so.Mapped[str] = so.mapped_column(sa.String(100))
    part_size: so.Mapped[int]
    status: so.Mapped[UploadStatus] = so.mapped_column(
        _enum(UploadStatus, "upload_status"), default=UploadStatus.OPEN
    )
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime(), default=utcnow)
    expires_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime())

    work: so.Mapped[Work] = so.relationship()


class NotificationKind(enum.StrEnum):
    APPROVED = "approved"
    REJECTED = "rejected"
    RECOMMENDED = "recommended"
    FEATURED = "featured"
    REPLY = "reply"


class Notification(db.Model):
    """Something that happened to a user's work or comment (app.notifications), shown in-app.

    Written in the transaction of the action it tells about; ``read_at`` is null while unread.
    """

    __table_args__ = (
        # The bell's "unread count of user X" and the newest-first list of one user's page.
        sa.Index("ix_notification_user_unread", "user_id", "read_at"),
        sa.Index("ix_notification_user_id_id", "user_id", "id"),
    )

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    user_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("user.id"))
    kind: so.Mapped[NotificationKind] = so.mapped_column(_enum(NotificationKind, "notification_kind"))
    work_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("work.id"))
    comment_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("comment.id"))
    actor_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("user.id"))
    # JSON: what the sentence shows besides the work's title (a rejection reason, a reply's text).
    details: so.Mapped[str] = so.mapped_column(sa.Text, default="{}")
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime(), default=utcnow)
    read_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime())
