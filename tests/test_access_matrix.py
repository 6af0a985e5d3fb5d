"""Who may reach what: every page and API call, walked with every role.

Each row names a route and the roles it lets through; every other role must be refused (401,
403 or 404, or a redirect to the log-in page). Targets that a call changes (a draft, a pending
work) are made afresh for each role, so one role's success never hides another's refusal.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from app.extensions import db
from app.models import MediaAsset, Role
from tests.builders_support import make_work
from tests.images_support import jpeg_bytes
from tests.sign_in_support import csrf_token, sign_in

# On SQLite. Who may reach what is decided before any statement that differs between the engines
# (app/policy.py, the views' ownership checks); each capability's own tests and the API and form
# fuzzers run its routes on both. The matrix on each engine was some 130 s of worker time, the
# largest file of the suite after the fuzzers (issue 16).
pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)

ROLES = ("anonymous", "viewer", "other_member", "owner", "moderator", "moderator_elsewhere", "admin")
SIGNED_IN = set(ROLES) - {"anonymous"}
EVERYONE = set(ROLES)
MEMBERS = {"owner", "other_member"}
OWNER_OR_ADMIN = {"owner", "admin"}
CAN_SEE_DRAFT = {"owner", "moderator", "admin"}
MODERATORS = {"moderator", "moderator_elsewhere", "admin"}
# Who may act on a work of the world's collective (北京): its provincial moderator and admins.
REVIEWERS = {"moderator", "admin"}
# The viewer wrote the comment; "moderator" moderates the work's province (北京), admins everything.
COMMENT_REMOVERS = {"viewer", "moderator", "admin"}


@dataclass
class World:
    collective: Any
    other_collective: Any
    campaign: Any
    users: dict[str, Any]
    published: Any

    def draft(self, status: str = "draft", kind: str = "story"):
        work = make_work(self.collective, self.campaign, title="草稿作品", status=status, kind=kind)
        return work

    def comment(self):
        from app.engagement.comments import post_comment

        return post_comment(self.users["viewer"], self.published, "观众的评论")

    def video_upload(self) -> str:
        """A film draft of the owner's collective with an open upload session; its upload_id."""
        from app.media.uploads import create_upload

        owner = self.users["owner"]
        work = self.draft(kind="video")
        session = create_upload(work.id, owner, filename="clip.mp4", size=1000, content_type="video/mp4")
        return session.id

    def flag(self):
        from app.models import VoteFlag, utcnow

        now = utcnow()
        flag = VoteFlag(  # a work of its own: the database holds one open flag per work
            work_id=self.fresh_published().id,
            score=80.0,
            window_start=now,
            window_end=now,
            evidence=json.dumps({"suspect_user_ids": [self.users["viewer"].id]}),
        )
        db.session.add(flag)
        db.session.commit()
        return flag

    def fresh_published(self):
        return make_work(self.collective, self.campaign, title="新发布作品")

    def video(self, status: str = "draft", captions: bool = False):
        """A video of the owner's collective with a stored HLS master (and zh-CN captions)."""
        from app.models import AssetStatus, Caption
        from app.storage import get_storage

        work = self.draft(status=status, kind="video")
        key = f"works/{work.id}/v1-x/hls/master.m3u8"
        get_storage().put(key, b"#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n360p/index.m3u8\n", "text/plain")
        db.session.add(MediaAsset(work_id=work.id, role="hls", storage_key=key, status=AssetStatus.READY))
        if captions:
            vtt = f"works/{work.id}/captions/x/zh-CN.vtt"
            db.session.add(Caption(work_id=work.id, lang="zh-CN", storage_key=vtt))
        db.session.commit()
        return work

    def draft_with_image(self):
        work = self.draft()
        asset = MediaAsset(work_id=work.id, role="image", storage_key=f"works/{work.id}/images/x.jpg")
        db.session.add(asset)
        db.session.commit()
        return work, asset


