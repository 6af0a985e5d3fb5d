"""The demo campaign's last two weeks, replayed through the real services.

Every event is written by the service a person's click would call (create_account, create_story,
approve_work, like_work, post_comment, record_view, flush_views, feature, recommend_work, …),
inside ``clock_at`` set to the moment it happened. So nothing is patched afterwards and nothing
disagrees: a publication time is the one ``approve_work`` wrote and ranked the hot score with, a
like's time is its row's, and a day's views reach ``work.view_count`` and ``view_day`` through the
flush that closes that day, exactly as the live site does it. ``reconcile_counters`` run right
after the load finds nothing to repair, and the dashboard's curves add up to the cards.

The timeline, counted back from the moment of loading (day k = the 24 hours ending k days ago):
accounts and collectives four weeks ago, the campaign opening three weeks ago, stories published
one by one over the last 13 days with their likes, comments and views day after day, the featured
wall two days ago, two stories submitted yesterday and today, and today a 推报, replies, a comment
held by the word filter and, in the last minutes, a burst of likes from brand-new accounts.
"""

from __future__ import annotations

import io
import logging
import math
import random
import secrets
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app
from PIL import Image, ImageDraw, ImageFont

from app.auth.services import create_account
from app.catalog.campaigns import create_campaign
from app.catalog.collectives import create_collective, set_collective_badge
from app.clock import clock_at, local_midnight, to_local, utcnow
from app.demo import content
from app.demo.content import DemoStory
from app.engagement import comments as comment_service
from app.engagement import services as engagement
from app.engagement import views
from app.extensions import db
from app.models import Comment, Role, User, Work, WorkKind
from app.moderation import integrity
from app.moderation import services as moderation
from app.notifications import services as notifications
from app.stored_files import media_url
from app.wall import services as wall
from app.works import services as svc

log = logging.getLogger(__name__)

SEED = 2026
# Views a story of popularity 1 gets on its first full day; each later day brings 72 % of the day
# before, plus a few stragglers.
VIEWS_PER_DAY = 110
VIEWS_DECAY = 0.72
LIKES_PER_STORY = 13


@dataclass
class Accounts:
    admin: User
    moderator: User
    provincial: User
    members: list[User]
    viewer: User
    fans: list[User]
    credentials: list[tuple[str, str, str]] = field(default_factory=list)


@dataclass
class LoadedDemo:
    credentials: list[tuple[str, str, str]]  # (label, e-mail, password) of the accounts to try
    videos: list[int]  # ids of the film and videos waiting for their clips, as content.VIDEOS


def _password() -> str:
    # Letters and digits are both guaranteed, whatever the random part turns out to be.
    return f"Wm{secrets.token_hex(6)}7x"


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except (OSError, TypeError, ImportError):  # Pillow without FreeType: the small bitmap font
        return ImageFont.load_default()


def _picture(seed: int, color: tuple[int, int, int], label: str, size=(1280, 800)) -> bytes:
    """A gradient with a few soft shapes and a label: enough to look like a picture."""
    rng = random.Random(seed)
    width, height = size
    top = tuple(min(255, c + 70) for c in color)
    bottom = tuple(max(0, c - 40) for c in color)
    gradient = Image.linear_gradient("L").resize(size)
    img = Image.composite(Image.new("RGB", size, bottom), Image.new("RGB", size, top), gradient)
    draw = ImageDraw.Draw(img, "RGBA")
    for _ in range(7):
        radius = rng.randint(height // 10, height // 3)
        x, y = rng.randint(0, width), rng.randint(0, height)
        draw.ellipse(
            (x - radius, y - radius, x + radius, y + radius), fill=(255, 255, 255, rng.randint(20, 60))
        )
    # A sun and a horizon: the campaign's bright-future motif.
    cx, cy, r = width * 0.75, height * 0.35, height * 0.12
    draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=(255, 220, 120, 220))
    points = [(x, height * 0.72 + math.sin(x / 90 + seed) * 18) for x in range(0, width + 40, 40)]
    draw.polygon([(0, height), *points, (width, height)], fill=(255, 255, 255, 70))
    draw.text((48, height - 110), label, font=_font(54), fill=(255, 255, 255, 235))
    out = io.BytesIO()
    img.save(out, "JPEG", quality=92)
    return out.getvalue()


