"""Full-text search of published works: Chinese substrings, filters, sorts, the index kept in
step with the works, hostile queries, and the page and API that show the results."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.engagement.services import like_work
from app.extensions import db
from app.models import Role, Work, WorkKind, WorkStatus, utcnow
from app.moderation.services import approve_work, reject_work
from app.paging import encode_cursor
from app.search import services as search
from app.search.models import WorkSearch
from app.works.listing import WorkFilters
from app.works.markdown import render_markdown
from tests.builders_support import make_campaign, make_work
from tests.contract import assert_matches_schema


# Collectives of their own, not conftest's: their names are searched too, and a name holding
# "青年文明号" would match the queries below.
@pytest.fixture
def metro(make_collective):
    return make_collective("北京地铁站务中心", "交通运输", "北京")


@pytest.fixture
def bank(make_collective):
    return make_collective("上海银行营业部", "金融", "上海")


@pytest.fixture
def publish(open_campaign):
    """A work written straight to SQL (published unless told otherwise)."""

    def make(
        collective,
        title,
        *,
        summary="",
        body="",
        kind="story",
        status="published",
        campaign=None,
        published_at=None,
    ):
        return make_work(
            collective,
            campaign or open_campaign,
            title=title,
            summary=summary,
            body=body,
            body_html=render_markdown(body),
            kind=kind,
            status=status,
            published_at=published_at,
        )

    return make


def titles(query, filters=None, **kwargs) -> list[str]:
    return [work.title for work in search.search_works(query, filters, **kwargs).works]


def api_titles(client, **params) -> list[str]:
    response = client.get("/api/v1/works", query_string=params)
    assert response.status_code == 200, response.get_data(as_text=True)
    return [item["title"] for item in response.json["items"]]


# --------------------------------------------------------------------------------------------
# Chinese text


def test_a_chinese_substring_of_a_title_is_found(metro, publish):
    publish(metro, "青年文明号在行动")
    publish(metro, "站台上的温暖守候")

    assert titles("文明号") == ["青年文明号在行动"]


def test_a_two_character_query_finds_the_longer_word_holding_it(metro, bank, publish):
    publish(bank, "青年文明号")
    publish(bank, "柜台前的耐心")

    assert titles("文明") == ["青年文明号"]


def test_a_single_character_query_matches_too(metro, publish):
    publish(metro, "温暖守候")

    assert titles("暖") == ["温暖守候"]


def test_words_of_the_story_body_are_found_as_plain_text(metro, publish):
    publish(metro, "站台故事", body="凌晨五点，**站务员**已经在检票口等候第一班乘客。")

    assert titles("站务员") == ["站台故事"]
    assert titles("strong") == []  # the HTML around the text is not searched


def test_the_summary_is_searched(metro, publish):
    publish(metro, "一个作品", summary="记录志愿服务的一天")

    assert titles("志愿服务") == ["一个作品"]


def test_the_collective_name_matches(metro, bank, publish):
    publish(metro, "站台上的温暖守候")
    publish(bank, "柜台前的耐心")

    assert titles("地铁") == ["站台上的温暖守候"]


def test_every_term_must_match(metro, bank, publish):
    publish(metro, "站台上的温暖守候")
    publish(bank, "柜台前的温暖")

    assert titles("温暖 地铁") == ["站台上的温暖守候"]
    assert titles("温暖，站台") == ["站台上的温暖守候"]  # punctuation separates terms too


def test_latin_letters_match_whatever_their_case(metro, publish):
    publish(metro, "CCTV 报道的青年文明号")

    assert titles("cctv") == ["CCTV 报道的青年文明号"]


def test_a_title_match_ranks_above_a_story_match(metro, publish):
    old = utcnow() - timedelta(days=2)
    publish(metro, "守护平安", body="站台上的志愿者")
    publish(metro, "志愿者的一天", body="早班", published_at=old)

    assert titles("志愿者") == ["志愿者的一天", "守护平安"]


# --------------------------------------------------------------------------------------------
# Only published works


@pytest.mark.parametrize("status", ["draft", "uploading", "processing", "failed", "pending_review",
                                    "rejected", "withdrawn"])  # fmt: skip
def test_a_work_that_is_not_published_is_never_found(metro, publish, client, status):
    publish(metro, "未发布的文明故事", status=status)

    assert titles("文明故事") == []
    assert api_titles(client, q="文明故事") == []
    assert db.session.scalar(sa.select(sa.func.count()).select_from(WorkSearch)) == 0


def test_approving_a_work_puts_it_in_the_index(metro, publish, make_user):
    work = publish(metro, "待审核的文明故事", status="pending_review")
    moderator = make_user(Role.MODERATOR, province="北京")

    approve_work(moderator, work.id)

    assert titles("文明故事") == ["待审核的文明故事"]


def test_rejecting_a_published_work_takes_it_out_of_the_index(metro, publish, make_user):
    work = publish(metro, "已发布的文明故事")
    moderator = make_user(Role.MODERATOR, province="北京")

    reject_work(moderator, work.id, "内容不符合要求")

    assert titles("文明故事") == []
    assert db.session.get(WorkSearch, work.id) is None


def test_withdrawing_a_work_takes_it_out_of_the_index(metro, publish):
    work = publish(metro, "要撤回的文明故事")

    work.status = WorkStatus.WITHDRAWN
    db.session.commit()

    assert titles("文明故事") == []


def test_an_unpublishing_update_statement_takes_the_work_out(metro, publish):
    work = publish(metro, "批量下架的文明故事")

    db.session.execute(sa.update(Work).where(Work.id == work.id).values(status=WorkStatus.WITHDRAWN))
    db.session.commit()

    assert db.session.get(WorkSearch, work.id) is None


def test_editing_a_published_work_updates_the_index(metro, publish):
    work = publish(metro, "旧标题文明", summary="旧的简介")

    work.title = "新标题和谐"
    work.body_html = render_markdown("修改后的正文")
    db.session.commit()

    assert titles("旧标题") == []
    assert titles("和谐") == ["新标题和谐"]
    assert titles("修改后") == ["新标题和谐"]


def test_an_edit_rolled_back_leaves_the_index_as_it_was(metro, publish):
    work = publish(metro, "原来的标题")

    work.title = "没有保存的标题"
    db.session.flush()
    db.session.rollback()

    assert titles("原来的") == ["原来的标题"]
    assert titles("没有保存") == []


def test_renaming_a_collective_updates_its_works(metro, publish):
    publish(metro, "站台上的温暖守候")

    metro.name = "首都机场服务队"
    db.session.commit()

    assert titles("地铁") == []
    assert titles("首都机场") == ["站台上的温暖守候"]


def test_a_deleted_work_leaves_the_index(metro, publish):
    work = publish(metro, "要删除的文明故事")

    db.session.delete(work)
    db.session.commit()

    assert db.session.scalar(sa.select(sa.func.count()).select_from(WorkSearch)) == 0


def test_rebuild_restores_a_lost_index_and_can_run_twice(metro, publish, runner):
    publish(metro, "青年文明号在行动")
    publish(metro, "草稿里的文明", status="draft")
    db.session.execute(sa.delete(WorkSearch))
    db.session.commit()
    assert titles("文明") == []

    for _ in range(2):
        result = runner.invoke(args=["search", "rebuild"])
        assert result.exit_code == 0, result.output
        assert "1 件" in result.output
    assert titles("文明") == ["青年文明号在行动"]


# --------------------------------------------------------------------------------------------
# Filters, sorts, pages


def test_filters_combine_with_the_query(metro, bank, publish, open_campaign):
    other_campaign = make_campaign(title="另一个活动")
    publish(metro, "地铁文明微故事")
    publish(metro, "地铁文明微视频", kind="video")
    publish(bank, "银行文明微故事")
    publish(metro, "往届文明微故事", campaign=other_campaign)

    assert titles("文明", WorkFilters(kind=WorkKind.VIDEO)) == ["地铁文明微视频"]
    assert titles("文明", WorkFilters(province="上海")) == ["银行文明微故事"]
    assert titles("文明", WorkFilters(industry="交通运输", kind=WorkKind.STORY), sort="new") == [
        "往届文明微故事",
        "地铁文明微故事",
    ]
    assert titles("文明", WorkFilters(campaign_id=other_campaign.id)) == ["往届文明微故事"]
    assert titles("银行", WorkFilters(province="北京")) == []


def test_sort_new_puts_the_latest_first(metro, publish):
    now = utcnow()
    publish(metro, "文明一", published_at=now - timedelta(days=3))
    publish(metro, "文明三", published_at=now - timedelta(days=1))
    publish(metro, "文明二", published_at=now - timedelta(days=2))

    assert titles("文明", sort="new") == ["文明三", "文明二", "文明一"]


def test_sort_likes_follows_the_like_counts(metro, publish, make_user):
    few = publish(metro, "点赞少的文明")
    many = publish(metro, "点赞多的文明")
    for user in (make_user(), make_user()):
        like_work(user, many)
    like_work(make_user(), few)
    publish(metro, "没人点赞的文明")

    assert titles("文明", sort="likes") == ["点赞多的文明", "点赞少的文明", "没人点赞的文明"]


def test_sort_hot_weighs_likes_against_age(metro, publish, make_user):
    publish(metro, "上个月的文明", published_at=utcnow() - timedelta(days=30))
    fresh = publish(metro, "今天的文明")
    like_work(make_user(), fresh)

    assert titles("文明", sort="hot") == ["今天的文明", "上个月的文明"]


@pytest.mark.parametrize("sort", ["relevance", "new", "likes"])
def test_pages_follow_each_other_without_repeats(metro, publish, client, sort):
    start = utcnow() - timedelta(hours=30)
    for n in range(25):
        body = "文明" if n % 2 else ""
        publish(metro, f"文明作品{n:02d}", body=body, published_at=start + timedelta(hours=n))

    first = client.get("/api/v1/works", query_string={"q": "文明", "sort": sort}).json
    second = client.get(
        "/api/v1/works", query_string={"q": "文明", "sort": sort, "cursor": first["next_cursor"]}
    ).json

    assert len(first["items"]) == 20 and first["next_cursor"]
    assert len(second["items"]) == 5 and second["next_cursor"] is None
    seen = [item["id"] for item in first["items"] + second["items"]]
    assert len(set(seen)) == 25


def test_relevance_pages_keep_the_better_matches_first(metro, publish):
    for n in range(3):
        publish(metro, f"标题里有志愿者{n}")
        publish(metro, f"正文提到{n}", body="志愿者")

    first = search.search_works("志愿者", limit=3)
    second = search.search_works("志愿者", limit=3, after=first.after)

    assert all("标题" in work.title for work in first.works)
    assert all("正文" in work.title for work in second.works)


def test_a_cursor_of_another_sort_is_refused(metro, publish, client):
    for n in range(3):
        publish(metro, f"文明{n}")
    cursor = search.search_works("文明", sort="new", limit=1).after

    response = client.get("/api/v1/works", query_string={"q": "文明", "sort": "relevance",
                                                         "cursor": _encoded(cursor)})  # fmt: skip

    assert response.status_code == 400
    assert response.json["error"]["code"] == "invalid_cursor"


def _encoded(cursor):
    return encode_cursor(cursor)


# --------------------------------------------------------------------------------------------
# Hostile and empty queries


@pytest.mark.parametrize("query", ["%%%", "*", "'", '"', "   ", "-", "_", "()", "\\", "%_%"])
def test_a_query_of_only_symbols_or_spaces_answers_no_results(metro, publish, client, query):
    publish(metro, "100% 的文明 * 'quoted' \"double\" _under_")

    response = client.get("/api/v1/works", query_string={"q": query})

    assert response.status_code == 200
    assert response.json == {"items": [], "next_cursor": None}


@pytest.mark.parametrize(
    "query",
    ['"', "AND OR NEAR(", "文明 -地铁", 'NEAR("文明" "地铁")', '文明" OR "', "'; DROP TABLE work; --",
     "title:文明", "文明*", "^文明", "{title}: 文明", "文明 AND", "NOT 文明"],
)  # fmt: skip
def test_search_syntax_in_a_query_is_only_text(metro, publish, client, query):
    publish(metro, "青年文明号")

    response = client.get("/api/v1/works", query_string={"q": query})

    assert response.status_code == 200
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Work)) == 1


def test_operators_are_searched_as_words(metro, publish):
    publish(metro, "Rock AND Roll 文明")
    publish(metro, "青年文明号")

    assert titles("AND 文明") == ["Rock AND Roll 文明"]


def test_an_empty_query_is_the_ordinary_list(metro, publish, client):
    publish(metro, "文明一")
    publish(metro, "和谐二")

    assert api_titles(client, q="") == api_titles(client)
    assert [w.title for w in search.search_works("").works] == api_titles(client)


def test_sort_relevance_without_a_query_lists_the_newest(metro, publish, client):
    publish(metro, "旧的", published_at=utcnow() - timedelta(days=1))
    publish(metro, "新的")

    assert api_titles(client, sort="relevance") == ["新的", "旧的"]


def test_an_unknown_sort_is_a_clear_400(client):
    response = client.get("/api/v1/works", query_string={"q": "文明", "sort": "random"})

    assert response.status_code == 400
    assert response.json["error"]["code"] == "invalid_parameter"


def test_a_very_long_query_is_cut_not_refused(metro, publish, client):
    publish(metro, "青年文明号")

    response = client.get("/api/v1/works", query_string={"q": "文明 " + "长" * 5000})

    assert response.status_code == 200


# --------------------------------------------------------------------------------------------
# API answers and highlighting


def test_the_api_answer_matches_the_spec_and_highlights(make_collective, publish, client):
    collective = make_collective("北京地铁青年文明号")
    publish(collective, "青年文明号在行动", summary="记录文明的一天", body="站台上的**文明**新风")

    item = client.get("/api/v1/works", query_string={"q": "文明"}).json["items"][0]

    assert_matches_schema("Work", item)
    assert_matches_schema("WorkHighlight", item["highlight"])
    assert item["highlight"]["title"] == "青年<mark>文明</mark>号在行动"
    assert item["highlight"]["collective"] == "北京地铁青年<mark>文明</mark>号"
    assert item["highlight"]["summary"] == "记录<mark>文明</mark>的一天"
    assert item["highlight"]["body"] == "站台上的<mark>文明</mark>新风"


def test_the_list_without_a_query_carries_no_highlight(metro, publish, client):
    publish(metro, "青年文明号在行动")

    item = client.get("/api/v1/works").json["items"][0]

    assert "highlight" not in item


def test_a_long_story_is_shown_as_an_excerpt_around_the_match(metro, publish):
    publish(metro, "长故事", body="开头" * 100 + "关键的文明瞬间" + "结尾" * 100)

    body = search.search_works("文明").highlights
    (highlight,) = body.values()

    assert highlight.body.startswith("…") and highlight.body.endswith("…")
    assert "关键的<mark>文明</mark>瞬间" in highlight.body


def test_markup_in_a_title_is_escaped_before_it_is_marked(metro, publish):
    publish(metro, '<script>alert("文明")</script>&amp;')

    (highlight,) = search.search_works("文明").highlights.values()

    assert str(highlight.title) == "&lt;script&gt;alert(&#34;<mark>文明</mark>&#34;)&lt;/script&gt;&amp;amp;"


def test_a_term_that_looks_like_an_entity_never_marks_inside_one(metro, publish):
    publish(metro, "A&B amp 文明")

    (highlight,) = search.search_works("amp").highlights.values()

    assert str(highlight.title) == "A&amp;B <mark>amp</mark> 文明"


# --------------------------------------------------------------------------------------------
# Pages


def test_every_page_has_a_search_box_in_its_header(client):
    html = client.get("/").get_data(as_text=True)

    assert 'action="/search"' in html and 'name="q"' in html


def test_the_results_page_shows_marked_cards(metro, publish, client):
    publish(metro, "青年文明号在行动")
    publish(metro, "柜台前的耐心")

    html = client.get("/search", query_string={"q": "文明"}).get_data(as_text=True)

    assert "青年<mark>文明</mark>号在行动" in html
    assert "柜台前的耐心" not in html
    assert 'class="card work-card"' in html


def test_the_results_page_escapes_a_hostile_title(metro, publish, client):
    publish(metro, "<img src=x onerror=alert(1)>文明")

    html = client.get("/search", query_string={"q": "文明"}).get_data(as_text=True)

    assert "<img src=x" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;<mark>文明</mark>" in html


def test_the_results_page_escapes_a_hostile_query(client):
    html = client.get("/search", query_string={"q": "<script>alert(1)</script>"}).get_data(as_text=True)

    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_the_results_page_applies_the_filters(metro, bank, publish, client):
    publish(metro, "地铁的文明")
    publish(bank, "银行的文明")

    html = client.get("/search", query_string={"q": "文明", "province": "上海"}).get_data(as_text=True)

    assert "银行的" in html and "地铁的" not in html


def test_the_results_page_says_when_nothing_matches(client):
    html = client.get("/search", query_string={"q": "不存在的词"}).get_data(as_text=True)

    assert "没有找到与“不存在的词”相关的作品" in html


def test_the_results_page_asks_for_words_when_the_query_has_none(client):
    response = client.get("/search", query_string={"q": "%%%"})

    assert response.status_code == 200
    assert "请输入要搜索的文字或数字。" in response.get_data(as_text=True)


def test_the_results_page_links_to_the_next_page(metro, publish, client):
    for n in range(21):
        publish(metro, f"文明{n}")

    html = client.get("/search", query_string={"q": "文明"}).get_data(as_text=True)

    assert 'rel="next"' in html and "cursor=" in html