@pytest.fixture
def world(make_collective, make_user, open_campaign) -> World:
    collective = make_collective("北京地铁青年文明号", "交通运输", "北京")
    other = make_collective("上海银行青年文明号", "金融", "上海")
    users = {
        "viewer": make_user(Role.VIEWER),
        "other_member": make_user(Role.COLLECTIVE, collective=other),
        "owner": make_user(Role.COLLECTIVE, collective=collective),
        "moderator": make_user(Role.MODERATOR, province="北京"),
        "moderator_elsewhere": make_user(Role.MODERATOR, province="上海"),
        "admin": make_user(Role.ADMIN),
    }
    published = make_work(collective, open_campaign, title="已发布作品")
    return World(collective, other, open_campaign, users, published)


@dataclass
class Case:
    name: str
    method: str
    # Builds the URL (and creates whatever the call acts on) for one role's attempt.
    url: Callable[[World], str]
    allowed: set[str]
    form: Callable[[World], dict] | None = None
    json: Callable[[World], dict] | None = None
    # Where the request comes from, for routes guarded by address rather than by role.
    remote_addr: str = "127.0.0.1"
    # A raw body and its type (API calls that take a file as it is, such as captions).
    body: tuple[bytes, str] | None = None

    def __str__(self) -> str:
        return self.name


_SRT = "1\n00:00:01,000 --> 00:00:02,000\n字幕\n".encode()


def _story_form(w: World) -> dict:
    return {"title": "新的微故事", "summary": "简介", "body": "正文", "campaign_id": str(w.campaign.id)}


def _image_form(w: World) -> dict:
    return {"images": (io.BytesIO(jpeg_bytes((64, 48))), "photo.jpg")}


def _delete_image_url(w: World) -> str:
    work, asset = w.draft_with_image()
    return f"/works/{work.id}/images/{asset.id}/delete"


