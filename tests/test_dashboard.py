"""The organisers' dashboard: daily figures by province or industry, as charts and as CSV."""

from __future__ import annotations

import pytest

from app.engagement import services as engagement
from app.engagement.comments import post_comment
from app.engagement.views import flush_views, record_view
from app.models import Role
from app.moderation import dashboard
from tests.builders_support import make_work
from tests.sign_in_support import sign_in


@pytest.fixture
def activity(make_collective, make_user, open_campaign):
    beijing = make_collective("北京地铁青年文明号", "交通运输", "北京")
    shanghai = make_collective("上海银行青年文明号", "金融", "上海")
    ours = make_work(beijing, open_campaign, title="站台上的温暖守候")
    theirs = make_work(shanghai, open_campaign, title="柜台前的微笑")
    for work in (ours, theirs):
        engagement.work_published(work)
    fans = [make_user(Role.VIEWER) for _ in range(3)]
    for fan in fans:
        engagement.like_work(fan, ours)
    engagement.like_work(fans[0], theirs)
    post_comment(fans[1], ours, "为你们点赞")
    record_view(ours, "u1")
    record_view(ours, "u2")
    flush_views()
    return {"ours": ours, "theirs": theirs}


def today_of(data, name, metric):
    return data.series[name][metric][-1]


def test_todays_likes_works_comments_and_views_count_under_their_province(make_user, activity):
    data = dashboard.build(make_user(Role.ADMIN), group="province", period=7)
    assert [today_of(data, "北京", m) for m in dashboard.METRICS] == [1, 3, 1, 2]
    assert [today_of(data, "上海", m) for m in dashboard.METRICS] == [1, 1, 0, 0]
    assert len(data.days) == 7 and list(data.series) == ["北京", "上海"]  # busiest first


def test_grouping_by_industry(make_user, activity):
    data = dashboard.build(make_user(Role.ADMIN), group="industry")
    assert today_of(data, "交通运输", "likes") == 3 and today_of(data, "金融", "likes") == 1


def test_a_provincial_moderator_sees_their_province_only(make_user, activity):
    data = dashboard.build(make_user(Role.MODERATOR, province="上海"))
    assert list(data.series) == ["上海"]


def test_a_campaign_filter_leaves_other_campaigns_out(make_user, activity):
    data = dashboard.build(make_user(Role.ADMIN), campaign_id=activity["ours"].campaign_id + 1)
    assert data.series == {}


def test_the_page_carries_the_numbers_for_the_charts(client, make_user, activity):
    sign_in(client, make_user(Role.ADMIN))
    page = client.get("/moderation/dashboard?group=province&days=7").get_data(as_text=True)
    assert 'id="dashboard-data"' in page and "chart.umd.min.js" in page and "北京" in page


def test_the_csv_export_has_the_same_numbers(client, make_user, activity):
    sign_in(client, make_user(Role.ADMIN))
    response = client.get("/moderation/dashboard.csv?days=7")
    assert response.mimetype == "text/csv" and "attachment" in response.headers["Content-Disposition"]
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff日期,省份,新发布作品,点赞,点评,浏览")
    last_beijing_row = [line for line in text.splitlines() if ",北京," in line][-1]
    assert last_beijing_row.endswith(",北京,1,3,1,2")


def test_spreadsheet_formulas_are_neutralised():
    assert (
        dashboard._safe_cell("=HYPERLINK(1)") == "'=HYPERLINK(1)" and dashboard._safe_cell("北京") == "北京"
    )


def test_an_unknown_grouping_is_a_clear_400(client, make_user):
    sign_in(client, make_user(Role.ADMIN))
    assert client.get("/moderation/dashboard?group=city").status_code == 400


def test_viewers_have_no_dashboard(client, make_user):
    sign_in(client, make_user(Role.VIEWER))
    assert client.get("/moderation/dashboard").status_code == 403