def _badge(color: tuple[int, int, int], seed: int) -> bytes:
    """A round emblem with a five-pointed star, on a transparent background."""
    size = 512
    img = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(img)
    draw.ellipse((16, 16, size - 16, size - 16), fill=(*color, 255), outline=(255, 215, 0, 255), width=18)
    cx = cy = size / 2
    star = []
    for i in range(10):
        radius = 170 if i % 2 == 0 else 70
        angle = -math.pi / 2 + i * math.pi / 5
        star.append((cx + radius * math.cos(angle), cy + radius * math.sin(angle)))
    draw.polygon(star, fill=(255, 215, 0, 255))
    draw.text((cx - 60, size - 120), f"No.{seed:02d}", font=_font(40), fill=(255, 255, 255, 255))
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()


class Replay:
    """The demo's clock and dice: ``at(days, hours)`` is that long before the moment of loading."""

    def __init__(self) -> None:
        self.now = utcnow()
        self.rng = random.Random(SEED)

    def moment(self, days: float, hours: float = 0.0) -> datetime:
        return self.now - timedelta(days=days, hours=hours)

    def at(self, days: float, hours: float = 0.0):
        return clock_at(self.moment(days, hours))


@dataclass(frozen=True)
class AccountSpec:
    moment: datetime
    email: str
    role: Role
    name: str
    label: str | None = None  # printed with its password; None: nobody signs in with it
    options: tuple[tuple[str, str], ...] = ()


ACCOUNT_THREADS = 2


def _create_accounts(specs: list[AccountSpec]) -> list[tuple[User, str]]:
    """``create_account`` for each spec at its moment, two at a time: hashing the password (scrypt,
    which releases the GIL) is most of what the demo costs, and the accounts do not depend on each
    other. Each thread has its own app context, hence its own session; SQLite's busy timeout makes
    the inserts take turns. Returns (user, password) in the order of ``specs``."""
    app = current_app._get_current_object()

    def create(spec: AccountSpec) -> tuple[int, str]:
        password = _password()
        with app.app_context(), clock_at(spec.moment):
            user, _created = create_account(
                email=spec.email,
                password=password,
                role=spec.role,
                display_name=spec.name,
                **dict(spec.options),
            )
            return user.id, password

    with ThreadPoolExecutor(max_workers=ACCOUNT_THREADS, thread_name_prefix="demo-accounts") as pool:
        made = list(pool.map(create, specs))
    return [(db.session.get(User, user_id), password) for user_id, password in made]


def _accounts(replay: Replay) -> Accounts:
    province = content.PROVINCIAL_MODERATOR_PROVINCE
    staff = [
        AccountSpec(replay.moment(27), "demo-admin@example.com", Role.ADMIN, "活动管理员", "管理员 admin"),
        AccountSpec(replay.moment(27), "demo-moderator@example.com", Role.MODERATOR, "全国审核员",
                    "全国审核员 national moderator"),
        AccountSpec(replay.moment(27), "demo-moderator-gd@example.com", Role.MODERATOR, f"{province}省审核员",
                    f"{province}省审核员 provincial moderator ({province})", (("province", province),)),
    ]  # fmt: skip
    collectives = []
    for number, spec in enumerate(content.COLLECTIVES, start=1):
        with replay.at(26):
            collectives.append(
                create_collective(
                    spec.name,
                    industry=spec.industry,
                    province=spec.province,
                    level=spec.level,
                    promise=spec.promise,
                    supervision_channel=spec.channel,
                    verified=True,
                )
            )
        staff.append(
            AccountSpec(replay.moment(26), f"demo-member{number}@example.com", Role.COLLECTIVE,
                        f"{spec.province}青年{number}号", f"集体成员 member · {spec.name}",
                        (("collective_name", spec.name),))
        )  # fmt: skip
    staff.append(
        AccountSpec(
            replay.moment(26), "demo-viewer@example.com", Role.VIEWER, "青年网友小周", "青年网友 viewer"
        )
    )
    fans = [
        AccountSpec(replay.moment(28 - n * 0.1), f"demo-fan{n + 1:02d}@example.com", Role.VIEWER, name)
        for n, name in enumerate(content.FAN_NAMES)
    ]
    made = _create_accounts(staff + fans)
    credentials = [
        (spec.label, user.email, password)
        for spec, (user, password) in zip(staff, made[: len(staff)], strict=True)
        if spec.label
    ]
    users = [user for user, _password in made]
    admin, moderator, provincial = users[:3]
    members = users[3 : 3 + len(collectives)]
    viewer = users[3 + len(collectives)]
    for number, (collective, member) in enumerate(zip(collectives, members, strict=True), start=1):
        with replay.at(26):
            set_collective_badge(collective, member, _badge(content.COLLECTIVES[number - 1].color, number))
    return Accounts(admin, moderator, provincial, members, viewer, users[len(staff) :], credentials)


