"""Benchmark: a simulated campaign hour against gunicorn on loopback: people browsing, signing
in, liking, commenting and uploading in the proportions of a voting-window peak, side by side with
a bare endpoint.

    .venv/bin/python bench/campaign.py                  # SQLite in a temporary folder
    TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/campaign.py
    … bench/campaign.py --redis-cluster     # counters, page cache, limits on a 3+3 Redis Cluster
    … bench/campaign.py --replica           # PostgreSQL primary + streaming replica (as root)

The world: 200 published works from 20 collectives in 10 provinces and 10 industries, 2,000
viewer accounts with bearer tokens and a known password, 20 collective accounts with 400 video
drafts waiting for their films, one campaign in its voting window. gunicorn serves the production
app (`wsgi:app`) with production settings and its own Redis key prefix; per-IP limits are raised
because one loopback address stands in for thousands of phones, per-account limits stay as
configured. The bench speaks plain HTTP, so cookies are not marked Secure (COOKIE_SECURE=0).

It measures people, not calls. Before the clock starts, ``--sessions`` viewers (default 1,024)
log in through the form as a browser does: GET /login for the CSRF token, POST the form (which
also sets the signed-in hint cookie), follow the redirect to the home page (which shows the
welcome message once) and its state call. Each client holds an equal share of those session
cookies. Then an *action* is what one person does:

- a page view (home page and its filters, a work page, the wall, search results): the page and
  every call its scripts make on load before the person sees their own state, in order:
  static/js/state.js's `GET /api/v1/me/state?works=…` (the ids of the page's like widgets; on a
  work page also `view=` its view token, so the call counts the view), made only by a browser
  holding the signed-in hint cookie (app/auth/sessions.py); static/js/views.js's view beacon on
  a work page when no state call counted the view (an anonymous first visit: 202, then again
  with the visitor cookie, 204); and static/js/comments.js's reload of the comments' first page
  as the API answers that person, for a signed-in person who commented on that work (the state
  call's ``own_comments``) or moderates. So a signed-in person's page view is the page and one
  state call; an anonymous first visit is the page alone, plus the two beacon calls on a work
  page. Half the page views are by a signed-in viewer (one of the client's sessions), half by an
  anonymous first-time visitor (no cookies). Scripts, CSS and images are not fetched: a browser
  caches them and nginx or a CDN serves them from disk.
- a like or an unlike: one click on an open page, `PUT`/`DELETE /api/v1/works/<id>/like` with the
  signed-in person's session cookie and the CSRF token of their state call (static/js/likes.js).
  People like at a human pace: each client deals its likes out in turn to its signed-in people
  (the one who liked longest ago clicks), and a person likes at most once every
  ``LIKE_PACE_SECONDS`` (6 s: 10 a minute, where the per-account limit is 60); should every
  person of a client be that recent, the client waits (``like_pace_waits`` counts those waits,
  ``most_likes_a_minute_one_person`` reports the busiest person). With 128 sessions and no pace,
  a fast server made each person like more than once a second and the limit refused some.
- a comment: one `POST` through the API with a bearer token of one of the 2,000 viewers (the
  per-account limit of 5 a minute would bind the browsers' sessions at this pace).
- reading the works list or a work's comments through the API: one call each (the app, a reader
  scrolling).
- an upload: three calls (open a session, PUT the clip as one part, complete) of a 2 s generated
  clip by the draft's collective; the transcode jobs it enqueues are left in the queue (media
  workers run on other hosts and are measured by bench/transcode.py) and deleted afterwards.

``--clients`` threads (default 64), each with a keep-alive connection, pick actions at random by
the weights in MIX for ``--seconds`` (default 60) with no think time, so the figure is the most
this machine serves, not a pace we set. A page's calls run one after another (a browser runs the
state call and the beacon side by side), so an action's latency is an upper bound. Popularity is
skewed as in a real campaign: one work (a province mobilised) takes a fifth of the likes and
views, and the rest follow a Zipf curve.

In the same run, the same clients call `/healthz` for ``--bare-seconds``: the framework's floor on
this machine. ``vs_bare`` is actions/s ÷ bare calls/s. Then, for ``--hot-seconds`` (default 10),
the same clients open only the mobilised work's page, anonymous, without its script's calls:
``hot_page_vs_bare`` is those pages/s ÷ bare calls/s. The machine is shared, so the three take
turns in ``--rounds`` slices (default 3: bare, hot page, campaign, three times over) and each
ratio compares figures taken under the same background load. The load generator shares the
machine's CPUs with gunicorn, so it reports its own CPU time (user + sys) in each phase as a share
of the phase's wall time × CPUs. It also reads gunicorn's CPU time (master and workers, /proc) in
each phase: ``cpu_vs_bare`` is a bare call's CPU ÷ an action's (``hot_page_cpu_vs_bare`` the
same for the hot page), a cost ratio that the other jobs on the machine do not move.

``--profile N`` then runs N seconds more of the mix (not counted in any figure) under py-spy
(``--gil``: only threads holding the GIL are sampled, so the shares are CPU) and prints gunicorn's
CPU by view and by app function: where to look first.

``--costs N`` then runs each call a page view makes alone for N seconds (every client at once)
and prints gunicorn's CPU per call beside the bare call's: what to slim, call by call. (The
anonymous state call is no longer among them: no page makes it.)

It prints each action's and each call's rate, p50 and p99, and errors. An error is any answer
other than the one the contract gives (a 5xx, a 429, a refused connection…). Then it checks that
every work's like and comment counters in Redis equal SQL. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import html
import http.client
import http.cookies
import json
import os
import random
import re
import resource
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections import defaultdict
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import _support as support  # noqa: E402

VIEWERS = 2000
COLLECTIVES = 20
WORKS = 200
DRAFTS = 400
CLIENTS = 64
# Enough signed-in people that each likes at a human pace: at most one like or unlike every
# LIKE_PACE_SECONDS (10 a minute; the per-account limit is 60), the clients' likes dealt out in
# turn among their people (Campaign.act).
SESSIONS = 1024
LIKE_PACE_SECONDS = 6.0
SIGNED_IN_SHARE = 0.5
PROVINCES = ["北京", "上海", "广东", "浙江", "江苏", "四川", "湖北", "山东", "河南", "陕西"]
INDUSTRIES = ["交通运输", "金融", "医疗卫生", "教育", "电力", "通信", "公安", "税务", "邮政", "水利"]

# Actions per 1,000 in a voting-window peak hour: most people read (list, open a work, scroll its
# comments); a good share like; few comment; collectives still upload late films now and then.
# A page view is the page and its scripts' calls (Campaign.page_view).
PAGE_VIEWS = {"home page", "work page", "wall page", "search page"}
MIX = {
    "home page": 200,
    "work page": 240,
    "works API": 100,
    "wall page": 50,
    "search page": 40,
    "comments API": 80,
    "like": 220,
    "unlike": 10,
    "comment": 58,
    "upload": 2,
}
EXPECTED = {
    "upload: open": 201,
    "upload: part": 200,
    "upload: complete": 202,
    "comment": 201,
    "log-in form: post": 302,
    "view beacon": {202, 204},
    "view beacon: again": 204,
}
SCRIPT_CALLS = ["state call", "view beacon", "view beacon: again", "comments: own reload"]
# What the page's scripts read from it (static/js/state.js, views.js, comments.js).
STATE_URL = re.compile(r'data-state-url="([^"]+)"')
LIKE_WIDGET = re.compile(r'data-(?:like-work|editable)="(\d+)"')
VIEW_BEACON = re.compile(r'data-view-beacon="([^"]+)"')
VIEW_TOKEN = re.compile(r'data-view-token="([^"]+)"')
# The signed-in hint cookie (app/auth/sessions.py) that state.js looks for.
HINT_COOKIE = "signed_in"
COMMENT_SECTION = re.compile(r"<section[^>]*\sdata-comments[\s>][^>]*>")
ATTRIBUTE = re.compile(r'([\w-]+)="([^"]*)"')
CSRF_FIELD = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


def populate() -> dict:
    """The campaign's world, written straight through the models; runs in the bench's app context."""
    import sqlalchemy as sa
    from werkzeug.security import generate_password_hash

    from app.engagement.services import work_published
    from app.extensions import db
    from app.models import (
        Collective,
        Level,
        Role,
        User,
        Work,
        WorkKind,
        WorkStatus,
        utcnow,
    )
    from tests.builders_support import make_campaign

    db.create_all()
    now = utcnow()
    campaign = make_campaign(
        title="2026年“网络倡文明”主题活动", submission_days=(-30, 10), voting_days=(-10, 20)
    )
    collectives = [
        Collective(
            name=f"{PROVINCES[n % 10]}{INDUSTRIES[n % 10]}青年文明号{n}",
            industry=INDUSTRIES[n % 10],
            province=PROVINCES[(n * 3) % 10],
            level=Level.PROVINCIAL,
        )
        for n in range(COLLECTIVES)
    ]
    db.session.add_all(collectives)
    db.session.commit()

    # A cheap hash: the log-ins happen before the clock starts, and with the production method
    # 1,024 of them took two minutes of this machine. Checking accepts any method.
    password_hash = generate_password_hash(support.PASSWORD, method="pbkdf2:sha256:1000")
    people = [
        {"email": f"viewer{n}@example.com", "display_name": f"青年{n}", "role": Role.VIEWER,
         "collective_id": None}
        for n in range(VIEWERS)
    ] + [
        {"email": f"collective{n}@example.com", "display_name": f"集体{n}", "role": Role.COLLECTIVE,
         "collective_id": collectives[n].id}
        for n in range(COLLECTIVES)
    ]  # fmt: skip
    db.session.execute(
        sa.insert(User),
        [
            {
                **p,
                "password_hash": password_hash,
                "banned": False,
                "created_at": now,
                "email_verified_at": now,
            }
            for p in people
        ],
    )
    users = db.session.execute(sa.select(User.id, User.role, User.collective_id).order_by(User.id)).all()
    tokens = support.add_tokens([user.id for user in users])

    def work(n: int, status: WorkStatus, kind: WorkKind) -> Work:
        title = f"青年文明号的一天（{n}）" if status == WorkStatus.PUBLISHED else f"待上传的微电影（{n}）"
        return Work(
            collective_id=collectives[n % COLLECTIVES].id,
            campaign_id=campaign.id,
            kind=kind,
            title=title,
            summary=f"{title}：窗口服务、文明出行与诚信经营的故事。",
            body="我们的班组坚持文明服务。" if kind == WorkKind.STORY else None,
            body_html="<p>我们的班组坚持文明服务。</p>" if kind == WorkKind.STORY else None,
            status=status,
            published_at=now - timedelta(minutes=n) if status == WorkStatus.PUBLISHED else None,
        )

    published = [work(n, WorkStatus.PUBLISHED, WorkKind.STORY) for n in range(WORKS)]
    drafts = [work(n, WorkStatus.DRAFT, WorkKind.VIDEO) for n in range(DRAFTS)]
    db.session.add_all(published + drafts)
    db.session.commit()
    for item in published:
        work_published(item)  # ranked, counters populated: what publication does

    by_collective: dict[int, list[int]] = defaultdict(list)
    for draft in drafts:
        by_collective[draft.collective_id].append(draft.id)
    owners = {user.collective_id: tokens[user.id] for user in users if user.role == Role.COLLECTIVE}
    return {
        "works": [w.id for w in published],
        "viewers": [tokens[u.id] for u in users if u.role == Role.VIEWER],
        "emails": [f"viewer{n}@example.com" for n in range(VIEWERS)],
        # (owner's token, draft id) in the order uploads take them.
        "drafts": [(owners[cid], wid) for cid, ids in by_collective.items() for wid in ids],
    }


def make_clip(path: Path) -> bytes:
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
         "-f", "lavfi", "-i", "testsrc2=s=640x360:r=25:d=2",
         "-f", "lavfi", "-i", "sine=f=440:d=2",
         "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest",
         str(path)],
        check=True, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    return path.read_bytes()


class Popularity:
    """Which work a person opens or likes: one mobilised work takes a fifth, the rest Zipf."""

    def __init__(self, works: list[int], seed: int) -> None:
        self.works = works
        self.weights = [1 / (rank + 1) for rank in range(len(works))]
        self.rng = random.Random(seed)

    def pick(self) -> int:
        if self.rng.random() < 0.2:
            return self.works[0]
        return self.rng.choices(self.works, self.weights)[0]


class Recorder:
    """Every call's latency and status, and every action's latency (an action is one or more
    calls: Campaign)."""

    def __init__(self) -> None:
        self.latencies: dict[str, list[float]] = defaultdict(list)
        self.actions: dict[str, list[float]] = defaultdict(list)
        self.errors: dict[str, int] = defaultdict(int)
        self.waits: list[float] = []  # a client waiting for a person to be ready to like again
        self.lock = threading.Lock()

    def paced(self, seconds: float) -> None:
        with self.lock:
            self.waits.append(seconds)

    def add(self, name: str, seconds: float, status: int | str) -> None:
        expected = EXPECTED.get(name, 200)
        with self.lock:
            self.latencies[name].append(seconds)
            if status != expected and not (isinstance(expected, set) and status in expected):
                self.errors[f"{name} → {status}"] += 1

    def done(self, action: str, seconds: float) -> None:
        with self.lock:
            self.actions[action].append(seconds)

    def total(self) -> int:
        return sum(len(v) for v in self.latencies.values())

    def total_actions(self) -> int:
        return sum(len(v) for v in self.actions.values())


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000 if ordered else 0.0


class Line:
    """A client's keep-alive connection, reopened after any failure. The people one client plays
    take turns on it: on loopback a connection per person would only measure idle sockets."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def reopen(self) -> None:
        self.conn.close()
        self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)


