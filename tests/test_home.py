"""The home page: published works newest first, filters, cursor pagination, story cards."""

from __future__ import annotations

import re
from datetime import timedelta

from app.models import Role, utcnow
from app.moderation import services as moderation
from app.works import services as svc
from tests.builders_support import make_work
from tests.images_support import jpeg_bytes


def _titles(html: str) -> list[str]:
    return re.findall(
        r'<h3>(?:<span class="status[^"]*">[^<]*</span> )?<a href="/works/\d+">([^<]+)</a></h3>', html
    )


def test_the_home_page_lists_published_works_newest_first(client, make_collective, open_campaign):
    group = make_collective()
    now = utcnow()
    make_work(group, open_campaign, title="昨天的故事", published_at=now - timedelta(days=1))
    make_work(group, open_campaign, title="今天的故事", published_at=now)
    make_work(group, open_campaign, title="草稿不上首页", status="draft")
    assert _titles(client.get("/").get_data(as_text=True)) == ["今天的故事", "昨天的故事"]


def test_the_home_page_filters_by_kind_industry_and_province(client, make_collective, open_campaign):
    metro = make_collective("北京地铁某站", "交通运输", "北京")
    bank = make_collective("上海某银行", "金融", "上海")
    make_work(metro, open_campaign, title="地铁故事")
    make_work(bank, open_campaign, title="银行故事")
    make_work(bank, open_campaign, title="银行视频", kind="video")
    assert _titles(client.get("/?industry=金融&kind=story").get_data(as_text=True)) == ["银行故事"]
    assert _titles(client.get("/?province=北京").get_data(as_text=True)) == ["地铁故事"]
    html = client.get("/?province=上海").get_data(as_text=True)
    assert sorted(_titles(html)) == ["银行故事", "银行视频"]
    assert '<option value="上海" selected>' in html


def test_an_unknown_filter_value_is_a_400_page(client):
    assert client.get("/?kind=poem").status_code == 400


def test_load_more_continues_where_the_page_stopped(client, make_collective, open_campaign):
    group = make_collective()
    now = utcnow()
    for n in range(25):
        make_work(group, open_campaign, title=f"故事{n:02d}", published_at=now - timedelta(minutes=n))
    first = client.get("/?province=北京").get_data(as_text=True)
    assert len(_titles(first)) == 20 and "加载更多" in first
    more = re.search(r'href="([^"]+)" rel="next"', first).group(1).replace("&amp;", "&")
    assert "province=" in more and "cursor=" in more
    second = client.get(more).get_data(as_text=True)
    assert _titles(second) == [f"故事{n:02d}" for n in range(20, 25)]
    assert "加载更多" not in second


def test_a_story_card_shows_its_first_image_thumbnail(client, make_collective, make_user, open_campaign):
    group = make_collective()
    member = make_user(Role.COLLECTIVE, collective=group)
    work = svc.create_story(member, title="有图的故事", body="正文", campaign_id=open_campaign.id)
    first = svc.add_story_image(work, member, jpeg_bytes())
    svc.add_story_image(work, member, jpeg_bytes())
    svc.submit_for_review(work, member)
    moderation.approve_work(make_user(Role.ADMIN), work.id)
    html = client.get("/").get_data(as_text=True)
    assert f'src="/media/{first.thumbnail_key}"' in html


def test_the_work_page_shows_title_collective_body_and_gallery(
    client, make_collective, make_user, open_campaign
):
    group = make_collective()
    member = make_user(Role.COLLECTIVE, collective=group)
    work = svc.create_story(member, title="末班车", body="深夜的**站台**", campaign_id=open_campaign.id)
    image = svc.add_story_image(work, member, jpeg_bytes())
    svc.submit_for_review(work, member)
    moderation.approve_work(make_user(Role.ADMIN), work.id)
    html = client.get(f"/works/{work.id}").get_data(as_text=True)
    assert "末班车" in html and group.name in html and "<strong>站台</strong>" in html
    assert f"/collectives/{group.id}" in html and image.thumbnail_key in html
