"""The API's test world: two provinces' collectives, one account of each role, six works in every
state a call can meet (ids 1-6), comments, a featured slot and an upload on work 3.

The schemathesis fuzz (tests/test_api_fuzz.py) draws path ids from these rows, and the recorded
request-error answers (tests/test_api_request_errors.py) were recorded in exactly this world: its
rows and their order are part of that record.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.engagement import comments
from app.extensions import db
from app.media import uploads
from app.models import FeaturedSlot, Role, User
from app.moderation import services as moderation
from tests.builders_support import make_campaign, make_work


@dataclass
class ApiWorld:
    member: User  # of the Beijing collective, owner of the upload
    national: User  # a national moderator
    upload_id: str


def build_api_world(make_collective, make_user) -> ApiWorld:
    campaign = make_campaign(title="2026年“网络倡文明”主题活动")
    beijing = make_collective("北京地铁青年文明号", "交通运输", "北京")
    shanghai = make_collective("上海银行青年文明号", "金融", "上海")
    viewer = make_user(Role.VIEWER)
    member = make_user(Role.COLLECTIVE, collective=beijing)
    national = make_user(Role.MODERATOR)
    make_user(Role.MODERATOR, province="北京")
    make_user(Role.ADMIN)
    make_user(Role.COLLECTIVE, collective=shanghai)

    # Works, comments and moderation through the services, as the calls under test find them.
    published = make_work(beijing, campaign, title="站台上的温暖守候")
    make_work(shanghai, campaign, title="柜台前的耐心")
    make_work(beijing, campaign, title="隧道里的夜班", kind="film", status="draft")
    to_approve = make_work(beijing, campaign, title="候车室里的一杯热水", status="pending_review")
    make_work(shanghai, campaign, title="一张存折的故事", status="pending_review")
    make_work(beijing, campaign, title="末班车", kind="video", status="draft")
    moderation.approve_work(national, to_approve.id)
    moderation.recommend_work(national, published.id, "")

    top = comments.post_comment(viewer, published, "说得真好，向你们学习")
    comments.post_comment(member, published, "谢谢支持", top.id)
    comments.post_comment(member, published, "欢迎来站里看看")
    db.session.add(FeaturedSlot(work_id=published.id, position=0, note="本周推荐", by_id=national.id))
    db.session.commit()

    upload = uploads.create_upload(3, member, filename="隧道.mp4", size=20 * 2**20, content_type="video/mp4")
    return ApiWorld(member=member, national=national, upload_id=upload.id)