class Browser:
    """One person's browser: their cookie jar, on their client's line."""

    def __init__(self, line: Line, recorder: Recorder) -> None:
        self.line = line
        self.recorder = recorder
        self.cookies: dict[str, str] = {}
        self.csrf: str | None = None  # the last state call's token, sent with likes
        self.likes_at: list[float] = []  # when this person liked or unliked (the pace)

    def forget(self) -> None:
        """A new visitor on the same phone line: no cookies."""
        self.cookies.clear()
        self.csrf = None

    def call(self, name: str, method: str, path: str, token: str | None = None, body=None, raw=None,
             form=None, csrf: bool = False):  # fmt: skip
        headers = {}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if csrf and self.csrf:
            headers["X-CSRFToken"] = self.csrf
        if body is not None:
            raw = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        elif form is not None:
            raw = urllib.parse.urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif raw is not None:
            headers["Content-Type"] = "application/octet-stream"
        began = time.perf_counter()
        try:
            self.line.conn.request(method, path, body=raw, headers=headers)
            response = self.line.conn.getresponse()
            data = response.read()
            status: int | str = response.status
            self.keep(response.headers.get_all("Set-Cookie") or [])
        except (OSError, http.client.HTTPException) as exc:
            self.line.reopen()
            status, data = type(exc).__name__, b""
        self.recorder.add(name, time.perf_counter() - began, status)
        return status, data

    def keep(self, headers: list[str]) -> None:
        for header in headers:
            jar = http.cookies.SimpleCookie()
            jar.load(header)
            for key, morsel in jar.items():
                if not morsel.value or morsel["max-age"] == "0":
                    self.cookies.pop(key, None)
                else:
                    self.cookies[key] = morsel.value


