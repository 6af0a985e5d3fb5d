"""The shapes of API v1, declared once: what each call takes and what it answers.

One module, though long: it is the contract other clients depend on, and a reviewer sees every
shape of it, and every change to it, in one place.

/api/v1/openapi.json is generated from these schemas (flask-smorest and apispec, app/api/openapi.py),
and request bodies are parsed with them (app/api/parsing.py). Enums come from the models, length
limits from app/field_limits.py; besides those it imports only the error classes (app/errors.py)
and the range checks of numbers from requests (app/ids.py), so the capabilities underneath can
move without touching it.

Requests. A body schema checks what the API layer owns: that the body is a JSON object
(parsing.py), that the fields it needs are there (absent, null or "" is missing), and that each
field has its JSON type. What a value means (a campaign that exists, a kind among the kinds, a
title within TITLE_MAX) is the service's to check, for the pages and the API alike, and its
refusals, with their codes (``unknown_campaign``, ``invalid_target_type``…), are part of the
contract. Fields whose value the service checks in full are ``Sent*`` fields: declared here with
their type, handed to the service exactly as sent. Limits the services enforce are declared
(``maxLength``, ``maxItems``) but not checked twice.

Answers. The schemas declare what the ``*_to_dict`` functions of the services build; answers are
not dumped through marshmallow on their way out: on a page of works that would cost more than
the rest of the serialisation (docs/decisions.md, measured with bench/api_calls.py). The tests
hold the two together: tests/contract.py and the schemathesis fuzz validate real answers against
the generated schemas.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from typing import Any

from flask_babel import gettext as _
from marshmallow import EXCLUDE, Schema, ValidationError, fields, missing, validate

from app.errors import ServiceError, ValidationFailed
from app.field_limits import (
    BODY_MAX,
    BULK_MAX,
    DISPLAY_NAME_MAX_LENGTH,
    EMAIL_MAX_LENGTH,
    PASSWORD_MAX_LENGTH,
    QUERY_MAX,
    REASON_MAX,
    SUMMARY_MAX,
    TITLE_MAX,
    WALL_MAX,
)
from app.ids import invalid_parameter
from app.models import (
    CaptionLang,
    CommentStatus,
    Level,
    NotificationKind,
    ReportStatus,
    ReportTarget,
    ReviewAction,
    ReviewQueue,
    Role,
    UploadStatus,
    WorkKind,
    WorkStatus,
)

# Error kinds a field reports; parsing.py turns them into the answer's sentences (Chinese first).
MISSING = "missing"
NOT_A_STRING = "not_a_string"
NOT_AN_INTEGER = "not_an_integer"
NOT_A_LIST = "not_a_list"


class Shape(Schema):
    """Every schema here: unknown keys are ignored in bodies (as they always were) and allowed in
    answers (clients must ignore fields they do not know: that is how the API grows)."""

    class Meta:
        unknown = EXCLUDE


# --------------------------------------------------------------------------------------------
# Request fields.


class Text(fields.String):
    """A string. A required one must not be empty; null in an optional one means "not given"."""

    default_error_messages = {"required": MISSING, "null": MISSING, "invalid": NOT_A_STRING}

    def __init__(self, **kwargs: Any):
        if kwargs.get("required"):
            kwargs["validate"] = validate.Length(min=1, error=MISSING)
        else:
            kwargs.setdefault("load_default", "")
            kwargs.setdefault("allow_none", True)
        super().__init__(**kwargs)

    def deserialize(self, value: Any, attr: str | None = None, data: Any = None, **kwargs: Any) -> Any:
        if value is None and not self.required:
            return self.load_default
        return super().deserialize(value, attr, data, **kwargs)


class Int(fields.Integer):
    """A JSON integer: not a float, a numeric string or a boolean."""

    default_error_messages = {"required": MISSING, "null": MISSING, "invalid": NOT_AN_INTEGER}

    def __init__(self, **kwargs: Any):
        super().__init__(strict=True, **kwargs)

    def _validated(self, value: Any) -> int:
        if isinstance(value, bool):
            raise self.make_error("invalid")
        return super()._validated(value)


class IntList(fields.List):
    """A JSON array of integers (Int), or of values as sent (SentInt).

    ``refusal``: what to answer when it is not one, for a field that has always been refused in
    words (and with a code) of its own."""

    default_error_messages = {"required": MISSING, "null": MISSING, "invalid": NOT_A_LIST}

    def __init__(
        self,
        item: fields.Field | None = None,
        *,
        refusal: Callable[[Any], ServiceError] | None = None,
        **kwargs: Any,
    ):
        super().__init__(item or Int(), **kwargs)
        self.refusal = refusal


class _AsSent:
    """Mixin: the value reaches the service exactly as sent (absent or null: the field's
    ``load_default``, else None); the service checks it and answers with its own codes. With
    ``presence=True`` the API first refuses a body without it (absent, null or "": "必填"), as it
    always has for those fields."""

    def __init__(self, *args: Any, presence: bool = False, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.presence = presence

    def deserialize(self, value: Any, attr: str | None = None, data: Any = None, **kwargs: Any) -> Any:
        if value is missing or value is None or value == "":
            if self.presence:
                raise ValidationError(MISSING)
            if value is missing or value is None:
                return None if self.load_default is missing else self.load_default
        return value


class SentText(_AsSent, fields.String):
    pass


class SentInt(_AsSent, fields.Integer):
    pass


class SentEnum(_AsSent, fields.Enum):
    def __init__(self, enum: type[Enum], **kwargs: Any):
        super().__init__(enum, by_value=fields.String, **kwargs)


class SentList(_AsSent, fields.List):
    pass


def enum(members: type[Enum], **kwargs: Any) -> fields.Enum:
    """A string among a model enum's values."""
    return fields.Enum(members, by_value=fields.String, **kwargs)