CASES = [
    Case("home", "GET", lambda w: "/", EVERYONE),
    Case("published work page", "GET", lambda w: f"/works/{w.published.id}", EVERYONE),
    Case("draft work page", "GET", lambda w: f"/works/{w.draft().id}", CAN_SEE_DRAFT),
    Case("collective page", "GET", lambda w: f"/collectives/{w.collective.id}", EVERYONE),
    # Short links answer as the page they lead to; posters print published works only, so a
    # draft's poster is 404 even to its own collective.
    Case("work short link", "GET", lambda w: f"/w/{w.published.id}", EVERYONE),
    Case("draft short link", "GET", lambda w: f"/w/{w.draft().id}", CAN_SEE_DRAFT),
    Case("collective short link", "GET", lambda w: f"/c/{w.collective.id}", EVERYONE),
    # Partner sites frame and describe published works only: a draft's embed is 404 to everyone.
    Case("embed player", "GET", lambda w: f"/embed/works/{w.published.id}", EVERYONE),
    Case("draft embed player", "GET", lambda w: f"/embed/works/{w.draft().id}", set()),
    Case("oembed", "GET", lambda w: f"/oembed?url=http://localhost/works/{w.published.id}", EVERYONE),
    Case("draft oembed", "GET", lambda w: f"/oembed?url=http://localhost/works/{w.draft().id}", set()),
    Case("work poster", "GET", lambda w: f"/works/{w.published.id}/poster", EVERYONE),
    Case("draft poster", "GET", lambda w: f"/works/{w.draft().id}/poster", set()),
    Case("collective poster", "GET", lambda w: f"/collectives/{w.collective.id}/poster", EVERYONE),
    Case("edit collective page", "GET", lambda w: f"/collectives/{w.collective.id}/edit", OWNER_OR_ADMIN),
    Case(
        "edit collective",
        "POST",
        lambda w: f"/collectives/{w.collective.id}/edit",
        OWNER_OR_ADMIN,
        form=lambda w: {"promise": "热情服务", "supervision_channel": "12345"},
    ),
    Case("my works", "GET", lambda w: "/my/works", MEMBERS),
    Case("new story page", "GET", lambda w: "/my/works/new", MEMBERS),
    Case("create story", "POST", lambda w: "/my/works/new", MEMBERS, form=_story_form),
    Case("edit story page", "GET", lambda w: f"/works/{w.draft().id}/edit", OWNER_OR_ADMIN),
    Case("save story", "POST", lambda w: f"/works/{w.draft().id}/edit", OWNER_OR_ADMIN, form=_story_form),
    Case(
        "upload images", "POST", lambda w: f"/works/{w.draft().id}/images", OWNER_OR_ADMIN, form=_image_form
    ),
    Case("delete image", "POST", _delete_image_url, OWNER_OR_ADMIN, form=lambda w: {}),
    Case(
        "submit for review",
        "POST",
        lambda w: f"/works/{w.draft().id}/submit",
        OWNER_OR_ADMIN,
        form=lambda w: {},
    ),
    # Review: the work's provincial moderator and admins (national); "moderator_elsewhere" is
    # refused (404 for an unpublished work, 403 for a public one). Recommendations: national only.
    Case("review queue", "GET", lambda w: "/moderation", MODERATORS),
    Case("recommended queue", "GET", lambda w: "/moderation?queue=recommended", {"admin"}),
    Case("approve", "POST", lambda w: f"/moderation/works/{w.draft('pending_review').id}/approve",
         REVIEWERS, form=lambda w: {}),
    Case("reject", "POST", lambda w: f"/moderation/works/{w.draft('pending_review').id}/reject",
         REVIEWERS, form=lambda w: {"reason": "内容与主题不符"}),
    Case("recommend", "POST", lambda w: f"/moderation/works/{w.fresh_published().id}/recommend",
         REVIEWERS, form=lambda w: {}),
    Case("bulk review", "POST", lambda w: "/moderation/bulk", MODERATORS,
         form=lambda w: {"action": "approve", "work_ids": [w.draft("pending_review").id]}),
    Case("audit log", "GET", lambda w: "/admin/audit", {"admin"}),
    Case("vote flags", "GET", lambda w: "/moderation/flags", MODERATORS),
    Case("dashboard", "GET", lambda w: "/moderation/dashboard", MODERATORS),
    Case("dashboard csv", "GET", lambda w: "/moderation/dashboard.csv", MODERATORS),
    Case("dismiss a flag", "POST", lambda w: f"/moderation/flags/{w.flag().id}/dismiss", REVIEWERS,
         form=lambda w: {}),
    Case("void a flag", "POST", lambda w: f"/moderation/flags/{w.flag().id}/void", {"admin"},
         form=lambda w: {"reason": "新账号刷票"}),
    Case("api review queue", "GET", lambda w: "/api/v1/moderation/queue", MODERATORS),
    Case("api approve", "POST",
         lambda w: f"/api/v1/moderation/works/{w.draft('pending_review').id}/approve", REVIEWERS,
         json=lambda w: {}),
    Case("api reject", "POST",
         lambda w: f"/api/v1/moderation/works/{w.draft('pending_review').id}/reject", REVIEWERS,
         json=lambda w: {"reason": "内容与主题不符"}),
    Case("api recommend", "POST",
         lambda w: f"/api/v1/moderation/works/{w.fresh_published().id}/recommend", REVIEWERS,
         json=lambda w: {}),
    Case("api unrecommend", "POST",
         lambda w: f"/api/v1/moderation/works/{w.fresh_published().id}/unrecommend", REVIEWERS,
         json=lambda w: {}),
    Case("api bulk review", "POST", lambda w: "/api/v1/moderation/works/bulk", MODERATORS,
         json=lambda w: {"action": "approve", "work_ids": [w.draft("pending_review").id]}),
    # Logging out while logged out is harmless: it just goes home.
    Case("log out", "POST", lambda w: "/logout", EVERYONE, form=lambda w: {}),
    Case("api me", "GET", lambda w: "/api/v1/me", SIGNED_IN),
    Case("api campaigns", "GET", lambda w: "/api/v1/campaigns", EVERYONE),
    Case("api collective", "GET", lambda w: f"/api/v1/collectives/{w.collective.id}", EVERYONE),
    Case("api works", "GET", lambda w: "/api/v1/works", EVERYONE),
    Case("api published work", "GET", lambda w: f"/api/v1/works/{w.published.id}", EVERYONE),
    Case("api draft work", "GET", lambda w: f"/api/v1/works/{w.draft().id}", CAN_SEE_DRAFT),
    Case(
        "api create work",
        "POST",
        lambda w: "/api/v1/works",
        MEMBERS,
        json=lambda w: {"kind": "story", "title": "接口创建", "summary": "", "campaign_id": w.campaign.id},
    ),
    Case("api like", "PUT", lambda w: f"/api/v1/works/{w.published.id}/like", SIGNED_IN, json=lambda w: {}),
    Case(
        "api unlike", "DELETE", lambda w: f"/api/v1/works/{w.published.id}/like", SIGNED_IN, json=lambda w: {}
    ),
    # Those who may see a draft get past access control to 409 work_not_published; others 404.
    Case(
        "api like a draft",
        "PUT",
        lambda w: f"/api/v1/works/{w.draft().id}/like",
        CAN_SEE_DRAFT,
        json=lambda w: {},
    ),
    # Comments: reading follows the work's visibility; a comment (made afresh by the viewer for
    # each attempt) is deleted by its author, the work's provincial moderator and admins.
    Case("api comments", "GET", lambda w: f"/api/v1/works/{w.published.id}/comments", EVERYONE),
    Case("api comments of a draft", "GET", lambda w: f"/api/v1/works/{w.draft().id}/comments", CAN_SEE_DRAFT),
    Case(
        "api post comment",
        "POST",
        lambda w: f"/api/v1/works/{w.published.id}/comments",
        SIGNED_IN,
        json=lambda w: {"body": "接口评论"},
    ),
    Case("api delete comment", "DELETE", lambda w: f"/api/v1/comments/{w.comment().id}", COMMENT_REMOVERS,
         json=lambda w: {}),
    Case(
        "post comment",
        "POST",
        lambda w: f"/works/{w.published.id}/comments",
        SIGNED_IN,
        form=lambda w: {"body": "页面评论"},
    ),
    Case("delete comment", "POST", lambda w: f"/comments/{w.comment().id}/delete", COMMENT_REMOVERS,
         form=lambda w: {}),
    # Media uploads: the work's collective (and admins); someone else's upload session is 404.
    Case("api open upload", "POST",
         lambda w: f"/api/v1/works/{w.draft(kind='video').id}/uploads",
         OWNER_OR_ADMIN, json=lambda w: {"filename": "a.mp4", "size": 1000, "content_type": "video/mp4"}),
    Case("api upload state", "GET", lambda w: f"/api/v1/uploads/{w.video_upload()}", OWNER_OR_ADMIN),
    Case("api upload part", "PUT", lambda w: f"/api/v1/uploads/{w.video_upload()}/parts/1", OWNER_OR_ADMIN,
         json=lambda w: {}),
    Case("api complete upload", "POST", lambda w: f"/api/v1/uploads/{w.video_upload()}/complete",
         OWNER_OR_ADMIN, json=lambda w: {"parts": []}),
    Case("api cancel upload", "DELETE", lambda w: f"/api/v1/uploads/{w.video_upload()}", OWNER_OR_ADMIN,
         json=lambda w: {}),
    Case("cancel upload page", "POST", lambda w: f"/works/{w.draft(kind='video').id}/upload/cancel",
         OWNER_OR_ADMIN, form=lambda w: {}),
    Case("api work status", "GET", lambda w: f"/api/v1/works/{w.draft().id}/status", CAN_SEE_DRAFT),
    Case("new film/video page", "GET", lambda w: "/my/works/new-media", MEMBERS),
    Case("create film/video", "POST", lambda w: "/my/works/new-media", MEMBERS,
         form=lambda w: {"kind": "video", "title": "新微视频", "campaign_id": str(w.campaign.id)}),
    Case("upload page", "GET", lambda w: f"/works/{w.draft(kind='video').id}/upload", OWNER_OR_ADMIN),
    # Community moderation: every moderator sees the comment queue and the reports of their own
    # province; acting on a 北京 comment or report is for 北京's moderator and admins (上海's gets
    # 404); bans are national. Reports are made by any signed-in account.
    Case("moderation comments page", "GET", lambda w: "/moderation/comments",
         {"moderator", "moderator_elsewhere", "admin"}),
    Case("approve comment", "POST", lambda w: f"/moderation/comments/{_pending_comment(w)}/approve",
         {"moderator", "admin"}, form=lambda w: {}),
    Case("hide comment", "POST", lambda w: f"/moderation/comments/{_pending_comment(w)}/hide",
         {"moderator", "admin"}, form=lambda w: {"reason": "广告"}),
    Case("moderation reports page", "GET", lambda w: "/moderation/reports",
         {"moderator", "moderator_elsewhere", "admin"}),
    Case("resolve report", "POST", lambda w: f"/moderation/reports/{_open_report(w)}/resolve",
         {"moderator", "admin"}, form=lambda w: {"outcome": "dismissed"}),
    Case("ban account", "POST", lambda w: f"/moderation/users/{_fresh_viewer(w)}/ban", {"admin"},
         form=lambda w: {"reason": "刷票"}),
    Case("report form", "POST", lambda w: "/reports", SIGNED_IN,
         form=lambda w: {"target_type": "work", "target_id": str(w.published.id), "reason": "抄袭"}),
    Case("api report", "POST", lambda w: "/api/v1/reports", SIGNED_IN,
         json=lambda w: {"target_type": "work", "target_id": w.published.id, "reason": "抄袭"}),
    # The featured wall: read by everyone, curated by national moderators (here: the admin; both
    # moderators of the matrix are provincial). Each attempt curates a freshly featured work.
    Case("wall page", "GET", lambda w: "/wall", EVERYONE),
    Case("api wall", "GET", lambda w: "/api/v1/wall", EVERYONE),
    Case("wall curation page", "GET", lambda w: "/moderation/wall", {"admin"}),
    Case("wall add", "POST", lambda w: "/moderation/wall/add", {"admin"},
         form=lambda w: {"work_id": str(make_work(w.collective, w.campaign, title="待精选").id)}),
    Case("wall remove", "POST", lambda w: f"/moderation/wall/{_featured(w)}/remove", {"admin"},
         form=lambda w: {}),
    Case("wall move", "POST", lambda w: f"/moderation/wall/{_featured(w)}/move", {"admin"},
         form=lambda w: {"direction": "up"}),
    Case("wall note", "POST", lambda w: f"/moderation/wall/{_featured(w)}/note", {"admin"},
         form=lambda w: {"note": "推荐语"}),
    Case("api set wall", "PUT", lambda w: "/api/v1/wall", {"admin"},
         json=lambda w: {"work_ids": [w.published.id]}),
    # Everyone signed in has their own notifications; test_notifications.py shows nobody else's.
    Case("notifications page", "GET", lambda w: "/notifications", SIGNED_IN),
    Case("mark notifications read", "POST", lambda w: "/notifications/read", SIGNED_IN, form=lambda w: {}),
    Case("api notifications", "GET", lambda w: "/api/v1/notifications", SIGNED_IN),
    Case("api mark notifications read", "POST", lambda w: "/api/v1/notifications/read", SIGNED_IN,
         json=lambda w: {}),
    # Search shows published works only, to everyone (test_search.py: drafts are never found).
    Case("search page", "GET", lambda w: "/search?q=%E4%BD%9C%E5%93%81", EVERYONE),
    Case("api search", "GET", lambda w: "/api/v1/works?q=%E4%BD%9C%E5%93%81", EVERYONE),
    # Stored files of a work follow the work: a draft's only to whom may see the draft.
    Case("media of a published work", "GET", lambda w: _media_url(w.published), EVERYONE),
    Case("media of a draft", "GET", lambda w: _media_url(w.draft()), CAN_SEE_DRAFT),
    # Metrics: decided by address (or METRICS_TOKEN, tests/test_metrics.py), never by role; an
    # admin on the internet is refused like anyone else.
    # Accounts (app/auth/account_routes.py): everyone signed in has their own page; a token is
    # revoked only by its owner (the viewer here), anyone else gets 404 as for no token at all.
    Case("account page", "GET", lambda w: "/account", SIGNED_IN),
    Case("resend confirmation mail", "POST", lambda w: "/account/verify-email", SIGNED_IN, form=lambda w: {}),
    Case("sign out everywhere", "POST", lambda w: "/account/sign-out-everywhere", SIGNED_IN,
         form=lambda w: {}),
    Case("revoke a token", "POST", lambda w: f"/account/tokens/{_viewer_token(w)}/revoke", {"viewer"},
         form=lambda w: {}),
    Case("api tokens", "GET", lambda w: "/api/v1/auth/tokens", SIGNED_IN),
    Case("api revoke a token", "DELETE", lambda w: f"/api/v1/auth/tokens/{_viewer_token(w)}", {"viewer"},
         json=lambda w: {}),
    # With the cookie there is no token in use: 400 no_bearer_token once signed in.
    Case("api revoke the token in use", "DELETE", lambda w: "/api/v1/auth/token", SIGNED_IN,
         json=lambda w: {}),
    # Counting a view of a published work (the page's script, with the token the page carries).
    Case("count a view", "POST", lambda w: _view_url(w.published), EVERYONE, form=lambda w: {}),
    Case("count a view of a draft", "POST", lambda w: _view_url(w.draft()), CAN_SEE_DRAFT, form=lambda w: {}),
    Case("metrics from a private address", "GET", lambda w: "/metrics", EVERYONE, remote_addr="10.0.0.5"),
    Case("metrics from the internet", "GET", lambda w: "/metrics", set(), remote_addr="198.51.100.7"),
    Case("captions page", "GET", lambda w: f"/works/{w.video().id}/captions", OWNER_OR_ADMIN),
    Case("upload captions", "POST", lambda w: f"/works/{w.video().id}/captions", OWNER_OR_ADMIN,
         form=lambda w: {"lang": "en", "file": (io.BytesIO(_SRT), "en.srt")}),
    Case("delete captions", "POST", lambda w: f"/works/{w.video(captions=True).id}/captions/zh-CN/delete",
         OWNER_OR_ADMIN, form=lambda w: {}),
    Case("api put captions", "PUT", lambda w: f"/api/v1/works/{w.video().id}/captions/en", OWNER_OR_ADMIN,
         body=(_SRT, "application/x-subrip")),
    Case("api delete captions", "DELETE",
         lambda w: f"/api/v1/works/{w.video(captions=True).id}/captions/zh-CN", OWNER_OR_ADMIN,
         form=lambda w: {}),
    Case("published hls master", "GET",
         lambda w: f"/works/{w.video('published', captions=True).id}/hls/master.m3u8", EVERYONE),
    Case("draft hls master", "GET", lambda w: f"/works/{w.video(captions=True).id}/hls/master.m3u8",
         CAN_SEE_DRAFT),
    Case("published subtitle playlist", "GET",
         lambda w: f"/works/{w.video('published', captions=True).id}/hls/subtitles/zh-CN.m3u8", EVERYONE),
    Case("draft subtitle playlist", "GET",
         lambda w: f"/works/{w.video(captions=True).id}/hls/subtitles/zh-CN.m3u8", CAN_SEE_DRAFT),
]  # fmt: skip