class Campaign:
    """The shared state of the simulated hour: who likes what, which drafts are still empty."""

    def __init__(self, world: dict, clip: bytes) -> None:
        self.world = world
        self.clip = clip
        self.drafts = list(world["drafts"])
        self.lock = threading.Lock()

    def next_draft(self):
        with self.lock:
            return self.drafts.pop(0) if self.drafts else None

    def act(self, anonymous: Browser, sessions: list[Browser], rng: random.Random, popular: Popularity,
            recorder: Recorder) -> None:  # fmt: skip
        action = rng.choices(list(MIX), list(MIX.values()))[0]
        began = time.perf_counter()
        viewer = rng.choice(self.world["viewers"])
        person = rng.choice(sessions)
        work = popular.pick()
        if action in PAGE_VIEWS:
            signed_in = rng.random() < SIGNED_IN_SHARE
            if not signed_in:
                anonymous.forget()
            browser = person if signed_in else anonymous
            if action == "home page":
                province = urllib.parse.quote(rng.choice(PROVINCES))
                path = rng.choice(["/", "/?sort=hot", "/?province=" + province])
            elif action == "work page":
                path = f"/works/{work}"
            elif action == "wall page":
                path = "/wall"
            else:
                path = "/search?q=" + urllib.parse.quote(rng.choice(["文明", "青年文明号"]))
            page_view(browser, action, path, signed_in)
            action = f"{action} ({'signed in' if signed_in else 'anonymous'})"
        elif action == "works API":
            anonymous.call(action, "GET", f"/api/v1/works?sort={rng.choice(['hot', 'new', 'likes'])}")
        elif action == "comments API":
            anonymous.call(action, "GET", f"/api/v1/works/{work}/comments")
        elif action in ("like", "unlike"):
            # People like at a human pace: the client's signed-in person who liked longest ago
            # clicks, and if even they liked under LIKE_PACE_SECONDS ago, the client waits.
            person = min(sessions, key=lambda b: b.likes_at[-1] if b.likes_at else 0.0)
            if person.likes_at:
                wait = person.likes_at[-1] + LIKE_PACE_SECONDS - time.perf_counter()
                if wait > 0:
                    recorder.paced(wait)
                    time.sleep(wait)
                    began = time.perf_counter()
            person.likes_at.append(time.perf_counter())
            method = "PUT" if action == "like" else "DELETE"
            person.call(action, method, f"/api/v1/works/{work}/like", csrf=True)
        elif action == "comment":
            body = {"body": rng.choice(["为青年文明号点赞！", "服务真贴心，向你们学习。", "很感人的故事"])}
            anonymous.call(action, "POST", f"/api/v1/works/{work}/comments", viewer, body)
        elif action == "upload":
            if not self.upload(anonymous):
                return
        recorder.done(action, time.perf_counter() - began)

    def upload(self, client: Browser) -> bool:
        draft = self.next_draft()
        if draft is None:
            return False
        token, work_id = draft
        meta = {"filename": "微电影.mp4", "size": len(self.clip), "content_type": "video/mp4"}
        status, data = client.call("upload: open", "POST", f"/api/v1/works/{work_id}/uploads", token, meta)
        if status != 201:
            return True
        opened = json.loads(data)
        size = opened["part_size"]
        parts = []
        for target in opened["parts"]:
            chunk = self.clip[(target["number"] - 1) * size : target["number"] * size]
            url = (
                target["url"].split("://", 1)[-1].partition("/")[2]
                if "://" in target["url"]
                else target["url"]
            )
            url = url if url.startswith("/") else "/" + url
            status, data = client.call("upload: part", "PUT", url, token, raw=chunk)
            if status != 200:
                return True
            parts.append({"number": target["number"], "etag": json.loads(data)["etag"]})
        path = f"/api/v1/uploads/{opened['upload_id']}/complete"
        client.call("upload: complete", "POST", path, token, {"parts": parts})
        return True


