"""Embeds for partner media: the framable player, oEmbed 1.0 and the discovery link (issue 15).

Partner sites frame /embed/works/<id>; their CMS asks /oembed for the iframe code. Only public
works are embeddable, sizes honour the consumer's maxima, and every other page keeps refusing
to be framed (docs/embeds.md).
"""

from __future__ import annotations

import pytest

from app import create_app
from app.extensions import db
from app.models import AssetRole, AssetStatus, MediaAsset
from tests.app_support import REDIS_URL
from tests.builders_support import make_work
from tests.sharing_support import head_of
from tests.sign_in_support import sign_in

PUBLIC = "https://wenming.example.cn"
# Every field oEmbed 1.0 defines for a video or rich answer (https://oembed.com, 2.3.4).
REQUIRED = {"version", "type", "html", "width", "height"}
OPTIONAL = {
    "title",
    "author_name",
    "author_url",
    "provider_name",
    "provider_url",
    "cache_age",
    "thumbnail_url",
    "thumbnail_width",
    "thumbnail_height",
}


@pytest.fixture
def public_site(app):
    app.config["PUBLIC_BASE_URL"] = PUBLIC
    return PUBLIC


@pytest.fixture
def collective(make_collective):
    return make_collective("北京地铁青年文明号", "交通运输", "北京")


def _asset(work, role: AssetRole, key: str, width: int, height: int) -> None:
    db.session.add(
        MediaAsset(
            work_id=work.id, role=role, storage_key=key, status=AssetStatus.READY, width=width, height=height
        )
    )