def _ip(rng: random.Random) -> str:
    # Private addresses from many networks: ordinary likes come from everywhere.
    return f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"


class DemoCampaign:
    """Plays ``content`` day by day; ``run()`` returns what was made."""

    def __init__(self) -> None:
        self.replay = Replay()
        self.rng = self.replay.rng
        self.works: dict[str, Work] = {}
        self.published: dict[str, DemoStory] = {}  # by title, in the order they came out
        self.threads: dict[tuple[str, int], list[int]] = {}  # (title, n-th comment) -> comment ids
        self.likers: dict[str, list[User]] = {}  # title -> fans who will like it, in order

    # -- the timeline --------------------------------------------------------------------------

    def run(self) -> LoadedDemo:
        replay = self.replay
        self.accounts = _accounts(replay)
        with replay.at(25):
            self.campaign = create_campaign(
                "2026年青年文明号“网络倡文明”主题活动",
                description="用微电影、微视频、微故事讲述青年文明号集体的职业文明。",
                submission_opens=replay.moment(20),
                submission_closes=replay.now + timedelta(days=40),
                voting_opens=replay.moment(20),
                voting_closes=replay.now + timedelta(days=70),
            )
        for day in range(content.HISTORY_DAYS - 1, -1, -1):
            self.day(day)
        videos = self.video_drafts()
        # The detector runs every minute on the schedule (app/schedule.py); run once now, so
        # that the burst is on the vote-integrity page however the demo was loaded.
        integrity.detect()
        return LoadedDemo(credentials=self.accounts.credentials, videos=videos)

    def day(self, k: int) -> None:
        """The 24 hours that ended k days ago: publications, then what people did, then views."""
        for story in content.STORIES:
            if story.days_ago == k:
                (self.submit_story if story.waiting else self.publish_story)(story, k)
        for story in content.STORIES:
            for n, comment in enumerate(story.comments):
                if comment.days_ago == k:
                    self.discuss(story.title, n, comment)
        self.likes(k)
        if k == content.WALL_DAYS_AGO:
            self.curate_wall(k)
        if k == 1:
            self.read_notifications(k)
        if k == 0:
            self.today()
        self.views(k)
        if k == 0:
            self.burst()
        self.flush(k)

    # -- works -----------------------------------------------------------------------------------

    def _write_story(self, story: DemoStory, k: int, hours: float) -> Work:
        member = self.accounts.members[story.collective]
        number = len(self.works) + 1
        color = content.COLLECTIVES[story.collective].color
        with self.replay.at(k, hours):
            work = svc.create_story(
                member, title=story.title, summary=story.summary, campaign_id=self.campaign.id
            )
            assets = [
                svc.add_story_image(work, member, _picture(number * 10 + i, color, f"#{number}-{i + 1}"))
                for i in range(story.pictures)
            ]
            # The first picture goes inline, as the editor's "插入正文" button would put it.
            first = media_url(assets[0].storage_key)
            body = "\n\n".join([story.paragraphs[0], f"![]({first})", *story.paragraphs[1:]])
            svc.update_work(work, member, title=story.title, summary=story.summary, body=body)
        self.works[story.title] = work
        return work

    def _reviewer(self, story: DemoStory) -> User:
        """The province's own moderator where there is one, else the national one."""
        if content.COLLECTIVES[story.collective].province == self.accounts.provincial.province:
            return self.accounts.provincial
        return self.accounts.moderator

    def publish_story(self, story: DemoStory, k: int) -> None:
        # Written, submitted an hour later, approved three hours after that, 14 to 18 hours before
        # the replayed day ends (so before the day's likes and comments). Those hours must not
        # straddle a local midnight, or two stories land on one date: the test of the demo met it
        # when the demo was loaded at 15:13 in Beijing (the stories read as published one a day).
        hours = 4 + self._approval_offset(self.rng.uniform(0, 1))
        work = self._write_story(story, k, hours)
        member = self.accounts.members[story.collective]
        with self.replay.at(k, hours - 1):
            svc.submit_for_review(work, member)
        with self.replay.at(k, hours - 4):
            moderation.approve_work(self._reviewer(story), work.id)
        self.published[story.title] = story
        fans = list(self.accounts.fans)
        self.rng.shuffle(fans)
        total = round(story.popularity * LIKES_PER_STORY * self.rng.uniform(0.85, 1.15))
        self.likers[story.title] = fans[: max(3, min(total, len(fans)))]

    def _approval_offset(self, share: float) -> float:
        """Hours before the end of a replayed day for an approval: ``share`` of the way through
        14 to 18 hours, or through the part of them on one side of the local midnight when it
        falls among them (half an hour clear of it)."""
        local = to_local(self.replay.now)
        midnight = (local - local_midnight(local.date())).total_seconds() / 3600  # hours back
        low, high = 14.0, 18.0
        if low - 0.5 < midnight < high + 0.5:
            if midnight >= (low + high) / 2:
                high = midnight - 0.5
            else:
                low = midnight + 0.5
        return low + share * (high - low)

    def submit_story(self, story: DemoStory, k: int) -> None:
        hours = 5 - self.rng.uniform(0, 2)
        work = self._write_story(story, k, hours)
        with self.replay.at(k, hours - 1):
            svc.submit_for_review(work, self.accounts.members[story.collective])

    # -- what people did -----------------------------------------------------------------------

    def _author(self, who: int | str, title: str) -> User:
        if who == "member":
            story = next(s for s in content.STORIES if s.title == title)
            return self.accounts.members[story.collective]
        return self.accounts.fans[int(who)]

    def _post(self, user: User, title: str, body: str, parent_id: int | None = None) -> Comment:
        return comment_service.post_comment(user, self.works[title], body, parent_id)

    def discuss(self, title: str, n: int, comment: content.DemoComment) -> None:
        with self.replay.at(comment.days_ago, 15):
            root = self._post(self._author(comment.author, title), title, comment.body)
        ids = [root.id]
        for i, (who, body) in enumerate(comment.replies):
            with self.replay.at(comment.days_ago, 13 - 2 * i):
                ids.append(self._post(self._author(who, title), title, body, ids[-1]).id)
        self.threads[(title, n)] = ids

    def likes(self, k: int) -> None:
        """Each published story's likes spread over the days since it came out, most early on."""
        events: list[tuple[datetime, str, User]] = []
        for title, story in self.published.items():
            likers = self.likers[title]
            age = story.days_ago - k
            weights = [0.62**a for a in range(story.days_ago + 1)]
            done = round(len(likers) * sum(weights[:age]) / sum(weights))
            due = round(len(likers) * sum(weights[: age + 1]) / sum(weights))
            for fan in likers[done:due]:
                events.append((self.replay.moment(k, self.rng.uniform(1.5, 14)), title, fan))
        if k == 3:  # the demo viewer likes a few stories, so their page shows liked hearts
            for title in ("末班车前的十分钟", "大山里的晚自习", "凌晨三点的急诊室"):
                events.append((self.replay.moment(k, self.rng.uniform(1.5, 14)), title, self.accounts.viewer))
        for moment, title, user in sorted(events, key=lambda event: event[0]):
            with clock_at(moment):
                engagement.like_work(user, self.works[title], ip=_ip(self.rng))

    def views(self, k: int) -> None:
        """The day's views, counted as the work pages count them."""
        with self.replay.at(k, 1):
            for title, story in self.published.items():
                work = self.works[title]
                age = story.days_ago - k
                n = story.popularity * VIEWS_PER_DAY * VIEWS_DECAY**age * self.rng.uniform(0.8, 1.2)
                for i in range(round(n) + self.rng.randint(2, 6)):
                    views.record_view(work, views.viewer_key(None, f"192.0.2.{i % 250}", f"demo/{i // 250}"))

    def flush(self, k: int) -> None:
        # The flush is what writes views to SQL, crediting them to the day it runs on: it runs at
        # the end of each replayed day, as the minute job does on the live site.
        moment = self.replay.moment(k) - timedelta(minutes=1) if k else utcnow()
        with clock_at(moment):
            views.flush_views(lock_wait=60)

    def curate_wall(self, k: int) -> None:
        with self.replay.at(k, 10):
            for title, note in content.WALL:
                wall.feature(self.accounts.moderator, self.works[title].id, note)

    def read_notifications(self, k: int) -> None:
        with self.replay.at(k, 2):
            for user in [*self.accounts.members, self.accounts.viewer]:
                notifications.mark_read(user)

    def today(self) -> None:
        accounts = self.accounts
        title, body, answer = content.VIEWER_COMMENT
        with self.replay.at(0, 5):
            question = self._post(accounts.viewer, title, body)
        with self.replay.at(0, 2.5):
            self._post(self._author("member", title), title, answer, question.id)
        title, fan, body = content.FAN_REPLY_TO_MEMBER
        member_reply = self.threads[(title, 0)][1]
        with self.replay.at(0, 3):
            self._post(accounts.fans[fan], title, body, member_reply)
        with self.replay.at(0, 4):
            moderation.recommend_work(
                accounts.provincial, self.works[content.RECOMMENDED].id, "推荐参加全国展示。"
            )
        title, fan, body = content.PENDING_COMMENT
        with self.replay.at(0, 1.5):
            self._post(accounts.fans[fan], title, body)

    def burst(self) -> None:
        """Brand-new accounts, one network, one work, a few minutes: the classic 刷票 pattern.
        Each account is made a quarter of a minute before its like."""
        work = self.works[content.BURST_TARGET]
        end = utcnow()  # the real time: the detector looks at the last minutes before it runs
        span = content.BURST_MINUTES * 60
        seconds_ago = [120 + span * (1 - n / content.BURST_ACCOUNTS) for n in range(content.BURST_ACCOUNTS)]
        specs = [
            AccountSpec(end - timedelta(seconds=ago), f"demo-new{n + 1:02d}@example.com",
                        Role.VIEWER, f"新用户{self.rng.randint(1000, 9999)}")
            for n, ago in enumerate(seconds_ago)
        ]  # fmt: skip
        for (user, _password_unused), ago in zip(_create_accounts(specs), seconds_ago, strict=True):
            with clock_at(end - timedelta(seconds=ago - 15)):
                engagement.like_work(user, work, ip=f"{content.BURST_SUBNET}.{self.rng.randint(2, 250)}")

    # -- the films and videos ------------------------------------------------------------------

    def video_drafts(self) -> list[int]:
        """Drafts of the demo's films and videos; their clips are made and uploaded by the
        media worker (``app.demo.videos``)."""
        ids = []
        for video in content.VIDEOS:
            member = self.accounts.members[video.collective]
            with self.replay.at(0, 0.5):
                work = svc.create_work(
                    member,
                    kind=WorkKind(video.kind),
                    title=video.title,
                    summary=video.summary,
                    campaign_id=self.campaign.id,
                )
            self.works[video.title] = work
            ids.append(work.id)
        return ids


def load_demo() -> LoadedDemo:
    """Create the demo campaign (see the module's docstring)."""
    loaded = DemoCampaign().run()
    db.session.commit()
    return loaded
