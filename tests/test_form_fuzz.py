"""The page forms the API spec does not cover, fuzzed: every form on every page, as the roles that
see it, has each field in turn replaced by a hostile value (a number past 32 or 64 bits, digits
from other scripts, words where a number belongs, nothing, a novel, the field twice); never a 500.

Forms are found the way a browser finds them, by reading the pages, so a form added to a template
is fuzzed without touching this file; test_every_page_post_route_is_reached_by_a_form makes sure
no POST route of the pages escapes (issue 17).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest

from app.extensions import db
from app.models import Caption, MediaAsset, Notification, NotificationKind, Role, utcnow
from app.moderation import integrity
from tests.builders_support import make_work
from tests.integrity_support import farm_liking
from tests.sign_in_support import sign_in

HOSTILE = [
    "99999999999999999999999",
    "-99999999999999999999999",
    "9223372036854775808",
    "2147483648",
    "-1",
    "0",
    "٣",
    "²",
    "1e5",
    "",
    "x" * 5000,
    "a\x00b",  # no database stores a NUL (PostgreSQL refuses it): 422, app/text_input.py
    ["1", "99999999999999999999999"],  # the field twice
]


@dataclass
class Form:
    method: str
    action: str
    fields: dict[str, list[str]] = field(default_factory=dict)


class _Forms(HTMLParser):
    def __init__(self, page_url: str) -> None:
        super().__init__()
        self.page_url = page_url
        self.forms: list[Form] = []
        self._current: Form | None = None
        self._select: str | None = None
        self._select_owner: Form | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            action = attrs.get("action") or self.page_url
            self._current = Form((attrs.get("method") or "get").upper(), action)
            if attrs.get("id"):
                self._current.fields["__id__"] = [attrs["id"]]
            self.forms.append(self._current)
            return
        if tag == "option" and self._select is not None:
            # The selected option, else the first: what the browser would send.
            chosen = self._select_owner.fields[self._select]
            value = attrs.get("value", "")
            if "selected" in attrs:
                chosen[:] = [value]
            elif not chosen:
                chosen.append(value)
            return
        owner = self._owner(attrs)
        if owner is None or not attrs.get("name"):
            return
        name = attrs["name"]
        if tag == "input" and attrs.get("type") not in {"submit", "button"}:
            if attrs.get("type") in {"checkbox", "radio"} and "checked" not in attrs:
                owner.fields.setdefault(name, [])
            else:
                owner.fields.setdefault(name, []).append(attrs.get("value", ""))
        elif tag == "textarea":
            owner.fields.setdefault(name, []).append("")
        elif tag == "select":
            owner.fields.setdefault(name, [])
            self._select, self._select_owner = name, owner
        elif tag == "button" and attrs.get("value") is not None:
            owner.fields.setdefault(name, []).append(attrs["value"])

    def handle_endtag(self, tag):
        if tag == "form":
            self._current = None
        elif tag == "select":
            self._select = None

    def _owner(self, attrs) -> Form | None:
        # Controls may sit outside their form and name it with form="…" (the bulk bar does).
        if attrs.get("form"):
            return next((f for f in self.forms if f.fields.get("__id__") == [attrs["form"]]), None)
        return self._current


def forms_of(html: str, page_url: str) -> list[Form]:
    parser = _Forms(page_url)
    parser.feed(html)
    for form in parser.forms:
        form.fields.pop("__id__", None)
    return parser.forms


@dataclass
class World:
    users: dict
    published: object
    draft: object
    video: object
    collective: object


# The pages whose forms act on a vote-integrity flag. Only their worlds raise one: the farm of
# accounts liking and the detector's pass are half of what a world costs.
FLAG_PAGES = {"/moderation/flags"}


@pytest.fixture
def world(request, app, make_collective, make_user, open_campaign) -> World:
    from app.engagement.comments import post_comment
    from app.media.uploads import create_upload
    from app.moderation.reports import create_report
    from app.wall.services import feature

    app.config["WTF_CSRF_ENABLED"] = False  # CSRF has its own tests; here every field is the target
    collective = make_collective("北京地铁青年文明号", "交通运输", "北京")
    users = {
        "viewer": make_user(Role.VIEWER),
        "owner": make_user(Role.COLLECTIVE, collective=collective),
        "moderator": make_user(Role.MODERATOR, province="北京"),
        "admin": make_user(Role.ADMIN),
    }
    published = make_work(collective, open_campaign, title="已发布作品")
    feature(users["admin"], make_work(collective, open_campaign, title="精选作品").id)
    make_work(collective, open_campaign, title="待审核作品", status="pending_review")
    draft = make_work(collective, open_campaign, title="草稿作品", status="draft")
    db.session.add(MediaAsset(work_id=draft.id, role="image", storage_key=f"works/{draft.id}/images/x.jpg"))
    video = make_work(collective, open_campaign, title="微视频草稿", kind="video", status="draft")
    create_upload(video.id, users["owner"], filename="clip.mp4", size=1000, content_type="video/mp4")
    # Captions already there, so that the captions page shows its delete form too.
    vtt = f"works/{video.id}/captions/x/zh-CN.vtt"
    db.session.add(Caption(work_id=video.id, lang="zh-CN", storage_key=vtt))
    top = post_comment(users["viewer"], published, "观众的评论")
    post_comment(users["viewer"], published, "有人刷票，加微信")  # held for review
    create_report(users["viewer"], "comment", top.id, "广告")
    callspec = getattr(request.node, "callspec", None)
    page = callspec.params.get("page") if callspec else None
    if page is None or page in FLAG_PAGES:  # None: a test that walks every page
        # A flag as the detector raises it: a farm of aged accounts liking the published work.
        farm_liking(published, now=utcnow())
        assert integrity.detect(force=True), "the farm raised no flag"
    db.session.add(
        Notification(user_id=users["owner"].id, kind=NotificationKind.APPROVED, work_id=published.id)
    )
    db.session.commit()
    from app.auth.services import issue_token

    issue_token(users["viewer"], "fuzz")
    return World(users, published, draft, video, collective)


# (role, page): every page that carries a form, as a role that sees its forms.
PAGES = [
    ("anonymous", "/login"),
    ("anonymous", "/register"),
    ("anonymous", "/forgot-password"),
    ("anonymous", "/"),
    ("anonymous", "/search?q=作品"),
    ("viewer", "/works/{published}"),
    ("viewer", "/account"),
    ("viewer", "/notifications"),
    ("owner", "/notifications"),
    ("owner", "/my/works"),
    ("owner", "/my/works/new"),
    ("owner", "/my/works/new-media"),
    ("owner", "/works/{draft}/edit"),
    ("owner", "/works/{draft}"),
    ("owner", "/works/{video}/upload"),
    ("owner", "/works/{video}/captions"),
    ("owner", "/collectives/{collective}/edit"),
    ("moderator", "/moderation"),
    ("moderator", "/moderation?queue=published"),
    ("moderator", "/moderation/comments"),
    ("moderator", "/moderation/reports"),
    ("moderator", "/moderation/flags"),
    ("moderator", "/moderation/dashboard"),
    ("admin", "/moderation/flags"),
    ("admin", "/moderation/wall"),
    ("admin", "/moderation/reports"),
    ("admin", "/admin/audit"),
    ("admin", "/wall"),
]


def _page(world: World, page: str) -> str:
    ids = {"published": world.published.id, "draft": world.draft.id, "video": world.video.id}
    return page.format(**ids, collective=world.collective.id)


def _client(app, world: World, role: str):
    client = app.test_client()
    if role != "anonymous":
        sign_in(client, world.users[role])
    return client


def _submit(client, form: Form, fields: dict):
    path = urlsplit(form.action)
    url = path.path + (f"?{path.query}" if path.query else "")
    if form.method == "GET":
        return client.get(url.split("?")[0], query_string=fields)
    return client.post(url, data=fields)


def _variants(form: Form):
    """The form as the page fills it, then each field in turn hostile, or missing."""
    base = {name: values[:1] or [""] for name, values in form.fields.items() if name != "csrf_token"}
    for name in base:
        for value in HOSTILE:
            yield {**base, name: value if isinstance(value, list) else [value]}
        yield {key: values for key, values in base.items() if key != name}


def _page_forms(app, world: World, role: str, page: str) -> list[Form]:
    response = _client(app, world, role).get(page)
    assert response.status_code == 200, f"{role} {page}: {response.status_code}"
    return forms_of(response.get_data(as_text=True), page)


@pytest.mark.parametrize(("role", "page"), PAGES)
def test_every_field_of_every_form_on_the_page_survives_hostile_values(app, world, role, page):
    url = _page(world, page)
    forms = _page_forms(app, world, role, url)
    assert forms, f"{url} shows {role} no form"
    wrong = []
    for form in forms:
        for fields in _variants(form):
            # A fresh browser each time: a form that signs out or deletes must not hide the next.
            response = _submit(_client(app, world, role), form, fields)
            response.close()
            if response.status_code >= 500:
                wrong.append((form.method, form.action, fields, response.status_code))
            db.session.rollback()
    assert wrong == [], wrong[:5]


# POST routes of the pages that no page form posts to, and why.
NOT_FORMS = {
    "/works/<int:work_id>/view": "the work page's script (views.js), tested in test_visitor_views.py",
    "/reset-password/<token>": "reached from the mail, tested in test_password_reset.py",
    "/uploads/<upload_id>/parts/<int:number>": "upload.js PUTs parts",
    "/comments/<int:comment_id>/delete": "a work page is one shared body for everyone: comments.js "
    "builds the author's delete form from the API's can_delete; tested in test_comments.py",
}


def test_every_page_post_route_is_reached_by_a_form(app, world):
    reached = set()
    adapter = app.url_map.bind("localhost")
    for role, page in PAGES:
        for form in _page_forms(app, world, role, _page(world, page)):
            if form.method == "POST":
                endpoint, _args = adapter.match(urlsplit(form.action).path, method="POST")
                reached.add(next(r.rule for r in app.url_map.iter_rules(endpoint) if "POST" in r.methods))
    posted = {
        rule.rule
        for rule in app.url_map.iter_rules()
        if "POST" in rule.methods and not rule.rule.startswith("/api/")
    }
    assert posted - reached - set(NOT_FORMS) == set()
