"""What the demo campaign holds: collectives, people, works and what was said about them.

Only data; ``app.demo.history`` plays it through the services. Days are counted back from the day
``flask demo load`` runs (0 = today, 13 = the first of the two weeks the dashboard shows).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from app.models import Level

HISTORY_DAYS = 14  # the dashboard's view curves cover this many days, today included


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

# The province whose organiser reviews and recommends (推报) in the demo.
PROVINCIAL_MODERATOR_PROVINCE = "广东"


@dataclass(frozen=True)
class DemoComment:
    """A top-level comment ``days_ago``; replies follow it a few hours apart. A reply's author
    is an index into the fans, or ``"member"`` for the work's own collective."""

    days_ago: int
    author: int | str
    body: str
    replies: tuple[tuple[int | str, str], ...] = ()


@dataclass(frozen=True)
class DemoStory:
    collective: int  # index into COLLECTIVES
    title: str
    summary: str
    paragraphs: tuple[str, ...]
    pictures: int
    days_ago: int  # published that many days ago (waiting stories: submitted)
    waiting: bool = False  # submitted, waiting in the review queue
    popularity: float = 1.0  # scales its views and likes
    comments: tuple[DemoComment, ...] = field(default_factory=tuple)


_THANKS = "谢谢你的鼓励！我们会继续努力，把服务做得更好。"