def page_view(browser: Browser, name: str, path: str, signed_in: bool) -> None:
    """The page, then what its scripts ask for on load before the person sees their state."""
    status, data = browser.call(name, "GET", path)
    if status != 200:
        return
    page = data.decode()
    meta = CSRF_META.search(page)  # a page rendered for this person (a message pending) has its own
    if meta:
        browser.csrf = html.unescape(meta.group(1))
    state = STATE_URL.search(page)
    view = VIEW_TOKEN.search(page)
    personal = None
    # static/js/state.js: only a browser holding the signed-in hint asks, with the ids of the
    # page's like widgets (at most 100) and, on a work page, its view token.
    if state and browser.cookies.get(HINT_COOKIE) == "1":
        ids = list(dict.fromkeys(LIKE_WIDGET.findall(page)))[:100]
        query = (["works=" + ",".join(ids)] if ids else []) + (
            ["view=" + urllib.parse.quote(html.unescape(view.group(1)))] if view else []
        )
        url = html.unescape(state.group(1)) + ("?" + "&".join(query) if query else "")
        status, data = browser.call("state call", "GET", url)
        if status == 200:
            personal = json.loads(data)
            browser.csrf = personal["csrf_token"] or browser.csrf
    beacon = VIEW_BEACON.search(page)
    if beacon and not (personal and personal.get("view_counted")):
        # static/js/views.js: the view is counted by the state call, else by the beacon; a first
        # visit is asked again, bringing the visitor cookie.
        url = html.unescape(beacon.group(1))
        status, _ = browser.call("view beacon", "POST", url)
        if status == 202:
            browser.call("view beacon: again", "POST", url + "&again=1")
    section = COMMENT_SECTION.search(page)
    if section and personal and personal["signed_in"] and "<body data-shared-page" in page:
        # static/js/comments.js: the first page again as the API answers this person, only where
        # they commented (their held comments, their delete buttons) or if they moderate.
        attributes = dict(ATTRIBUTE.findall(section.group(0)))
        own = int(attributes["data-work-id"]) in personal.get("own_comments", [])
        moderates = personal["nav"]["moderation"] or personal["nav"]["audit"]
        if own or moderates:
            browser.call("comments: own reload", "GET", html.unescape(attributes["data-api"]))
    if state and signed_in and not (personal and personal["signed_in"]):
        browser.recorder.add("signed-in page view kept its session", 0.0, "signed out")


def log_in(browser: Browser, email: str) -> None:
    """As a person does: the form, its post, the redirect's page (and its welcome message)."""
    status, data = browser.call("log-in form", "GET", "/login")
    token = CSRF_FIELD.search(data.decode()) if status == 200 else None
    if token is None:
        raise SystemExit(f"the log-in form answered {status} without a CSRF field")
    form = {"csrf_token": html.unescape(token.group(1)), "email": email, "password": support.PASSWORD}
    status, _ = browser.call("log-in form: post", "POST", "/login", form=form)
    if status != 302 or not browser.cookies:
        raise SystemExit(f"logging in {email} answered {status}")
    page_view(browser, "home page after log-in", "/", signed_in=True)
    if not browser.csrf:
        raise SystemExit(f"{email}'s state call brought no CSRF token")


