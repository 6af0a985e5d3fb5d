"""`flask demo load [--if-empty]`: a small, believable site for a fresh `make run`.

Everything is created through the same services the pages use (accounts, collectives, stories,
process_image, render_markdown, submit and publish), so the demo also exercises them. Pictures
are drawn with Pillow; nothing is fetched from the network.
"""

from __future__ import annotations

import io
import math
import random
import secrets
from dataclasses import dataclass
from datetime import timedelta

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import AppGroup, with_appcontext
from PIL import Image, ImageDraw, ImageFont

from app.extensions import db
from app.models import Level, Role, User, utcnow
from app.moderation import services as moderation
from app.works import services as svc

demo_cli = AppGroup("demo", help="演示数据 / demo data")


@dataclass(frozen=True)
class DemoCollective:
    name: str
    industry: str
    province: str
    level: Level
    promise: str
    channel: str
    color: tuple[int, int, int]


COLLECTIVES: tuple[DemoCollective, ...] = (
    DemoCollective(
        "国网某供电公司客户服务中心青年文明号", "能源电力", "浙江", Level.NATIONAL,
        "我们承诺：抢修 30 分钟内到达现场，办电业务“一次都不跑”，每一度电都安全可靠。",
        "供电服务热线 95598（示例）", (32, 96, 168),
    ),
    DemoCollective(
        "北京地铁某站务中心青年文明号", "交通运输", "北京", Level.NATIONAL,
        "我们承诺：首末班车准点服务，重点乘客全程帮扶，站内问询有问必答。",
        "监督邮箱 jiandu-metro@example.com", (0, 128, 96),
    ),
    DemoCollective(
        "广东某医院急诊科青年文明号", "医疗卫生", "广东", Level.PROVINCIAL,
        "我们承诺：急危重症患者绿色通道随到随诊，耐心解答每一位家属的疑问。",
        "医患服务中心 020-0000-0000（示例）", (200, 40, 60),
    ),
    DemoCollective(
        "四川某银行营业部青年文明号", "金融", "四川", Level.PROVINCIAL,
        "我们承诺：老年客户优先办理，金融知识进社区，守护群众“钱袋子”。",
        "客户意见簿与监督电话 028-0000-0000（示例）", (190, 120, 20),
    ),
    DemoCollective(
        "上海某区政务服务中心青年文明号", "政务服务", "上海", Level.CITY,
        "我们承诺：一窗受理、一网通办，办不成的事有人兜底，群众满意是唯一标准。",
        "12345 市民服务热线（示例）", (110, 60, 160),
    ),
    DemoCollective(
        "云南某县中学教研组青年文明号", "教育", "云南", Level.CITY,
        "我们承诺：不让一个孩子因家庭困难失学，课堂向每一个学生敞开。",
        "校长信箱 xiaozhang@example.com", (30, 140, 60),
    ),
)  # fmt: skip

# (collective index, title, summary, body paragraphs, number of pictures)
STORIES: tuple[tuple[int, str, str, tuple[str, ...], int], ...] = (
    (0, "零下十度的抢修夜", "寒潮夜里，一条线路跳闸，三百户居民的暖气等着我们。",
     ("晚上十一点，调度电话响了。城东一条 10 千伏线路跳闸，三百多户居民家里的电暖器一下子全停了。",
      "我们带上工具出发，雪越下越大。**四十分钟后**，故障点找到了：一根被积雪压断的树枝搭在了导线上。",
      "凌晨两点，灯一盏盏亮起来。一位老大爷站在楼道口，端来一壶热茶：“小伙子们，辛苦了。”"), 3),
    (0, "“一次都不跑”的办电故事", "小微企业主王姐的新店开业前，电通了。",
     ("王姐的奶茶店装修好了，却卡在了用电报装上。她以为要跑好几趟营业厅。",
      "我们的客户经理把材料清单发到她手机上，上门勘查、装表接电一次完成。",
      "- 线上申请：10 分钟\n- 上门勘查：当天\n- 装表接电：第二天"), 2),
    (1, "末班车前的十分钟", "一位迷路的老人，一趟不能错过的末班车。",
     ("晚上十点五十分，站台上一位老人拿着写满字的纸条，一遍遍问着同一个站名。",
      "值班站务员小李认出那是换乘站的名字，她陪老人走过长长的换乘通道，一直送上末班车。",
      "> 车门关上前，老人回头朝她挥了挥手。"), 2),
    (1, "站台上的手语", "为听障乘客开设的“无声服务窗口”。",
     ("我们站有几位常来的听障乘客。去年，全班组利用休息时间学起了手语。",
      "现在，问询处多了一块牌子：**“我会手语，请找我。”**"), 1),
    (2, "凌晨三点的急诊室", "一个发高烧的孩子和一位手足无措的年轻妈妈。",
     ("凌晨三点，一位年轻妈妈抱着高烧抽搐的孩子冲进急诊大厅。",
      "分诊护士一眼判断情况紧急，绿色通道立即开启：测体温、止惊、补液，一气呵成。",
      "天亮时孩子退了烧。妈妈说，那一晚她记住了每一位医护的名字。"), 3),
    (2, "写给患者家属的一封信", "把复杂的病情，讲成家属听得懂的话。",
     ("很多家属在抢救室门外最怕的，不是坏消息，而是“什么都不知道”。",
      "我们整理了一本《急诊家属须知》，用最平实的话讲清楚每一步在做什么。"), 1),
    (3, "社区里的反诈课", "一堂课，拦下了一笔十万元的转账。",
     ("我们每月走进社区给老人讲反诈知识。课后一周，一位阿姨来到网点要给“公安局”转账十万元。",
      "柜员想起她上过我们的课，耐心陪她核实，最终识破了骗局。",
      "1. 不轻信来电\n2. 不透露验证码\n3. 不向陌生账户转账"), 2),
    (4, "办不成事的窗口", "专门解决“办不成”的事，是我们最骄傲的窗口。",
     ("中心设了一个特别的窗口：“办不成事”反映窗口。",
      "一位外地来沪的务工人员因为材料不全，跑了三趟没能办成居住证，我们在这个窗口帮他一次理清。"), 2),
    (5, "大山里的晚自习", "晚自习的灯，照亮孩子们走出大山的路。",
     ("学校离最远的村子有二十多公里山路。为了让住校的孩子晚上有人答疑，教研组的年轻老师轮流值守晚自习。",
      "三年来，这盏灯没有熄过一个晚上。今年，班上第一次有孩子考进了省城的重点大学。"), 3),
    (5, "一个都不能少", "家访路上的二十公里。",
     ("开学第三天，小梅没有来上学。班主任骑着摩托车走了二十公里山路去家访。",
      "原来家里缺劳动力，想让她在家帮忙。老师和村干部一起想办法，小梅第二周回到了教室。"), 1),
)  # fmt: skip


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