STORIES: tuple[DemoStory, ...] = (
    DemoStory(0, "零下十度的抢修夜", "寒潮夜里，一条线路跳闸，三百户居民的暖气等着我们。",
        ("晚上十一点，调度电话响了。城东一条 10 千伏线路跳闸，三百多户居民家里的电暖器一下子全停了。",
         "我们带上工具出发，雪越下越大。**四十分钟后**，故障点找到了：一根被积雪压断的树枝搭在了导线上。",
         "凌晨两点，灯一盏盏亮起来。一位老大爷站在楼道口，端来一壶热茶：“小伙子们，辛苦了。”"), 3,
        days_ago=13, popularity=1.6,
        comments=(
            DemoComment(12, 0, "看哭了，零下十度还在杆上作业，向电力人致敬！",
                        (("member", _THANKS), (3, "我家那晚也停电了，原来是你们在抢修，谢谢！"))),
            DemoComment(9, 5, "那壶热茶太暖了。"),
        )),
    DemoStory(0, "“一次都不跑”的办电故事", "小微企业主王姐的新店开业前，电通了。",
        ("王姐的奶茶店装修好了，却卡在了用电报装上。她以为要跑好几趟营业厅。",
         "我们的客户经理把材料清单发到她手机上，上门勘查、装表接电一次完成。",
         "- 线上申请：10 分钟\n- 上门勘查：当天\n- 装表接电：第二天"), 2,
        days_ago=7, popularity=0.7,
        comments=(DemoComment(5, 8, "我们小店也是这样办下来的，确实方便。"),)),
    DemoStory(1, "末班车前的十分钟", "一位迷路的老人，一趟不能错过的末班车。",
        ("晚上十点五十分，站台上一位老人拿着写满字的纸条，一遍遍问着同一个站名。",
         "值班站务员小李认出那是换乘站的名字，她陪老人走过长长的换乘通道，一直送上末班车。",
         "> 车门关上前，老人回头朝她挥了挥手。"), 2,
        days_ago=12, popularity=1.3,
        comments=(
            DemoComment(11, 2, "这样的十分钟，比什么都珍贵。",
                        (("member", "谢谢！每位乘客平安到家，就是我们最大的心愿。"),)),
            DemoComment(8, 10, "每天坐地铁上班，以后看到站务员要多说一声谢谢。"),
        )),
    DemoStory(1, "站台上的手语", "为听障乘客开设的“无声服务窗口”。",
        ("我们站有几位常来的听障乘客。去年，全班组利用休息时间学起了手语。",
         "现在，问询处多了一块牌子：**“我会手语，请找我。”**"), 1,
        days_ago=4, popularity=0.8),
    DemoStory(2, "凌晨三点的急诊室", "一个发高烧的孩子和一位手足无措的年轻妈妈。",
        ("凌晨三点，一位年轻妈妈抱着高烧抽搐的孩子冲进急诊大厅。",
         "分诊护士一眼判断情况紧急，绿色通道立即开启：测体温、止惊、补液，一气呵成。",
         "天亮时孩子退了烧。妈妈说，那一晚她记住了每一位医护的名字。"), 3,
        days_ago=11, popularity=1.5,
        comments=(
            DemoComment(10, 4, "作为一个妈妈，看得揪心又感动。",
                        (("member", "孩子平安就好，这是我们每天都在做的事。"), (6, "同为宝妈，谢谢你们！"))),
            DemoComment(3, 11, "急诊科的医护真的太不容易了。"),
        )),
    DemoStory(2, "写给患者家属的一封信", "把复杂的病情，讲成家属听得懂的话。",
        ("很多家属在抢救室门外最怕的，不是坏消息，而是“什么都不知道”。",
         "我们整理了一本《急诊家属须知》，用最平实的话讲清楚每一步在做什么。"), 1,
        days_ago=3, popularity=0.6),
    DemoStory(3, "社区里的反诈课", "一堂课，拦下了一笔十万元的转账。",
        ("我们每月走进社区给老人讲反诈知识。课后一周，一位阿姨来到网点要给“公安局”转账十万元。",
         "柜员想起她上过我们的课，耐心陪她核实，最终识破了骗局。",
         "1. 不轻信来电\n2. 不透露验证码\n3. 不向陌生账户转账"), 2,
        days_ago=6, popularity=1.0,
        comments=(DemoComment(5, 7, "转给爸妈看了，这种课多多益善。",
                              (("member", "欢迎转发！我们每月第一个周六都在社区开课。"),)),)),
    DemoStory(4, "办不成事的窗口", "专门解决“办不成”的事，是我们最骄傲的窗口。",
        ("中心设了一个特别的窗口：“办不成事”反映窗口。",
         "一位外地来沪的务工人员因为材料不全，跑了三趟没能办成居住证，我们在这个窗口帮他一次理清。"), 2,
        days_ago=10, popularity=0.9,
        comments=(DemoComment(9, 9, "这个窗口的名字起得好，直面问题。"),)),
    DemoStory(5, "大山里的晚自习", "晚自习的灯，照亮孩子们走出大山的路。",
        ("学校离最远的村子有二十多公里山路。为了让住校的孩子晚上有人答疑，教研组的年轻老师轮流值守晚自习。",
         "三年来，这盏灯没有熄过一个晚上。今年，班上第一次有孩子考进了省城的重点大学。"), 3,
        days_ago=8, popularity=1.4,
        comments=(
            DemoComment(7, 1, "三年没有熄过的灯，致敬乡村教师！",
                        (("member", "孩子们的努力更值得被看见，谢谢你！"),)),
            DemoComment(2, 12, "我也是从大山里走出来的，看到这篇很有感触。"),
        )),
    DemoStory(5, "一个都不能少", "家访路上的二十公里。",
        ("开学第三天，小梅没有来上学。班主任骑着摩托车走了二十公里山路去家访。",
         "原来家里缺劳动力，想让她在家帮忙。老师和村干部一起想办法，小梅第二周回到了教室。"), 1,
        days_ago=2, popularity=1.1),
    # Submitted, waiting in the review queue.
    DemoStory(2, "急诊科的除夕夜", "万家团圆的时候，急诊科的灯一直亮着。",
        ("除夕夜十一点，急诊科里依然忙碌：一位老人不慎摔倒，一个孩子误吞了硬币。",
         "零点的钟声响起时，护士站的姑娘们匆匆吃了一口饺子，又回到了各自的岗位。"), 1,
        days_ago=1, waiting=True),
    DemoStory(4, "一张便民地图", "把四十多项业务画进一张地图，群众少走冤枉路。",
        ("来中心办事的群众常常找不到窗口。我们把四十多项业务、对应窗口和所需材料画成了一张地图。",
         "现在，扫一扫门口的二维码，就知道该去哪个窗口、带什么材料。"), 1,
        days_ago=0, waiting=True),
)  # fmt: skip