def one_of(*members: Enum, **kwargs: Any) -> fields.String:
    """A string among some of a model enum's values."""
    return fields.String(validate=validate.OneOf([member.value for member in members]), **kwargs)


# --------------------------------------------------------------------------------------------
# Request bodies (the `*Body` schemas) and query strings (`*Query`, declared for the spec: the
# services read the query string themselves, as the pages' filters do).


class Body(Shape):
    #: True when the call may be made without a body at all (then every field is absent).
    OPTIONAL = False


class RegisterBody(Body):
    email = Text(required=True, metadata={"maxLength": EMAIL_MAX_LENGTH})
    password = Text(required=True, metadata={"maxLength": PASSWORD_MAX_LENGTH})
    display_name = Text(required=True, metadata={"maxLength": DISPLAY_NAME_MAX_LENGTH})


class TokenBody(Body):
    email = Text(required=True)
    password = Text(required=True)


class WorkBody(Body):
    kind = SentEnum(WorkKind, required=True, presence=True)
    title = SentText(required=True, presence=True, metadata={"maxLength": TITLE_MAX})
    summary = SentText(load_default="", metadata={"maxLength": SUMMARY_MAX})
    body = SentText(
        load_default="", metadata={"maxLength": BODY_MAX, "description": "a story's text, Markdown"}
    )
    campaign_id = SentInt(required=True, presence=True)


class UploadBody(Body):
    filename = Text(required=True)
    size = SentInt(required=True, presence=True, metadata={"description": "bytes"})
    content_type = SentText(required=True, presence=True)


class CompletedPart(Shape):
    number = Int(required=True)
    etag = Text(required=True)


class CompleteUploadBody(Body):
    parts = SentList(fields.Nested(CompletedPart), required=True)


class CommentBody(Body):
    body = SentText(required=True, metadata={"description": "plain text"})
    parent_id = SentInt(allow_none=True, metadata={"description": "the comment replied to"})


class ReportBody(Body):
    target_type = SentEnum(ReportTarget, required=True)
    target_id = SentInt(required=True)
    reason = SentText(required=True, metadata={"maxLength": REASON_MAX})


class RejectBody(Body):
    reason = SentText(required=True, metadata={"maxLength": REASON_MAX})


class RecommendBody(Body):
    OPTIONAL = True
    reason = Text(metadata={"maxLength": REASON_MAX})


def _not_work_ids(value: Any) -> ServiceError:
    return invalid_parameter("work_ids", value)


class BulkReviewBody(Body):
    action = SentEnum(ReviewAction, required=True)
    # A list, else 400 (as always); its items are the service's to check, one by one.
    work_ids = IntList(SentInt(), required=True, refusal=_not_work_ids, metadata={"maxItems": BULK_MAX})
    reason = Text(metadata={"maxLength": REASON_MAX})


class WallOrderBody(Body):
    work_ids = SentList(SentInt(), required=True, metadata={"maxItems": WALL_MAX})


def _not_notification_ids(value: Any) -> ServiceError:
    message = _("ids 必须是通知编号（整数）的列表。")
    return ValidationFailed(message, fields={"ids": message})