def _password() -> str:
    # Letters and digits are both guaranteed, whatever the random part turns out to be.
    return f"Wm{secrets.token_hex(6)}7x"


def _account(
    email: str, role: Role, display_name: str, collective_name: str | None = None
) -> tuple[User, str]:
    from app.auth.services import create_account

    password = _password()
    user, _created = create_account(
        email=email, password=password, role=role, display_name=display_name, collective_name=collective_name
    )
    return user, password


def load_demo() -> list[tuple[str, str, str]]:
    """Create the demo content; returns (label, email, password) of the accounts it made."""
    now = utcnow()
    campaign = svc.create_campaign(
        "2026年青年文明号“网络倡文明”主题活动",
        description="用微电影、微视频、微故事讲述青年文明号集体的职业文明。",
        submission_opens=now - timedelta(days=20),
        submission_closes=now + timedelta(days=40),
        voting_opens=now - timedelta(days=20),
        voting_closes=now + timedelta(days=70),
    )
    credentials: list[tuple[str, str, str]] = []
    admin, password = _account("demo-admin@example.com", Role.ADMIN, "活动管理员")
    credentials.append(("管理员 admin", admin.email, password))
    moderator, password = _account("demo-moderator@example.com", Role.MODERATOR, "全国审核员")
    credentials.append(("全国审核员 national moderator", moderator.email, password))

    members: list[User] = []
    for number, spec in enumerate(COLLECTIVES, start=1):
        collective = svc.create_collective(
            spec.name,
            industry=spec.industry,
            province=spec.province,
            level=spec.level,
            promise=spec.promise,
            supervision_channel=spec.channel,
            verified=True,
        )
        member, password = _account(
            f"demo-member{number}@example.com", Role.COLLECTIVE, f"{spec.province}青年{number}号", spec.name
        )
        svc.set_collective_badge(collective, member, _badge(spec.color, number))
        credentials.append((f"集体成员 member · {spec.name}", member.email, password))
        members.append(member)

    for number, (index, title, summary, paragraphs, pictures) in enumerate(STORIES, start=1):
        member = members[index]
        work = svc.create_story(member, title=title, summary=summary, campaign_id=campaign.id)
        assets = [
            svc.add_story_image(
                work, member, _picture(number * 10 + k, COLLECTIVES[index].color, f"#{number}-{k + 1}")
            )
            for k in range(pictures)
        ]
        # The first picture goes inline, as the editor's "插入正文" button would put it.
        first = svc.media_url(assets[0].storage_key)
        body = "\n\n".join([paragraphs[0], f"![]({first})", *paragraphs[1:]])
        svc.update_work(work, member, title=title, summary=summary, body=body)
        svc.submit_for_review(work, member)
        moderation.approve_work(admin, work.id)
        # Spread publication over the last days so "newest first" has an order to show.
        work.published_at = now - timedelta(hours=5 * number)
        work.view_count = random.Random(number).randint(30, 900)
    db.session.commit()
    return credentials


@demo_cli.command("load")
@click.option("--if-empty", is_flag=True, help="Only when the database has no users yet.")
@with_appcontext
def load(if_empty: bool) -> None:
    """Load an open campaign, 6 collectives with members, an admin, a moderator and 10 stories."""
    if if_empty and db.session.scalar(sa.select(User.id).limit(1)) is not None:
        click.echo("demo data: the database already has accounts, nothing loaded.")
        return
    # Storage URLs of the local backend are built with url_for, which needs a request context.
    with current_app.test_request_context("/"):
        credentials = load_demo()
    click.echo("demo data loaded: 1 campaign, 6 collectives, 10 published micro-stories.")
    click.echo("")
    click.echo("=" * 72)
    click.echo("演示账号 / demo accounts — passwords are shown ONCE, write them down:")
    for label, email, password in credentials:
        click.echo(f"  {label}")
        click.echo(f"      email: {email}    password: {password}")
    click.echo("=" * 72)