DENIED_STATUSES = {401, 403, 404}


def _media_url(work) -> str:
    """A file stored under `work`'s keys (local storage), as the site links it."""
    from app.storage import get_storage

    key = f"works/{work.id}/images/matrix-{work.id}.jpg"
    get_storage().put(key, jpeg_bytes((8, 8)), "image/jpeg")
    return f"/media/{key}"


def _featured(w: World) -> int:
    """A newly published work put on the featured wall by the admin; its id."""
    from app.wall.services import feature

    work = make_work(w.collective, w.campaign, title="精选作品")
    feature(w.users["admin"], work.id)
    return work.id


def _viewer_token(w: World) -> int:
    """A fresh API token of the viewer; its id."""
    from app.auth.services import issue_token, live_tokens

    issue_token(w.users["viewer"], "matrix")
    return live_tokens(w.users["viewer"].id)[0].id


def _view_url(work) -> str:
    from app.engagement.visitors import beacon_token

    return f"/works/{work.id}/view?t={beacon_token(work.id)}"


def _pending_comment(w: World) -> int:
    """A comment on the published 北京 work that the word filter holds for review; its id."""
    from app.engagement.comments import post_comment

    return post_comment(w.users["viewer"], w.published, "有人刷票，加微信").id


def _open_report(w: World) -> int:
    """An open report on the published 北京 work; its id."""
    from app.moderation.reports import create_report

    return create_report(w.users["viewer"], "work", w.published.id, "抄袭").id