def most_likes_a_minute(shares: list[list[Browser]]) -> int:
    """The most likes and unlikes one signed-in person sent within any 60 seconds."""
    most = 0
    for browser in (b for share in shares for b in share):
        times, start = browser.likes_at, 0
        for end, at in enumerate(times):
            while at - times[start] > 60:
                start += 1
            most = max(most, end - start + 1)
    return most


def row(name: str, values: list[float], total: int | None, seconds: float) -> str:
    share = f"{len(values) / total:>6.1%}" if total else " " * 6
    return (
        f"  {name:<28} {len(values):>7} {share} {len(values) / seconds:>8.1f} "
        f"{percentile(values, 50):>8.1f} {percentile(values, 99):>8.1f}"
    )


def cpu_seconds() -> float:
    """This process's CPU time so far, user + sys: the load generator's own cost."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def profile(server, seconds: float, run) -> None:
    """``run`` the mix while py-spy samples gunicorn, then print where its CPU went: by view (the
    first app function under Flask's dispatch) and by app function, inclusive."""
    raw = Path(tempfile.gettempdir()) / f"campaign-py-spy-{os.getpid()}.raw"
    spy = support.py_spy_record(server, seconds, raw)
    run()
    _out, errors = spy.communicate(timeout=seconds + 60)
    if spy.returncode != 0 or not raw.exists():
        print(f"  py-spy failed ({spy.returncode}): {errors.strip()[-300:]}", flush=True)
        return
    total, views, functions = support.py_spy_shares(raw)
    print(f"\n  profile: {seconds:.0f} s of the mix, {total} samples of gunicorn holding the GIL ({raw})")
    print("  by view:")
    for share, name in views:
        print(f"    {share * 100:5.1f} %  {name}")
    print("  by app function (inclusive):")
    for share, name in functions:
        print(f"    {share * 100:5.1f} %  {name}")


def run_for(seconds: float, clients: int, make_step, server=None) -> tuple[float, float, float]:
    """``clients`` threads repeat their step until the time is up; the measured seconds, the
    share of the machine's CPU time (seconds × CPUs) this process used meanwhile, and the CPU
    seconds gunicorn (``server``) used meanwhile."""
    stop_at = threading.Event()
    errors: list[str] = []
    start_line = threading.Barrier(clients + 1)

    def loop(index: int) -> None:
        step = make_step(index)
        start_line.wait()
        while not stop_at.is_set():
            try:
                step()
            except Exception as exc:  # counted, so that a broken step cannot pass as a quiet one
                errors.append(repr(exc))

    threads = [threading.Thread(target=loop, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    start_line.wait()
    began, cpu_began = time.perf_counter(), cpu_seconds()
    server_began = support.server_cpu_seconds(server) if server else 0.0
    time.sleep(seconds)
    stop_at.set()
    for thread in threads:
        thread.join()
    if errors:
        raise SystemExit(f"{len(errors)} client steps raised, e.g. {errors[0]}")
    elapsed = time.perf_counter() - began
    served = support.server_cpu_seconds(server) - server_began if server else 0.0
    return elapsed, (cpu_seconds() - cpu_began) / (elapsed * (os.cpu_count() or 1)), served


def log_in_all(lines: list[Line], emails: list[str]) -> tuple[list[list[Browser]], Recorder, float]:
    """Each of ``emails`` logged in through the form, one client per line side by side; the
    sessions dealt out to the clients, the log-ins' calls and the seconds they took."""
    recorder = Recorder()
    clients = len(lines)
    shares: list[list[Browser]] = [[] for _ in range(clients)]
    failures: list[str] = []

    def work(index: int) -> None:
        for email in emails[index::clients]:
            browser = Browser(lines[index], recorder)
            try:
                log_in(browser, email)
            except SystemExit as exc:
                failures.append(str(exc))
                return
            shares[index].append(browser)

    began = time.perf_counter()
    threads = [threading.Thread(target=work, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise SystemExit(f"{len(failures)} log-ins failed, e.g. {failures[0]}")
    return shares, recorder, time.perf_counter() - began


def counters_exact(works: list[int]) -> bool:
    import sqlalchemy as sa

    from app.engagement import counters
    from app.extensions import db
    from app.models import Comment, CommentStatus, Like

    likes = dict(
        db.session.execute(
            sa.select(Like.work_id, sa.func.count()).where(Like.work_id.in_(works)).group_by(Like.work_id)
        ).all()
    )
    comments = dict(
        db.session.execute(
            sa.select(Comment.work_id, sa.func.count())
            .where(Comment.work_id.in_(works), Comment.status == CommentStatus.VISIBLE)
            .group_by(Comment.work_id)
        ).all()
    )
    cached = counters.read_counts(works)
    return all(
        cached[w] is not None
        and (cached[w].likes, cached[w].comments) == (likes.get(w, 0), comments.get(w, 0))
        for w in works
    )


def call_costs(port: int, server, shares: list[list[Browser]], world: dict, seconds: float) -> dict:
    """Each call a page view makes, alone, every client at once for ``seconds``: gunicorn's CPU
    milliseconds per call. What to slim, call by call."""
    probe = shares[0][0]
    _, data = probe.call("probe", "GET", "/")
    ids = list(dict.fromkeys(LIKE_WIDGET.findall(data.decode())))[:100]
    state = "/api/v1/me/state?works=" + ",".join(ids)
    hot = world["works"][0]
    _, data = probe.call("probe", "GET", f"/works/{hot}")
    beacon = html.unescape(VIEW_BEACON.search(data.decode()).group(1))
    token = urllib.parse.quote(html.unescape(VIEW_TOKEN.search(data.decode()).group(1)))
    work_state = f"/api/v1/me/state?works={hot}&view={token}"

    def anonymous(path: str, method: str = "GET", forget: bool = False):
        def make(index: int):
            browser = Browser(Line(port), recorder)

            def step() -> None:
                if forget:
                    browser.forget()
                browser.call("cost", method, path)

            return step

        return make

    def signed_in(path: str, method: str = "GET"):
        def make(index: int):
            browser = shares[index][0]
            browser.recorder = recorder
            return lambda: browser.call("cost", method, path)

        return make

    def like_toggle(index: int):
        # Through the API with a bearer token, a new account each time: one session would meet
        # its per-account limit in a second. bench/likes.py measures the like in depth.
        browser = Browser(Line(port), recorder)
        tokens = world["viewers"][index :: len(shares)]
        turn = [0]

        def step() -> None:
            token = tokens[turn[0] % len(tokens)]
            method = "PUT" if (turn[0] // len(tokens)) % 2 == 0 else "DELETE"
            browser.call("cost", method, f"/api/v1/works/{hot}/like", token)
            turn[0] += 1

        return step

    steps = {
        "bare /healthz": anonymous("/healthz"),
        "work page, cached (anonymous)": anonymous(f"/works/{hot}"),
        "work page, cached (signed in)": signed_in(f"/works/{hot}"),
        "home page, cached (anonymous)": anonymous("/"),
        f"state call, {len(ids)} works (signed in)": signed_in(state),
        "state call + view, work page (signed in)": signed_in(work_state),
        "view beacon, first visit (202)": (anonymous(beacon, "POST", forget=True), 202),
        "view beacon, again (204)": (anonymous(beacon + "&again=1", "POST", forget=True), 204),
        "like or unlike (bearer token)": like_toggle,
    }
    costs = {}
    clients = len(shares)
    for name, step in steps.items():
        make, EXPECTED["cost"] = step if isinstance(step, tuple) else (step, 200)
        recorder = Recorder()
        _, _, used = run_for(seconds, clients, make, server)
        costs[name] = round(used / max(recorder.total(), 1) * 1000, 2)
        if recorder.errors:
            raise SystemExit(f"{name}: {dict(recorder.errors)}")
    return costs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=float(os.environ.get("BENCH_SECONDS", 60)))
    parser.add_argument("--bare-seconds", type=float, default=15)
    parser.add_argument("--hot-seconds", type=float, default=10)
    parser.add_argument("--rounds", type=int, default=3, help="turns the measurements take")
    parser.add_argument(
        "--costs",
        type=float,
        default=0,
        help="then each call of a page view alone this many seconds: its CPU",
    )
    parser.add_argument(
        "--profile",
        type=float,
        default=0,
        help="then this many seconds more of the mix under py-spy (--gil, gunicorn's master and "
        "workers): gunicorn's CPU by view and by function; the measured figures do not include it",
    )
    parser.add_argument("--clients", type=int, default=CLIENTS)
    parser.add_argument("--sessions", type=int, default=SESSIONS, help="viewers logged in through the form")
    parser.add_argument(
        "--workers", type=int, default=int(os.environ.get("BENCH_WORKERS", 2 * (os.cpu_count() or 1)))
    )
    parser.add_argument("--threads", type=int, default=int(os.environ.get("BENCH_THREADS", 8)))
    # sync: one request per process at a time, for comparing against threads (docs/decisions.md).
    parser.add_argument("--worker-class", choices=["gthread", "sync"], default="gthread")
    parser.add_argument(
        "--redis-cluster",
        action="store_true",
        help="counters, page cache and limits on a Redis Cluster of 3 primaries + 3 replicas started "
        "for the run (the queue stays on REDIS_URL)",
    )
    parser.add_argument(
        "--replica",
        action="store_true",
        help="PostgreSQL on a primary and a streaming replica started for the run, the page cache's "
        "renders reading the replica (DATABASE_REPLICA_URL)",
    )
    args = parser.parse_args()

    engines = support.Engines(redis_cluster=args.redis_cluster, replica=args.replica)
    workdir = Path(tempfile.mkdtemp(prefix="wmcwm-campaign-"))
    token = secrets.token_hex(4)
    prefix = f"wmcwm-campaign-{token}:"
    queue = f"media-campaign-{token}"
    database = support.Database(workdir, base_url=engines.database_url)
    env = support.server_env(
        database,
        workdir,
        prefix,
        **engines.settings(database),
        MEDIA_QUEUE=queue,
        # One loopback address stands in for thousands of phones; per-account limits stay as set.
        LIKE_IP_RATE_LIMIT="1000000 per minute",
        COMMENT_IP_RATE_LIMIT="1000000 per minute",
        SEARCH_IP_RATE_LIMIT="1000000 per minute",
        LOGIN_IP_RATE_LIMIT="1000000 per minute",
        VISITOR_COOKIE_IP_RATE_LIMIT="1000000 per minute",
        # Plain HTTP on loopback: a browser would not send Secure cookies back (config.py).
        COOKIE_SECURE="0",
    )
    os.environ.update(env)
    from app import create_app
    from app.extensions import db

    app = create_app()
    server = None
    try:
        with app.app_context():
            print(
                f"==> {database.kind}: {WORKS} works, {VIEWERS} viewers, {args.clients} clients for "
                f"{args.seconds:.0f} s, gunicorn {args.workers}×{args.threads} ({args.worker_class}) "
                f"on {os.cpu_count()} CPU(s)",
                flush=True,
            )
            world = populate()
            clip = make_clip(workdir / "clip.mp4")
            db.session.remove()
            port = support.free_port()
            server = support.start_server(
                env,
                port,
                args.workers,
                args.threads,
                app="wsgi:app",
                worker_class=args.worker_class,
                log=workdir / "gunicorn.log",
            )

            def bare_step(index: int):
                client = Browser(Line(port), bare)
                return lambda: client.call("bare /healthz", "GET", "/healthz")

            hot_path = f"/works/{world['works'][0]}"

            def hot_step(index: int):
                client = Browser(Line(port), hot)
                return lambda: client.call("hot work page", "GET", hot_path)

            def campaign_step(index: int):
                anonymous = Browser(lines[index], recorder)
                sessions = shares[index]
                for person in sessions:
                    person.recorder = recorder  # the log-ins' calls are counted apart
                rng = random.Random(f"{index}/{recorder.total_actions()}")  # a new stream each round
                popular = Popularity(world["works"], seed=rng.randrange(1 << 30))
                return lambda: hour.act(anonymous, sessions, rng, popular, recorder)

            hour = Campaign(world, clip)
            bare = Recorder()  # the warm-up's calls are thrown away
            run_for(3, args.clients, bare_step)
            lines = [Line(port) for _ in range(args.clients)]
            if args.sessions < args.clients:
                raise SystemExit("--sessions must be at least --clients: each client plays signed-in people")
            shares, logins, login_seconds = log_in_all(lines, world["emails"][: args.sessions])
            print(
                f"{args.sessions} viewers logged in through the form in {login_seconds:.1f} s "
                f"({len(logins.latencies['log-in form: post'])} posts, errors: {dict(logins.errors) or 0})",
                flush=True,
            )
            # The machine is shared: the three measurements take turns in --rounds slices, so that
            # each ratio compares figures taken under the same background load.
            bare, hot, recorder = Recorder(), Recorder(), Recorder()
            bare_seconds = hot_seconds = seconds = 0.0
            bare_cpu = hot_cpu = campaign_cpu = 0.0
            served = {"bare": 0.0, "hot": 0.0, "campaign": 0.0}  # gunicorn's CPU seconds
            for _ in range(args.rounds):
                took, cpu, used = run_for(args.bare_seconds / args.rounds, args.clients, bare_step, server)
                bare_seconds, bare_cpu = bare_seconds + took, bare_cpu + cpu * took
                served["bare"] += used
                took, cpu, used = run_for(args.hot_seconds / args.rounds, args.clients, hot_step, server)
                hot_seconds, hot_cpu = hot_seconds + took, hot_cpu + cpu * took
                served["hot"] += used
                for line in lines:  # idle meanwhile, maybe past gunicorn's keep-alive
                    line.reopen()
                took, cpu, used = run_for(args.seconds / args.rounds, args.clients, campaign_step, server)
                seconds, campaign_cpu = seconds + took, campaign_cpu + cpu * took
                served["campaign"] += used
                print(f"  round done: {recorder.total_actions()} actions so far", flush=True)
            bare_cpu, hot_cpu, campaign_cpu = (
                bare_cpu / bare_seconds,
                hot_cpu / hot_seconds,
                campaign_cpu / seconds,
            )
            if args.profile:
                measured, recorder = recorder, Recorder()  # the profiled slice counts apart
                profile(server, args.profile, lambda: run_for(args.profile, args.clients, campaign_step))
                recorder = measured
            costs = call_costs(port, server, shares, world, args.costs) if args.costs else {}
            support.stop_server(server)
            server = None

            exact = counters_exact(world["works"])
            total = recorder.total()
            actions = recorder.total_actions()
            rps = total / seconds
            aps = actions / seconds
            bare_rps = bare.total() / bare_seconds
            hot_rps = hot.total() / hot_seconds
            every = [x for values in recorder.latencies.values() for x in values]
            every_action = [x for values in recorder.actions.values() for x in values]
            views = {n: v for n, v in recorder.actions.items() if n.split(" (")[0] in PAGE_VIEWS}
            view_calls = sum(len(recorder.latencies.get(n, [])) for n in [*PAGE_VIEWS, *SCRIPT_CALLS])
            view_count = sum(len(v) for v in views.values())
            signed_in_views = sum(len(v) for n, v in views.items() if "signed in" in n)
            errors = sum(recorder.errors.values()) + sum(bare.errors.values()) + sum(hot.errors.values())
            print(f"\n{actions} actions in {seconds:.1f} s: {aps:.0f} actions/s, {total} calls "
                  f"({rps:.0f} calls/s, {total / max(actions, 1):.2f} calls an action; a page view "
                  f"{view_calls / max(view_count, 1):.2f} calls)")  # fmt: skip
            print(f"  {'action':<28} {'actions':>7} {'share':>6} {'per s':>8} {'p50 ms':>8} {'p99 ms':>8}")
            for name in sorted(recorder.actions, key=lambda n: -len(recorder.actions[n])):
                print(row(name, recorder.actions[name], actions, seconds))
            print(row("all", every_action, actions, seconds))
            print(f"\n  {'call':<28} {'calls':>7} {'share':>6} {'calls/s':>8} {'p50 ms':>8} {'p99 ms':>8}")
            for name in sorted(recorder.latencies, key=lambda n: -len(recorder.latencies[n])):
                print(row(name, recorder.latencies[name], total, seconds))
            print(row("all", every, total, seconds))
            print(row("bare /healthz", bare.latencies["bare /healthz"], None, bare_seconds), "(same clients)")
            print(row("hot work page", hot.latencies["hot work page"], None, hot_seconds), "(alone, anon)")
            print(f"\n  actions/s ÷ bare calls/s (vs_bare) = {aps / bare_rps:.2f}")
            print(f"  calls/s ÷ bare calls/s = {rps / bare_rps:.2f}")
            # What each costs gunicorn in CPU: unlike rates, not moved by the other jobs' load.
            cpu_bare = served["bare"] / max(bare.total(), 1) * 1000
            cpu_hot = served["hot"] / max(hot.total(), 1) * 1000
            cpu_action = served["campaign"] / max(actions, 1) * 1000
            cpus = os.cpu_count() or 1
            cpu_call = served["campaign"] / max(total, 1) * 1000
            shares_had = [
                served["bare"] / bare_seconds,
                served["hot"] / hot_seconds,
                served["campaign"] / seconds,
            ]
            print(f"  gunicorn's CPU: {cpu_bare:.2f} ms a bare call, {cpu_hot:.2f} ms a hot page, "
                  f"{cpu_action:.2f} ms an action ({cpu_call:.2f} ms a call); it had "
                  f"{' / '.join(f'{x / cpus:.0%}' for x in shares_had)} of the {cpus} CPUs")  # fmt: skip
            print(f"  bare call's CPU ÷ action's CPU (cpu_vs_bare) = {cpu_bare / cpu_action:.2f}, "
                  f"÷ hot page's (hot_page_cpu_vs_bare) = {cpu_bare / cpu_hot:.2f}")  # fmt: skip
            print(f"  hot work page alone ÷ bare (hot_page_vs_bare) = {hot_rps / bare_rps:.2f}")
            print(f"  load generator's CPU, share of {os.cpu_count()} CPUs: bare {bare_cpu:.0%}, "
                  f"hot page {hot_cpu:.0%}, campaign {campaign_cpu:.0%}")  # fmt: skip
            print(f"  errors: {dict(recorder.errors) or 0}, bare endpoint: {dict(bare.errors) or 0}, "
                  f"hot page: {dict(hot.errors) or 0}")  # fmt: skip
            print(f"  counters exact (Redis likes and comments = SQL, every work): {exact}")
            busiest = most_likes_a_minute(shares)
            print(f"  human pace: the busiest of {args.sessions} people liked {busiest} times in a minute; "
                  f"clients waited for a person {len(recorder.waits)} times "
                  f"({sum(recorder.waits):.1f} s)")  # fmt: skip
            if costs:
                print(f"\n  each call alone for {args.costs:.0f} s, gunicorn's CPU ms a call (÷ bare's):")
                for name, ms in costs.items():
                    print(f"  {name:<40} {ms:>6.2f} {ms / costs['bare /healthz']:>6.1f}×")
            summary = {
                "actions_per_s": round(aps, 1),
                "vs_bare": round(aps / bare_rps, 2),
                "hot_page_vs_bare": round(hot_rps / bare_rps, 2),
                "hot_page_rps": round(hot_rps),
                "rps": round(rps),
                "calls_vs_bare": round(rps / bare_rps, 2),
                "errors": errors,
                "p50_ms": round(percentile(every, 50), 1),
                "p99_ms": round(percentile(every, 99), 1),
                "action_p50_ms": round(percentile(every_action, 50), 1),
                "action_p99_ms": round(percentile(every_action, 99), 1),
                "bare_rps": round(bare_rps),
                "calls": total,
                "actions": actions,
                "page_views": view_count,
                "signed_in_page_views": signed_in_views,
                "calls_per_page_view": round(view_calls / max(view_count, 1), 2),
                "sessions": args.sessions,
                "likes_per_s": round(len(recorder.latencies["like"]) / seconds, 1),
                "most_likes_a_minute_one_person": busiest,
                "like_pace_waits": len(recorder.waits),
                "like_pace_wait_s": round(sum(recorder.waits), 1),
                "uploads": len(recorder.latencies["upload: complete"]),
                "exact": exact,
                "db": database.kind,
                "redis": "cluster" if args.redis_cluster else "standalone",
                "replica": args.replica,
                "clients": args.clients,
                "seconds": round(seconds, 1),
                "cpu_vs_bare": round(cpu_bare / cpu_action, 2),
                "hot_page_cpu_vs_bare": round(cpu_bare / cpu_hot, 2),
                "server_cpu_ms": {
                    "bare_call": round(cpu_bare, 2),
                    "hot_page": round(cpu_hot, 2),
                    "action": round(cpu_action, 2),
                    "call": round(cpu_call, 2),
                },
                "server_cpu_share": dict(
                    zip(
                        ["bare", "hot_page", "campaign"],
                        [round(x / cpus, 2) for x in shares_had],
                        strict=True,
                    )
                ),
                "bench_cpu_share": {
                    "bare": round(bare_cpu, 2),
                    "hot_page": round(hot_cpu, 2),
                    "campaign": round(campaign_cpu, 2),
                },
                "call_cpu_ms": costs,
                "per_action": {
                    name: {
                        "per_s": round(len(v) / seconds, 1),
                        "p50_ms": round(percentile(v, 50), 1),
                        "p99_ms": round(percentile(v, 99), 1),
                    }
                    for name, v in sorted(recorder.actions.items())
                },  # fmt: skip
                "per_call": {
                    name: {"p50_ms": round(percentile(v, 50), 1), "p99_ms": round(percentile(v, 99), 1)}
                    for name, v in sorted(recorder.latencies.items())
                },
            }
    finally:
        if server is not None:
            support.stop_server(server)
        support.release(app, prefix, queue)
        database.drop()
        engines.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    print(json.dumps(summary, ensure_ascii=False))


if __name__ == "__main__":
    main()
