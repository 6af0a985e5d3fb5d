"""Share cards, short links and QR posters (app/works/sharing.py).

Links that leave the site are absolute on PUBLIC_BASE_URL: a poster printed at a service window
must send every scan to the public site, not to the host the page was rendered on.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from app.extensions import db
from app.models import AssetStatus, MediaAsset, Role
from tests.builders_support import make_work
from tests.sharing_support import decode_qr_svg, head_of
from tests.sign_in_support import sign_in

PUBLIC = "https://wenming.example.cn"


@pytest.fixture
def collective(make_collective):
    group = make_collective("北京地铁青年文明号", "交通运输", "北京")
    group.promise = "微笑服务，准点安全，乘客至上。"
    group.badge_key = f"collectives/{group.id}/badge.png"
    db.session.commit()
    return group


@pytest.fixture
def work(collective, open_campaign):
    return make_work(collective, open_campaign, title="站台上的温暖守候")


@pytest.fixture
def public_site(app):
    app.config["PUBLIC_BASE_URL"] = PUBLIC
    return PUBLIC


def _with_poster(work) -> None:
    db.session.add(
        MediaAsset(
            work_id=work.id,
            role="poster",
            storage_key=f"works/{work.id}/poster.jpg",
            status=AssetStatus.READY,
        )
    )
    db.session.commit()


# ---------------------------------------------------------------------------------------------
# Share cards


def test_work_page_share_card_names_the_work_with_absolute_links_on_the_public_site(
    client, work, public_site
):
    _with_poster(work)
    head = head_of(client.get(f"/works/{work.id}"))
    assert head.meta["og:title"] == "站台上的温暖守候"
    assert head.meta["og:description"] == "站台上的温暖守候的简介"
    assert head.meta["og:url"] == f"{PUBLIC}/works/{work.id}"
    assert head.links["canonical"] == f"{PUBLIC}/works/{work.id}"
    assert head.links["shortlink"] == f"{PUBLIC}/w/{work.id}"
    assert head.meta["og:image"] == f"{PUBLIC}/media/works/{work.id}/poster.jpg"
    assert head.meta["og:type"] == "article"
    assert head.meta["og:site_name"] == "网络倡文明 · 青年文明号"
    assert head.meta["twitter:card"] == "summary_large_image"


def test_share_card_links_use_the_request_host_when_no_public_base_url_is_set(client, work):
    head = head_of(client.get(f"/works/{work.id}", base_url="http://intranet.local:8000"))
    assert head.meta["og:url"] == f"http://intranet.local:8000/works/{work.id}"


def test_public_base_url_with_a_trailing_slash_gives_no_double_slash(app, client, work):
    app.config["PUBLIC_BASE_URL"] = PUBLIC + "/"
    assert head_of(client.get(f"/works/{work.id}")).links["canonical"] == f"{PUBLIC}/works/{work.id}"


def test_canonical_link_drops_the_query_string(client, work, public_site):
    head = head_of(client.get(f"/works/{work.id}?lang=en&utm_source=wechat"))
    assert head.links["canonical"] == f"{PUBLIC}/works/{work.id}"


def test_share_card_values_are_escaped(client, collective, open_campaign):
    title = 'He said "赞" <script>alert(1)</script>'
    work = make_work(collective, open_campaign, title=title)
    work.body_html = "<p>正文</p>"  # the helper writes the title into the body unsanitised
    db.session.commit()
    response = client.get(f"/works/{work.id}")
    assert "<script>alert(1)</script>" not in response.get_data(as_text=True)
    head = head_of(response)
    assert head.meta["og:title"] == title
    assert head.meta["twitter:title"] == title
    assert head.meta["og:description"] == f"{title}的简介"


def test_long_summary_is_cut_with_an_ellipsis_in_the_description(client, work):
    work.summary = "守候" * 200
    db.session.commit()
    description = head_of(client.get(f"/works/{work.id}")).meta["og:description"]
    assert len(description) == 120 and description.endswith("…")


def test_a_video_work_is_shared_as_a_video(client, collective, open_campaign):
    film = make_work(collective, open_campaign, title="微电影", kind="film")
    assert head_of(client.get(f"/works/{film.id}")).meta["og:type"] == "video.other"


def test_a_work_without_pictures_shares_its_collectives_badge(client, work, public_site, collective):
    head = head_of(client.get(f"/works/{work.id}"))
    assert head.meta["og:image"] == f"{PUBLIC}/media/{collective.badge_key}"


def test_without_any_picture_the_card_is_a_small_summary_card(client, work, collective):
    collective.badge_key = None
    db.session.commit()
    head = head_of(client.get(f"/works/{work.id}"))
    assert "og:image" not in head.meta
    assert head.meta["twitter:card"] == "summary"


def test_an_unpublished_work_page_carries_no_share_card_and_is_not_indexed(
    client, collective, open_campaign, make_user
):
    draft = make_work(collective, open_campaign, title="草稿", status="draft")
    sign_in(client, make_user(Role.COLLECTIVE, collective=collective))
    head = head_of(client.get(f"/works/{draft.id}"))
    assert "og:title" not in head.meta
    assert head.meta["robots"] == "noindex"


def test_collective_page_share_card_carries_its_promise_and_badge(client, collective, public_site):
    head = head_of(client.get(f"/collectives/{collective.id}"))
    assert head.meta["og:title"] == "北京地铁青年文明号"
    assert head.meta["og:description"] == "微笑服务，准点安全，乘客至上。"
    assert head.meta["og:image"] == f"{PUBLIC}/media/{collective.badge_key}"
    assert head.meta["og:url"] == f"{PUBLIC}/collectives/{collective.id}"
    assert head.links["canonical"] == f"{PUBLIC}/collectives/{collective.id}"
    assert head.meta["og:type"] == "website"


def test_a_collective_without_a_promise_is_described_by_its_province_and_industry(client, collective):
    collective.promise = ""
    db.session.commit()
    description = head_of(client.get(f"/collectives/{collective.id}")).meta["og:description"]
    assert description == "北京 · 交通运输 · 青年文明号集体"


# ---------------------------------------------------------------------------------------------
# Short links


def test_work_short_link_redirects_permanently_to_the_work_page(client, work):
    response = client.get(f"/w/{work.id}")
    assert response.status_code == 301
    assert response.headers["Location"].endswith(f"/works/{work.id}")


def test_collective_short_link_redirects_permanently_to_the_collective_page(client, collective):
    response = client.get(f"/c/{collective.id}")
    assert response.status_code == 301
    assert response.headers["Location"].endswith(f"/collectives/{collective.id}")


@pytest.mark.parametrize("url", ["/w/999999", "/c/999999"])
def test_short_links_to_unknown_ids_are_not_found(client, app, url):
    assert client.get(url).status_code == 404


def test_short_link_of_a_draft_answers_as_its_work_page_would(app, collective, open_campaign, make_user):
    draft = make_work(collective, open_campaign, title="草稿", status="draft")
    public, member = app.test_client(), app.test_client()
    sign_in(member, make_user(Role.COLLECTIVE, collective=collective))
    assert public.get(f"/w/{draft.id}").status_code == public.get(f"/works/{draft.id}").status_code == 404
    assert member.get(f"/w/{draft.id}").status_code == 301
    assert member.get(f"/works/{draft.id}").status_code == 200


# ---------------------------------------------------------------------------------------------
# QR posters


def test_work_poster_qr_code_decodes_to_the_works_short_link_on_the_public_site(client, work, public_site):
    html = client.get(f"/works/{work.id}/poster").get_data(as_text=True)
    assert decode_qr_svg(html) == [f"{PUBLIC}/w/{work.id}"]


def test_work_poster_shows_the_work_the_collective_its_badge_promise_and_the_call_to_scan(
    client, work, collective, public_site
):
    _with_poster(work)
    response = client.get(f"/works/{work.id}/poster")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "站台上的温暖守候" in html and "北京地铁青年文明号" in html
    assert "微笑服务，准点安全，乘客至上。" in html and "扫码观看并为我们点赞" in html
    assert f'src="/media/works/{work.id}/poster.jpg"' in html
    assert f'src="/media/{collective.badge_key}"' in html
    assert f"{PUBLIC}/w/{work.id}" in html  # printed under the code for those who type it


def test_poster_page_prints_on_a4_with_a_print_button(client, work, app):
    html = client.get(f"/works/{work.id}/poster").get_data(as_text=True)
    assert "打印海报" in html and "css/poster.css" in html
    css = (Path(app.static_folder) / "css/poster.css").read_text()
    assert "@page { size: A4" in css and "@media print" in css


def test_work_poster_escapes_the_title(client, collective, open_campaign):
    work = make_work(collective, open_campaign, title="<script>alert(1)</script>")
    html = client.get(f"/works/{work.id}/poster").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


@pytest.mark.parametrize("status", ["draft", "pending_review", "rejected", "withdrawn"])
def test_poster_of_an_unpublished_work_is_not_found_even_for_its_collective(
    app, collective, open_campaign, make_user, status
):
    work = make_work(collective, open_campaign, title="未发布", status=status)
    public, member = app.test_client(), app.test_client()
    sign_in(member, make_user(Role.COLLECTIVE, collective=collective))
    assert public.get(f"/works/{work.id}/poster").status_code == 404
    assert member.get(f"/works/{work.id}/poster").status_code == 404


def test_poster_of_an_unknown_work_is_not_found(client, app):
    assert client.get("/works/999999/poster").status_code == 404


def test_published_work_page_links_to_its_poster(client, work):
    html = client.get(f"/works/{work.id}").get_data(as_text=True)
    assert f'href="/works/{work.id}/poster"' in html


def test_collective_poster_qr_code_decodes_to_the_collectives_short_link(client, collective, public_site):
    response = client.get(f"/collectives/{collective.id}/poster")
    html = response.get_data(as_text=True)
    assert decode_qr_svg(html) == [f"{PUBLIC}/c/{collective.id}"]
    assert "微笑服务，准点安全，乘客至上。" in html


def test_collective_page_links_to_its_poster(client, collective):
    html = client.get(f"/collectives/{collective.id}").get_data(as_text=True)
    assert f'href="/collectives/{collective.id}/poster"' in html


def test_poster_of_an_unknown_collective_is_not_found(client, app):
    assert client.get("/collectives/999999/poster").status_code == 404