class ReadNotificationsBody(Body):
    OPTIONAL = True
    ids = IntList(allow_none=True, load_default=None, refusal=_not_notification_ids)


class WorkListQuery(Shape):
    kind = enum(WorkKind)
    industry = fields.String()
    province = fields.String()
    campaign_id = fields.Integer()
    sort = fields.String(validate=validate.OneOf(["hot", "new", "likes", "relevance"]))
    cursor = fields.String()
    q = fields.String(metadata={"description": f"search terms; only the first {QUERY_MAX} characters count"})


class CommentListQuery(Shape):
    cursor = fields.String()
    parent_id = fields.Integer()
    limit = fields.Integer(validate=validate.Range(1, 50))


class ReviewQueueQuery(Shape):
    kind = fields.String(validate=validate.OneOf(["works", "comments"]))
    queue = enum(ReviewQueue)
    work_kind = enum(WorkKind)
    industry = fields.String()
    province = fields.String()
    campaign_id = fields.Integer()
    cursor = fields.String()
    limit = fields.Integer(validate=validate.Range(1, 100))


class WallQuery(Shape):
    campaign_id = fields.Integer()
    industry = fields.String()
    province = fields.String()


class MeStateQuery(Shape):
    works = fields.String(
        metadata={"description": "comma-separated ids of the works on the page (at most 100)"}
    )
    view = fields.String(
        metadata={
            "description": "a work page's view token (its data-view-token): count that page's view "
            "as the view beacon would; see view_counted"
        }
    )


class NotificationListQuery(Shape):
    cursor = fields.String()
    limit = fields.Integer()


# --------------------------------------------------------------------------------------------
# Answers. Field names are a contract (DESIGN.md, API v1): extend, never rename.


class ErrorDetail(Shape):
    code = fields.String(required=True, metadata={"description": "snake_case, for programs"})
    message = fields.String(required=True, metadata={"description": "a sentence for people"})
    fields_ = fields.Dict(
        keys=fields.String(),
        values=fields.String(),
        data_key="fields",
        metadata={"description": "what is wrong, per field"},
    )


class Error(Shape):
    error = fields.Nested(ErrorDetail, required=True)


class UserCollective(Shape):
    id = fields.Integer(required=True)
    name = fields.String(required=True)


class User(Shape):
    id = fields.Integer(required=True)
    email = fields.String(required=True)
    display_name = fields.String(required=True)
    role = enum(Role, required=True)
    collective = fields.Nested(UserCollective, required=True, allow_none=True)
    province = fields.String(required=True, allow_none=True)


class UserAnswer(Shape):
    user = fields.Nested(User, required=True)


class TokenAnswer(UserAnswer):
    token = fields.String(required=True)


class ApiToken(Shape):
    """One of the caller's API tokens (the token itself is shown once, by POST /auth/token):
    `label` is the User-Agent of the client that asked for it; `current` marks the one in use."""

    id = fields.Integer(required=True)
    label = fields.String(required=True, allow_none=True)
    created_at = fields.DateTime(required=True)
    expires_at = fields.DateTime(required=True)
    current = fields.Boolean(required=True)


class ApiTokenList(Shape):
    items = fields.List(fields.Nested(ApiToken), required=True)


class Campaign(Shape):
    id = fields.Integer(required=True)
    title = fields.String(required=True)
    submission_opens = fields.DateTime(required=True)
    submission_closes = fields.DateTime(required=True)
    voting_opens = fields.DateTime(required=True)
    voting_closes = fields.DateTime(required=True)


class CampaignList(Shape):
    items = fields.List(fields.Nested(Campaign), required=True)


class Collective(Shape):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    industry = fields.String(required=True)
    province = fields.String(required=True)
    level = enum(Level, required=True)
    badge = fields.String(required=True, allow_none=True)
    promise = fields.String(required=True)
    supervision_channel = fields.String(required=True)


class WorkCollective(Shape):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    industry = fields.String()
    province = fields.String()


class WorkMedia(Shape):
    poster = fields.String(required=True, allow_none=True)
    hls = fields.String(required=True, allow_none=True)
    mp4 = fields.Dict(keys=fields.String(), values=fields.String(), required=True)
    images = fields.List(fields.Dict())


class Caption(Shape):
    """One language's captions: a WebVTT file (converted and sanitised from the SRT or WebVTT sent)."""

    lang = enum(CaptionLang, required=True)
    label = fields.String(required=True)
    url = fields.String(required=True)


class CaptionAnswer(Shape):
    caption = fields.Nested(Caption, required=True)