def _fresh_viewer(w: World) -> int:
    """A new viewer account, so each attempt bans someone not yet banned; its id."""
    import secrets

    from app.models import User

    user = User(email=f"ban-{secrets.token_hex(4)}@example.com", display_name="待封禁", password_hash="-")
    db.session.add(user)
    db.session.commit()
    return user.id


def _attempt(app, world: World, role: str, case: Case):
    client = app.test_client()
    if role != "anonymous":
        sign_in(client, world.users[role])
    url = case.url(world)
    headers = {}
    kwargs: dict[str, Any] = {}
    if case.method != "GET":
        token = csrf_token(client)
        if case.json is not None:
            headers["X-CSRFToken"] = token
            kwargs["json"] = case.json(world)
        elif case.body is not None:
            headers["X-CSRFToken"] = token
            kwargs["data"], kwargs["content_type"] = case.body
        else:
            kwargs["data"] = {**case.form(world), "csrf_token": token}
    return client.open(
        url, method=case.method, headers=headers, environ_base={"REMOTE_ADDR": case.remote_addr}, **kwargs
    )


def _refused(response) -> bool:
    if response.status_code in DENIED_STATUSES:
        return True
    return response.status_code in (301, 302, 303) and "/login" in response.headers.get("Location", "")


@pytest.mark.parametrize("case", CASES, ids=str)
def test_only_the_allowed_roles_get_through(app, world, case):
    wrong = {}
    for role in ROLES:
        response = _attempt(app, world, role, case)
        response.close()  # a served file stays open until its response is closed
        refused = _refused(response)
        if refused == (role in case.allowed) or response.status_code >= 500:
            wrong[role] = response.status_code
    assert not wrong, f"{case.name}: unexpected answers {wrong} (allowed: {sorted(case.allowed)})"