# Stories the national moderator put on the featured wall, two days ago (by title).
WALL_DAYS_AGO = 2
WALL: tuple[tuple[str, str], ...] = (
    ("零下十度的抢修夜", "寒夜抢修，灯火可亲。"),
    ("凌晨三点的急诊室", "生命通道，分秒必争。"),
    ("末班车前的十分钟", "平凡岗位上的温暖守候。"),
    ("大山里的晚自习", "一盏灯，照亮走出大山的路。"),
    ("办不成事的窗口", "直面“办不成”，才能办得成。"),
    ("社区里的反诈课", "守护群众的“钱袋子”。"),
)
# Recommended (推报) today by the provincial moderator.
RECOMMENDED = "凌晨三点的急诊室"
# Liked today, within minutes, by brand-new accounts from one network: what the vote-integrity
# detector exists to flag.
BURST_TARGET = "社区里的反诈课"
BURST_ACCOUNTS = 22  # above the detector's minimum of likes in a window
BURST_SUBNET = "203.0.113"  # TEST-NET-3: documentation addresses, never a real network
BURST_MINUTES = 8

# Fans: the accounts behind the likes and comments. Created a month before the campaign.
FAN_NAMES: tuple[str, ...] = (
    "王小雨", "李思远", "张晨", "刘一帆", "陈佳怡", "杨帆", "赵磊", "黄婷", "周宇", "吴倩",
    "徐明", "孙悦", "胡可", "朱琳", "高远", "林晓", "何静", "郭涛", "马丽", "罗杰",
    "梁爽", "宋佳", "郑凯", "谢芳",
)  # fmt: skip

# Today: the demo viewer's comment that a collective answers (a reply notification for the
# viewer), a fan answering a member's reply (one for the member), and one held by the word filter.
VIEWER_COMMENT = (
    "一个都不能少",
    "老师的坚持让人感动，小梅现在怎么样了？",
    "小梅现在是班上的学习委员啦，谢谢关心！",
)
FAN_REPLY_TO_MEMBER = ("零下十度的抢修夜", 14, "今年冬天我们小区再没停过电，辛苦啦！")
PENDING_COMMENT = ("大山里的晚自习", 15, "想要点赞多的加微信 zan8888，互刷互赞，保证上榜")


@dataclass(frozen=True)
class DemoVideo:
    """A micro-film or micro-video made at first run (``media_worker.demo_clips``) and sent
    through the upload and transcode pipeline."""

    collective: int
    kind: str  # film | video
    title: str
    summary: str
    width: int
    height: int
    seconds: float
    colors: tuple[str, str, str]
    key: int
    publish: bool  # approved once transcoded; False: left waiting in the review queue
    feature: bool = False  # put first on the featured wall once published
    popularity: float = 1.0


VIDEOS: tuple[DemoVideo, ...] = (
    DemoVideo(0, "film", "守护万家灯火", "一次寒潮中的全城保供电：从调度大厅到抢修现场的二十四小时。",
              1280, 720, 16.0, ("0x16306b", "0x2b7bb9", "0xf2b134"), 0, publish=True, feature=True,
              popularity=1.2),
    DemoVideo(1, "video", "地铁站里的一分钟", "早高峰的一分钟里，站务员要回答多少个问题？竖屏记录。",
              720, 1280, 10.0, ("0x0b6e4f", "0x58b09c", "0xf7e07a"), 5, publish=True),
    DemoVideo(5, "video", "山里孩子的早读课", "清晨六点半，山谷里响起琅琅读书声。",
              1280, 720, 10.0, ("0x1e6b2e", "0x8cc084", "0xf2d16b"), 7, publish=False),
)  # fmt: skip

VIDEO_COMMENTS: tuple[tuple[int, str], ...] = (
    (13, "画面好温暖，期待完整版！"),
    (16, "已转发到单位群，大家都说拍得好。"),
)
VIDEO_MEMBER_REPLY = "谢谢支持！欢迎大家多提意见。"