class Work(Shape):
    id = fields.Integer(required=True)
    kind = enum(WorkKind, required=True)
    title = fields.String(required=True)
    summary = fields.String(required=True)
    body_html = fields.String(required=True)
    status = enum(WorkStatus, required=True)
    collective = fields.Nested(WorkCollective, required=True)
    campaign_id = fields.Integer()
    likes = fields.Integer(required=True)
    comments = fields.Integer(required=True)
    views = fields.Integer(required=True)
    liked_by_me = fields.Boolean(required=True)
    media = fields.Nested(WorkMedia, required=True)
    captions = fields.List(fields.Nested(Caption), required=True)
    # The seek previews: a WebVTT index whose cues point into a sprite (``sprite.jpg#xywh=x,y,w,h``).
    storyboard = fields.String(required=True, allow_none=True)
    created_at = fields.DateTime()
    published_at = fields.DateTime(allow_none=True)
    embed_url = fields.String(
        allow_none=True,
        metadata={
            "description": "GET /works/<id> only: the embeddable player (/embed/works/<id>) on the "
            "public site, for iframes on partner sites; null unless the work is published."
        },
    )


class WorkAnswer(Shape):
    work = fields.Nested(Work, required=True)


class WorkHighlight(Shape):
    """Search hits (GET /works?q=): escaped text with the matched terms in <mark>, ready to be put
    in a page as HTML. `body` is an excerpt of the story around the first match ("" if none)."""

    title = fields.String(required=True)
    collective = fields.String(required=True)
    summary = fields.String(required=True)
    body = fields.String(required=True)


class ListedWork(Work):
    highlight = fields.Nested(WorkHighlight, metadata={"description": "with q only"})


class WorkPage(Shape):
    items = fields.List(fields.Nested(ListedWork), required=True)
    next_cursor = fields.String(required=True, allow_none=True)


class ReviewedWork(Work):
    """A work as moderators see it: the public shape plus the review fields."""

    reject_reason = fields.String(required=True, allow_none=True)
    recommended = fields.Boolean(required=True)
    recommended_at = fields.DateTime(required=True, allow_none=True)


class ReviewedWorkAnswer(Shape):
    work = fields.Nested(ReviewedWork, required=True)


class ReviewQueuePage(Shape):
    items = fields.List(fields.Dict(), required=True, metadata={"description": "works or comments"})
    next_cursor = fields.String(required=True, allow_none=True)
    counts = fields.Dict(keys=fields.String(), values=fields.Integer(), metadata={"description": "per queue"})


class BulkFailure(Shape):
    id = fields.Integer(required=True)
    message = fields.String(required=True)


class BulkReviewAnswer(Shape):
    done = fields.List(fields.Integer(), required=True)
    failed = fields.List(fields.Nested(BulkFailure), required=True)


class LikeState(Shape):
    """The answer to a like or an unlike: whether the caller now likes the work, and its count."""

    liked = fields.Boolean(required=True)
    likes = fields.Integer(required=True)


class CommentAuthor(Shape):
    id = fields.Integer(required=True)
    display_name = fields.String(required=True)


class Comment(Shape):
    """Top-level comments in a list carry `replies` (the first few, oldest first) and
    `reply_count`; replies carry neither. `body` is plain text: escape it when showing it."""

    id = fields.Integer(required=True)
    work_id = fields.Integer(required=True)
    parent_id = fields.Integer(required=True, allow_none=True)
    body = fields.String(required=True)
    # Answers never show a hidden comment.
    status = one_of(CommentStatus.VISIBLE, CommentStatus.PENDING, required=True)
    created_at = fields.DateTime(required=True)
    user = fields.Nested(CommentAuthor, required=True)
    can_delete = fields.Boolean()
    replies = fields.List(fields.Nested(lambda: Comment()))
    reply_count = fields.Integer()


class CommentPage(Shape):
    items = fields.List(fields.Nested(Comment), required=True)
    next_cursor = fields.String(required=True, allow_none=True)


class CommentAnswer(Shape):
    comment = fields.Nested(Comment, required=True)
    message = fields.String(metadata={"description": "why the comment waits for review, if it does"})


class Report(Shape):
    """A report (举报) as its reporter sees it; `reason` is plain text: escape it when showing it."""

    id = fields.Integer(required=True)
    target_type = enum(ReportTarget, required=True)
    target_id = fields.Integer(required=True)
    reason = fields.String(required=True)
    status = enum(ReportStatus, required=True)
    created_at = fields.DateTime(required=True)


