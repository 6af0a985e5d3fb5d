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

# Names shown in the reader's language; the stored values stay the Chinese names above.
_INDUSTRY_LABELS = {
    "金融": _l("金融"),
    "交通运输": _l("交通运输"),
    "通信": _l("通信"),
    "能源电力": _l("能源电力"),
    "医疗卫生": _l("医疗卫生"),
    "教育": _l("教育"),
    "文化旅游": _l("文化旅游"),
    "商贸服务": _l("商贸服务"),
    "公安司法": _l("公安司法"),
    "政务服务": _l("政务服务"),
    "城市建设": _l("城市建设"),
    "农业农村": _l("农业农村"),
    "制造业": _l("制造业"),
    "其他": _l("其他"),
}
_PROVINCE_LABELS = {
    "北京": _l("北京"),
    "天津": _l("天津"),
    "河北": _l("河北"),
    "山西": _l("山西"),
    "内蒙古": _l("内蒙古"),
    "辽宁": _l("辽宁"),
    "吉林": _l("吉林"),
    "黑龙江": _l("黑龙江"),
    "上海": _l("上海"),
    "江苏": _l("江苏"),
    "浙江": _l("浙江"),
    "安徽": _l("安徽"),
    "福建": _l("福建"),
    "江西": _l("江西"),
    "山东": _l("山东"),
    "河南": _l("河南"),
    "湖北": _l("湖北"),
    "湖南": _l("湖南"),
    "广东": _l("广东"),
    "广西": _l("广西"),
    "海南": _l("海南"),
    "重庆": _l("重庆"),
    "四川": _l("四川"),
    "贵州": _l("贵州"),
    "云南": _l("云南"),
    "西藏": _l("西藏"),
    "陕西": _l("陕西"),
    "甘肃": _l("甘肃"),
    "青海": _l("青海"),
    "宁夏": _l("宁夏"),
    "新疆": _l("新疆"),
    "新疆生产建设兵团": _l("新疆生产建设兵团"),
    "香港": _l("香港"),
    "澳门": _l("澳门"),
    "台湾": _l("台湾"),
}

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


def industry_label(value) -> str:
    return str(_INDUSTRY_LABELS.get(str(value), value))


def province_label(value) -> str:
    return str(_PROVINCE_LABELS.get(str(value), value))