def test_every_route_is_walked_by_the_matrix(app):
    """A new route must join the matrix: the walked rules cover every rule the app serves."""
    walked = {"/", "/works/<int:work_id>", "/collectives/<int:collective_id>",
              "/collectives/<int:collective_id>/edit", "/my/works", "/my/works/new",
              "/works/<int:work_id>/edit", "/works/<int:work_id>/images",
              "/works/<int:work_id>/images/<int:asset_id>/delete", "/works/<int:work_id>/submit",
              "/moderation", "/moderation/works/<int:work_id>/<action>", "/moderation/bulk",
              "/admin/audit", "/moderation/flags", "/moderation/flags/<int:flag_id>/<decision>",
              "/moderation/dashboard", "/moderation/dashboard.csv", "/api/v1/moderation/queue",
              "/api/v1/moderation/works/<int:id>/approve",
              "/api/v1/moderation/works/<int:id>/reject", "/api/v1/moderation/works/<int:id>/recommend",
              "/api/v1/moderation/works/<int:id>/unrecommend", "/api/v1/moderation/works/bulk",
              "/logout", "/api/v1/me",
              "/api/v1/campaigns", "/api/v1/collectives/<int:id>", "/api/v1/works",
              "/api/v1/works/<int:id>", "/api/v1/works/<int:id>/like",
              "/api/v1/works/<int:id>/comments", "/api/v1/comments/<int:id>",
              "/works/<int:work_id>/comments", "/comments/<int:comment_id>/delete",
              "/api/v1/works/<int:id>/uploads", "/api/v1/uploads/<upload_id>",
              "/api/v1/uploads/<upload_id>/parts/<int:number>", "/api/v1/uploads/<upload_id>/complete",
              "/api/v1/works/<int:id>/status", "/my/works/new-media",
              "/works/<int:work_id>/upload", "/works/<int:work_id>/upload/cancel",
              "/works/<int:work_id>/captions",
              "/works/<int:work_id>/captions/<lang>/delete", "/api/v1/works/<int:id>/captions/<lang>",
              "/works/<int:work_id>/hls/master.m3u8",
              "/works/<int:work_id>/hls/subtitles/<lang>.m3u8"}  # fmt: skip
    # Open to everyone by design, and tested on their own: probes, sign-up/log-in, password reset
    # (tests/test_password_reset.py), spec; media also has rows above.
    public = {"/healthz", "/readyz", "/login", "/register", "/api/v1/auth/register",
              "/api/v1/auth/token", "/api/v1/openapi.json", "/media/<path:key>",
              "/static/<path:filename>", "/forgot-password", "/reset-password/<token>"}  # fmt: skip
    walked |= {"/wall", "/api/v1/wall", "/moderation/wall", "/moderation/wall/add",
               "/moderation/wall/<int:work_id>/remove", "/moderation/wall/<int:work_id>/move",
               "/moderation/wall/<int:work_id>/note"}  # fmt: skip
    walked |= {"/w/<int:work_id>", "/c/<int:collective_id>", "/works/<int:work_id>/poster",
               "/collectives/<int:collective_id>/poster"}  # fmt: skip
    walked |= {"/embed/works/<int:work_id>", "/oembed"}
    walked |= {"/moderation/comments", "/moderation/comments/<int:comment_id>/approve",
               "/moderation/comments/<int:comment_id>/hide", "/moderation/reports",
               "/moderation/reports/<int:report_id>/resolve", "/moderation/users/<int:user_id>/ban",
               "/reports", "/api/v1/reports"}  # fmt: skip
    walked |= {"/notifications", "/notifications/read", "/api/v1/notifications",
               "/api/v1/notifications/read"}  # fmt: skip
    walked |= {"/search"}
    walked |= {"/metrics"}
    walked |= {"/account", "/account/verify-email", "/account/sign-out-everywhere",
               "/account/tokens/<int:token_id>/revoke", "/api/v1/auth/tokens", "/api/v1/auth/tokens/<int:id>",
               "/api/v1/auth/token", "/works/<int:work_id>/view"}  # fmt: skip
    # The e-mail confirmation link is opened by whoever holds it (tests/test_email_verification.py).
    public |= {"/verify-email/<token>"}
    # Anyone's own state for a shared page (signed out: counts only); tests/test_page_cache.py.
    public |= {"/api/v1/me/state"}
    served = {rule.rule for rule in app.url_map.iter_rules()}
    assert served - walked - public == set()