class ReportAnswer(Shape):
    report = fields.Nested(Report, required=True)


class FeaturedWork(Work):
    """A work on the featured wall: the public shape plus the curator's note (plain text: escape
    it) and its 0-based place on the wall (the order PUT /wall sets)."""

    note = fields.String(required=True)
    position = fields.Integer(required=True, validate=validate.Range(min=0))


class Wall(Shape):
    featured = fields.List(fields.Nested(FeaturedWork), required=True, metadata={"maxItems": WALL_MAX})
    hot = fields.List(fields.Nested(Work), required=True)
    likes = fields.List(fields.Nested(Work), required=True)


class StateUser(Shape):
    id = fields.Integer(required=True)
    display_name = fields.String(required=True)
    role = enum(Role, required=True)
    collective_id = fields.Integer(required=True, allow_none=True)


class StateNav(Shape):
    """The links the caller's role opens in the page header."""

    my_works = fields.Boolean(required=True)
    manage_wall = fields.Boolean(required=True)
    moderation = fields.Boolean(required=True)
    audit = fields.Boolean(required=True)


class StateCounts(Shape):
    likes = fields.Integer(required=True)
    comments = fields.Integer(required=True)
    views = fields.Integer(required=True)


class MeState(Shape):
    """The caller's own part of a shared page (GET /me/state): never in a cached body."""

    signed_in = fields.Boolean(required=True)
    user = fields.Nested(StateUser, required=True, allow_none=True)
    nav = fields.Nested(StateNav, required=True, allow_none=True)
    unread = fields.Integer(required=True)
    liked = fields.List(fields.Integer(), required=True)
    editable = fields.List(fields.Integer(), required=True)
    own_comments = fields.List(
        fields.Integer(),
        required=True,
        metadata={"description": "works of the list with the caller's own visible or held comments"},
    )
    counts = fields.Dict(keys=fields.String(), values=fields.Nested(StateCounts), required=True)
    needs_email_verification = fields.Boolean(required=True)
    csrf_token = fields.String(required=True, allow_none=True)
    view_counted = fields.Boolean(
        required=True,
        metadata={
            "description": "true when the call took care of the view asked with `view` (counted, "
            "already counted today, or the work is gone); false: send the page's view beacon"
        },
    )


class WallOrder(Shape):
    featured = fields.List(fields.Nested(FeaturedWork), required=True)


class Notification(Shape):
    """One of the caller's notifications; `message` is the sentence the site shows (plain text:
    escape it), `details` what it quotes (`reason` of a rejection, `excerpt` of a reply)."""

    id = fields.Integer(required=True)
    kind = enum(NotificationKind, required=True)
    work_id = fields.Integer(required=True)
    work_title = fields.String(required=True)
    comment_id = fields.Integer(required=True, allow_none=True)
    actor = fields.String(required=True, allow_none=True)
    details = fields.Dict(required=True)
    message = fields.String(required=True)
    created_at = fields.DateTime(required=True)
    read_at = fields.DateTime(required=True, allow_none=True)


class NotificationPage(Shape):
    items = fields.List(fields.Nested(Notification), required=True)
    next_cursor = fields.String(required=True, allow_none=True)
    unread = fields.Integer(required=True)


class NotificationsRead(Shape):
    marked = fields.Integer(required=True)
    unread = fields.Integer(required=True)


class UploadPart(Shape):
    number = fields.Integer(required=True)
    url = fields.String(required=True)
    method = fields.String(required=True, validate=validate.OneOf(["PUT"]))


class UploadOpened(Shape):
    upload_id = fields.String(required=True)
    part_size = fields.Integer(required=True)
    parts = fields.List(fields.Nested(UploadPart), required=True)


class ReceivedPart(Shape):
    number = fields.Integer(required=True)
    etag = fields.String(required=True)
    size = fields.Integer(required=True)


class UploadState(Shape):
    upload_id = fields.String(required=True)
    work_id = fields.Integer()
    filename = fields.String()
    size = fields.Integer(required=True)
    part_size = fields.Integer(required=True)
    status = enum(UploadStatus, required=True)
    received = fields.List(fields.Nested(ReceivedPart), required=True)
    parts = fields.List(fields.Nested(UploadPart), required=True)


class PartStored(Shape):
    number = fields.Integer(required=True)
    etag = fields.String(required=True)


class WorkStatusAnswer(Shape):
    status = fields.String(required=True)
    progress = fields.Float(required=True, validate=validate.Range(0, 1))
    error = fields.String(required=True, allow_none=True)