def video_work(collective, campaign, *, width=1280, height=720, status="published", title="站台上的温暖守候"):
    work = make_work(collective, campaign, title=title, kind="film", status=status)
    _asset(work, AssetRole.MP4_360, f"works/{work.id}/360.mp4", width * 360 // height, 360)
    _asset(work, AssetRole.MP4_720, f"works/{work.id}/720.mp4", width, height)
    _asset(work, AssetRole.HLS, f"works/{work.id}/hls/master.m3u8", width, height)
    _asset(work, AssetRole.POSTER, f"works/{work.id}/poster.jpg", width, height)
    db.session.commit()
    return work


@pytest.fixture
def film(collective, open_campaign):
    return video_work(collective, open_campaign)


@pytest.fixture
def story(collective, open_campaign):
    work = make_work(collective, open_campaign, title="一张车票的故事", kind="story")
    _asset(work, AssetRole.IMAGE, f"works/{work.id}/images/1.jpg", 800, 600)
    db.session.commit()
    return work


def ask(client, url, **params):
    return client.get("/oembed", query_string={"url": url, **params})


def _assert_oembed_fields(body: dict) -> None:
    assert REQUIRED <= set(body) <= REQUIRED | OPTIONAL
    assert body["version"] == "1.0"
    assert isinstance(body["width"], int) and isinstance(body["height"], int)
    thumbnail = {"thumbnail_url", "thumbnail_width", "thumbnail_height"} & set(body)
    assert thumbnail in (set(), {"thumbnail_url", "thumbnail_width", "thumbnail_height"})


# --- oEmbed ----------------------------------------------------------------------------------


def test_oembed_of_a_film_is_a_video_with_the_player_iframe(client, public_site, film):
    response = ask(client, f"{PUBLIC}/works/{film.id}", format="json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    body = response.json
    _assert_oembed_fields(body)
    assert body["type"] == "video"
    assert (body["width"], body["height"]) == (640, 360)
    assert f'src="{PUBLIC}/embed/works/{film.id}"' in body["html"]
    assert 'width="640" height="360"' in body["html"]
    assert body["title"] == "站台上的温暖守候"
    assert body["author_name"] == "北京地铁青年文明号"
    assert body["author_url"] == f"{PUBLIC}/collectives/{film.collective_id}"
    assert body["provider_url"] == f"{PUBLIC}/"
    assert body["provider_name"]
    assert body["thumbnail_url"] == f"{PUBLIC}/media/works/{film.id}/poster.jpg"
    assert (body["thumbnail_width"], body["thumbnail_height"]) == (1280, 720)


def test_oembed_of_a_story_is_rich(client, public_site, story):
    body = ask(client, f"{PUBLIC}/works/{story.id}").json
    _assert_oembed_fields(body)
    assert body["type"] == "rich"
    assert (body["width"], body["height"]) == (480, 360)
    assert f'src="{PUBLIC}/embed/works/{story.id}"' in body["html"]
    assert body["thumbnail_url"].endswith(f"/works/{story.id}/images/1.jpg")


def test_the_short_link_and_the_player_url_name_the_work_too(client, public_site, film):
    for url in (f"{PUBLIC}/w/{film.id}", f"{PUBLIC}/embed/works/{film.id}"):
        assert ask(client, url).json["html"] == ask(client, f"{PUBLIC}/works/{film.id}").json["html"]


@pytest.mark.parametrize(
    ("maxwidth", "maxheight", "size"),
    [
        (320, None, (320, 180)),
        (None, 90, (160, 90)),
        (400, 400, (400, 225)),
        (2000, 2000, (640, 360)),
        (333, 100, (177, 100)),
    ],
)
def test_a_landscape_film_fits_the_maxima_keeping_16_9(client, public_site, film, maxwidth, maxheight, size):
    params = {k: v for k, v in (("maxwidth", maxwidth), ("maxheight", maxheight)) if v}
    body = ask(client, f"{PUBLIC}/works/{film.id}", **params).json
    assert (body["width"], body["height"]) == size
    assert f'width="{size[0]}" height="{size[1]}"' in body["html"]


def test_a_portrait_video_stays_portrait_within_the_maxima(client, public_site, collective, open_campaign):
    work = video_work(collective, open_campaign, width=720, height=1280)
    body = ask(client, f"{PUBLIC}/works/{work.id}").json
    assert (body["width"], body["height"]) == (360, 640)
    body = ask(client, f"{PUBLIC}/works/{work.id}", maxwidth=300, maxheight=300).json
    assert (body["width"], body["height"]) == (168, 300)


def test_a_story_card_shrinks_to_the_maxima_at_4_3(client, public_site, story):
    body = ask(client, f"{PUBLIC}/works/{story.id}", maxwidth=240).json
    assert (body["width"], body["height"]) == (240, 180)


def test_a_thumbnail_larger_than_the_maxima_is_left_out(client, public_site, film):
    body = ask(client, f"{PUBLIC}/works/{film.id}", maxwidth=320).json
    _assert_oembed_fields(body)
    assert "thumbnail_url" not in body


@pytest.mark.parametrize("status", ["draft", "pending_review", "rejected", "withdrawn", "processing"])
def test_a_work_that_is_not_public_is_404(client, public_site, collective, open_campaign, status):
    work = video_work(collective, open_campaign, status=status)
    response = ask(client, f"{PUBLIC}/works/{work.id}")
    assert response.status_code == 404
    assert response.json["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example.com/works/{id}",
        "{public}/collectives/1",
        "{public}/works/{id}/poster",
        "{public}/works/999999",
        "{public}/no/such/page",
    ],
)
def test_a_url_that_is_not_an_embeddable_work_of_ours_is_404(client, public_site, film, url):
    response = ask(client, url.format(public=PUBLIC, id=film.id))
    assert response.status_code == 404
    assert response.json["error"]["code"] in {"not_embeddable", "not_found"}


def test_xml_is_not_implemented(client, public_site, film):
    response = ask(client, f"{PUBLIC}/works/{film.id}", format="xml")
    assert response.status_code == 501
    assert response.json["error"]["code"] == "format_not_implemented"


@pytest.mark.parametrize(
    "url", [None, "", "   ", "not a url", "ftp://wenming.example.cn/works/1", "http://[::1"]
)
def test_a_missing_or_garbled_url_is_400(client, public_site, url):
    response = client.get("/oembed", query_string={} if url is None else {"url": url})
    assert response.status_code == 400
    assert response.json["error"]["code"] in {"missing_url", "invalid_url"}
    assert response.json["error"]["message"]


@pytest.mark.parametrize("value", ["abc", "-5", "0", "10"])
def test_a_garbled_maximum_is_400(client, public_site, film, value):
    response = ask(client, f"{PUBLIC}/works/{film.id}", maxwidth=value)
    assert response.status_code == 400
    assert response.json["error"]["code"] == "invalid_size"


def test_oembed_sets_no_cookie(client, public_site, film):
    response = ask(client, f"{PUBLIC}/works/{film.id}", lang="en")
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers


# --- the player page -------------------------------------------------------------------------


def test_the_player_page_has_the_video_title_collective_likes_and_links_home(client, public_site, film):
    response = client.get(f"/embed/works/{film.id}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert f'data-hls="/media/works/{film.id}/hls/master.m3u8"' in html
    assert "站台上的温暖守候" in html and "北京地铁青年文明号" in html
    assert 'class="embed-like-count">0<' in html
    assert f'href="{PUBLIC}/works/{film.id}" target="_blank" rel="noopener"' in html
    assert "csrf-token" not in html


def test_the_player_of_a_story_is_its_card(client, public_site, story):
    html = client.get(f"/embed/works/{story.id}").get_data(as_text=True)
    assert "<video" not in html
    assert "embed-card" in html and "一张车票的故事" in html


def test_the_player_sets_no_cookie_even_when_a_language_is_chosen(client, film):
    for path in (f"/embed/works/{film.id}", f"/embed/works/{film.id}?lang=en"):
        response = client.get(path)
        assert response.status_code == 200
        assert "Set-Cookie" not in response.headers, path


@pytest.mark.parametrize("status", ["draft", "pending_review", "rejected", "withdrawn"])
def test_the_player_of_a_work_that_is_not_public_is_404_without_a_cookie(
    client, collective, open_campaign, status
):
    work = video_work(collective, open_campaign, status=status)
    response = client.get(f"/embed/works/{work.id}")
    assert response.status_code == 404
    assert "Set-Cookie" not in response.headers
    assert "csrf-token" not in response.get_data(as_text=True)


def _frame_ancestors(response) -> str:
    policy = response.headers["Content-Security-Policy"]
    return next(part.strip() for part in policy.split(";") if part.strip().startswith("frame-ancestors"))


def test_any_site_may_frame_the_player_by_default(client, film):
    response = client.get(f"/embed/works/{film.id}")
    assert _frame_ancestors(response) == "frame-ancestors *"
    assert "X-Frame-Options" not in response.headers


def test_only_the_allowed_origins_may_frame_the_player(app, client, film):
    app.config["EMBED_ALLOWED_ORIGINS"] = ["https://news.example.cn", "http://127.0.0.1:8123"]
    response = client.get(f"/embed/works/{film.id}")
    assert _frame_ancestors(response) == "frame-ancestors https://news.example.cn http://127.0.0.1:8123"
    assert "X-Frame-Options" not in response.headers


@pytest.mark.parametrize("origins", [["news.example.cn"], ["https://a.example/path"], ["'self' *"]])
def test_a_malformed_allowed_origin_stops_the_app(origins):
    # No database: the app stops before it would open one.
    with pytest.raises(RuntimeError, match="EMBED_ALLOWED_ORIGINS"):
        create_app(
            "testing", SQLALCHEMY_DATABASE_URI="sqlite://", REDIS_URL=REDIS_URL, EMBED_ALLOWED_ORIGINS=origins
        )


def test_every_other_page_still_refuses_frames(app, client, film, story):
    """Every GET route without arguments, and the work pages, refuse frames; only the player may."""
    paths = {f"/works/{film.id}", f"/works/{story.id}", f"/works/{film.id}/poster", "/oembed"}
    for rule in app.url_map.iter_rules():
        if "GET" in rule.methods and not rule.arguments and not rule.rule.startswith("/static"):
            paths.add(rule.rule)
    for path in sorted(paths):
        response = client.get(path)
        assert _frame_ancestors(response) == "frame-ancestors 'none'", path
        assert response.headers["X-Frame-Options"] == "DENY", path


def work_page_as_owner(client, work, make_user) -> str:
    sign_in(client, make_user("collective", collective=work.collective))
    response = client.get(f"/works/{work.id}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


# --- discovery, share panel, API -------------------------------------------------------------


def test_a_published_work_page_carries_the_oembed_discovery_link(client, public_site, film):
    head = head_of(client.get(f"/works/{film.id}"))
    href = head.links["alternate"]
    assert href.startswith(f"{PUBLIC}/oembed?")
    assert 'type="application/json+oembed"' in client.get(f"/works/{film.id}").get_data(as_text=True)
    # The discovery link answers with this work.
    assert client.get(href.removeprefix(PUBLIC)).json["title"] == "站台上的温暖守候"


def test_a_work_page_that_is_not_public_has_no_discovery_link(client, collective, open_campaign, make_user):
    work = video_work(collective, open_campaign, status="draft")
    assert "json+oembed" not in work_page_as_owner(client, work, make_user)


def test_the_share_panel_offers_the_embed_code_with_a_copy_button(client, public_site, film):
    html = client.get(f"/works/{film.id}").get_data(as_text=True)
    assert "data-copy-embed" in html
    assert f"&lt;iframe src=&#34;{PUBLIC}/embed/works/{film.id}&#34;" in html


def test_the_api_detail_gives_the_embed_url_of_a_public_work(client, public_site, film):
    body = client.get(f"/api/v1/works/{film.id}").json
    assert body["embed_url"] == f"{PUBLIC}/embed/works/{film.id}"


def test_oembed_lookups_are_rate_limited_per_ip(app, client, public_site, film):
    app.config["OEMBED_IP_RATE_LIMIT"] = "2 per minute"
    for _ in range(2):
        assert ask(client, f"{PUBLIC}/works/{film.id}").status_code == 200
    refused = ask(client, f"{PUBLIC}/works/{film.id}")
    assert refused.status_code == 429
    assert refused.json["error"]["code"] == "rate_limited"
    assert int(refused.headers["Retry-After"]) > 0
