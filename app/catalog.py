"""Fixed lists (industries, provinces) and the Chinese labels of enum values."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

# 行业: the fixed list the campaign uses to group collectives.
INDUSTRIES: tuple[str, ...] = (
    "金融",
    "交通运输",
    "通信",
    "能源电力",
    "医疗卫生",
    "教育",
    "文化旅游",
    "商贸服务",
    "公安司法",
    "政务服务",
    "城市建设",
    "农业农村",
    "制造业",
    "其他",
)

PROVINCES: tuple[str, ...] = (
    "北京", "天津", "河北", "山西", "内蒙古", "辽宁", "吉林", "黑龙江", "上海", "江苏", "浙江",
    "安徽", "福建", "江西", "山东", "河南", "湖北", "湖南", "广东", "广西", "海南", "重庆",
    "四川", "贵州", "云南", "西藏", "陕西", "甘肃", "青海", "宁夏", "新疆", "新疆生产建设兵团",
    "香港", "澳门", "台湾",
)  # fmt: skip

_KIND_LABELS = {"film": _l("微电影"), "video": _l("微视频"), "story": _l("微故事")}
_LEVEL_LABELS = {"national": _l("全国级"), "provincial": _l("省级"), "city": _l("市级")}
_STATUS_LABELS = {
    "draft": _l("草稿"),
    "uploading": _l("上传中"),
    "processing": _l("转码中"),
    "failed": _l("处理失败"),
    "pending_review": _l("待审核"),
    "published": _l("已发布"),
    "rejected": _l("未通过"),
    "withdrawn": _l("已撤回"),
}


def kind_label(value) -> str:
    return str(_KIND_LABELS.get(str(value), value))


def level_label(value) -> str:
    return str(_LEVEL_LABELS.get(str(value), value))


def status_label(value) -> str:
    return str(_STATUS_LABELS.get(str(value), value))
