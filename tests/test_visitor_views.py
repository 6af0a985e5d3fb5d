"""Views are not easy to inflate: an anonymous viewer is a signed visitor cookie, a client that
returns no cookie counts on its address with few viewers per address, and a story can no longer
make its readers request another work's page (issue 17, finding 7)."""

from __future__ import annotations

import re

import pytest

from app.engagement import services, visitors
from app.models import Role
from app.stored_files import media_url
from app.works import services as works
from tests.builders_support import make_collective, make_published_story, make_work, view_count
from tests.engagement_support import kill_redis, revive_redis
from tests.images_support import jpeg_bytes
from tests.sign_in_support import sign_in

BEACON = re.compile(r'data-view-beacon="([^"]+)"')


@pytest.fixture
def work(app, open_campaign):
    return make_published_story(open_campaign)


def _no_cookies(app):
    """A client that keeps no cookie, like curl in a loop."""
    return app.test_client(use_cookies=False)


def test_thirty_gets_with_thirty_user_agents_and_no_cookie_add_no_view(app, work):
    client = _no_cookies(app)
    for n in range(30):
        assert client.get(f"/works/{work.id}", headers={"User-Agent": f"Bot/{n}"}).status_code == 200
    assert view_count(work) == 0


def test_thirty_gets_that_keep_the_cookie_are_one_viewer_whatever_the_user_agent(app, client, work):
    for n in range(30):
        html = client.get(f"/works/{work.id}", headers={"User-Agent": f"Bot/{n}"}).get_data(as_text=True)
        beacon = BEACON.search(html)
        if beacon:
            client.post(beacon.group(1).replace("&amp;", "&"))
    assert view_count(work) == 1


def test_counting_requests_without_a_cookie_add_few_viewers_per_address(app, work):
    client = _no_cookies(app)
    beacon = (
        BEACON.search(client.get(f"/works/{work.id}").get_data(as_text=True)).group(1).replace("&amp;", "&")
    )
    # A client that returns no cookie is asked once more (202, static/js/views.js) and then counted
    # on its address: however many User-Agents it invents.
    assert client.post(beacon).status_code == 202
    beacon += "&again=1"
    for n in range(30):
        assert client.post(beacon, headers={"User-Agent": f"Bot/{n}"}).status_code == 204
    assert view_count(work) == app.config["COOKIELESS_VIEWERS_PER_IP"]
    other_address = client.post(beacon, environ_base={"REMOTE_ADDR": "198.51.100.7"})
    assert other_address.status_code == 204
    assert view_count(work) == app.config["COOKIELESS_VIEWERS_PER_IP"] + 1


def test_a_browser_refusing_cookies_is_still_counted_once(app, work):
    client = _no_cookies(app)
    for _ in range(5):
        html = client.get(f"/works/{work.id}", headers={"User-Agent": "Mozilla/5.0"}).get_data(as_text=True)
        beacon = BEACON.search(html).group(1).replace("&amp;", "&")
        # What static/js/views.js does: the cookie it was given did not come back, so it asks again.
        assert client.post(beacon, headers={"User-Agent": "Mozilla/5.0"}).status_code == 202
        client.post(beacon + "&again=1", headers={"User-Agent": "Mozilla/5.0"})
    assert view_count(work) == 1


def test_the_page_itself_sets_no_cookie(client, work):
    # It is one cached body for everyone: the visitor cookie comes with the view beacon's answer.
    assert "Set-Cookie" not in client.get(f"/works/{work.id}").headers


def test_the_visitor_cookie_is_signed_long_lived_and_httponly(client, work):
    html = client.get(f"/works/{work.id}").get_data(as_text=True)
    answer = client.post(BEACON.search(html).group(1).replace("&amp;", "&"))
    assert answer.status_code == 202 and answer.headers["Cache-Control"] == "private, no-store"
    [cookie] = [h for h in answer.headers.getlist("Set-Cookie") if h.startswith(f"{visitors.COOKIE}=")]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Max-Age=34560000" in cookie


def test_a_forged_visitor_cookie_is_no_visitor(app, work):
    client = app.test_client()
    html = client.get(f"/works/{work.id}").get_data(as_text=True)
    for n in range(5):
        client.set_cookie(visitors.COOKIE, f"forged-{n}")
        # Not a visitor: given a genuine cookie and asked again, nothing counted on the forgery.
        assert client.post(BEACON.search(html).group(1).replace("&amp;", "&")).status_code == 202
    assert view_count(work) == 0


def test_views_cannot_be_posted_without_the_pages_token(app, work, open_campaign):
    client = app.test_client()
    assert client.post(f"/works/{work.id}/view").status_code == 400
    other = make_work(make_collective("另一个集体"), open_campaign, title="另一件作品")
    services.work_published(other)
    token = visitors.beacon_token(other.id)
    assert client.post(f"/works/{work.id}/view?t={token}").status_code == 400
    assert view_count(work) == 0


def test_a_signed_in_viewer_is_counted_by_the_first_beacon_without_a_visitor_cookie(client, work, make_user):
    sign_in(client, make_user())
    html = client.get(f"/works/{work.id}").get_data(as_text=True)
    answer = client.post(BEACON.search(html).group(1).replace("&amp;", "&"))
    assert answer.status_code == 204 and visitors.COOKIE not in answer.headers.get("Set-Cookie", "")
    assert view_count(work) == 1


def _first_visit(app, work, address="203.0.113.9"):
    """A new browser's first visit as views.js makes it: the page, the beacon, and again with
    whatever cookie the beacon gave. The beacon's first answer."""
    client = app.test_client()
    env = {"REMOTE_ADDR": address}
    html = client.get(f"/works/{work.id}", environ_base=env).get_data(as_text=True)
    beacon = BEACON.search(html).group(1).replace("&amp;", "&")
    first = client.post(beacon, environ_base=env, headers={"User-Agent": "Mozilla/5.0"})
    if first.status_code == 202:
        client.post(beacon + "&again=1", environ_base=env, headers={"User-Agent": "Mozilla/5.0"})
    return first


def test_a_script_throwing_its_cookies_away_stops_adding_viewers_past_the_addresss_budget(app, work):
    app.config["VISITOR_COOKIE_IP_RATE_LIMIT"] = "5 per minute"
    answers = [_first_visit(app, work).status_code for _ in range(30)]
    # Five new visitor ids, then counted on its address: one more viewer for one User-Agent.
    assert answers == [202] * 5 + [204] * 25
    assert view_count(work) == 5 + 1


def test_past_the_budget_a_first_visit_gets_no_visitor_cookie(app, work):
    app.config["VISITOR_COOKIE_IP_RATE_LIMIT"] = "1 per minute"
    _first_visit(app, work)
    answer = _first_visit(app, work)
    assert answer.status_code == 204 and visitors.COOKIE not in answer.headers.get("Set-Cookie", "")


def test_one_addresss_spent_budget_leaves_new_visitors_from_other_addresses_counted(app, work):
    app.config["VISITOR_COOKIE_IP_RATE_LIMIT"] = "2 per minute"
    for _ in range(5):
        _first_visit(app, work)
    others = [_first_visit(app, work, address=f"198.51.100.{n}").status_code for n in range(1, 4)]
    assert others == [202, 202, 202]
    assert view_count(work) == 2 + 1 + 3


def test_with_redis_down_a_new_visitor_still_gets_a_cookie(app, work):
    app.config["VISITOR_COOKIE_IP_RATE_LIMIT"] = "1 per minute"
    _first_visit(app, work)
    kill_redis()
    try:
        answer = _first_visit(app, work)
    finally:
        revive_redis()
    assert answer.status_code == 202
    assert any(h.startswith(f"{visitors.COOKIE}=") for h in answer.headers.getlist("Set-Cookie"))


def test_an_ipv6_client_is_its_slash_64_for_the_budget(app, work):
    app.config["VISITOR_COOKIE_IP_RATE_LIMIT"] = "2 per minute"
    answers = [_first_visit(app, work, address=f"2001:db8:5:7::{n:x}").status_code for n in range(1, 6)]
    assert answers == [202, 202, 204, 204, 204]
    assert _first_visit(app, work, address="2001:db8:5:8::1").status_code == 202


def test_an_ipv6_client_without_cookies_is_its_slash_64_in_the_fallback(app, work):
    client = _no_cookies(app)
    beacon = (
        BEACON.search(client.get(f"/works/{work.id}").get_data(as_text=True)).group(1).replace("&amp;", "&")
    )
    for n in range(1, 30):
        env = {"REMOTE_ADDR": f"2001:db8:9:1::{n:x}"}
        client.post(beacon + "&again=1", environ_base=env, headers={"User-Agent": "Bot/1"})
    assert view_count(work) == 1


def test_loopback_and_unknown_addresses_spend_no_budget(app, work):
    # Behind a proxy nobody declared (PROXY_HOPS=0) every visitor is the proxy's loopback address.
    app.config["VISITOR_COOKIE_IP_RATE_LIMIT"] = "1 per minute"
    answers = [_first_visit(app, work, address="127.0.0.1").status_code for _ in range(4)]
    assert answers == [202] * 4


def test_refused_cookies_are_counted_for_the_operator(app, work):
    from app.observability import metrics

    app.config["VISITOR_COOKIE_IP_RATE_LIMIT"] = "1 per minute"
    before = metrics.VISITOR_COOKIES_REFUSED._value.get()
    for _ in range(3):
        _first_visit(app, work)
    assert metrics.VISITOR_COOKIES_REFUSED._value.get() == before + 2


# --- story pictures -----------------------------------------------------------------------------


@pytest.fixture
def story(app, make_user, open_campaign):
    # Media URLs are built as a page builds them, inside a request.
    with app.test_request_context("/"):
        yield _story(make_user, open_campaign)


def _story(make_user, open_campaign):
    group = make_collective("上海银行青年文明号")
    member = make_user(Role.COLLECTIVE, collective=group)
    return member, works.create_story(member, title="柜台前的耐心", campaign_id=open_campaign.id)


def test_a_story_cannot_embed_another_work_page_as_a_picture(story, work):
    member, draft = story
    works.update_work(
        draft, member, title=draft.title, body=f"读者每看一次就给它加一次浏览 ![](/works/{work.id})"
    )
    assert f"/works/{work.id}" not in draft.body_html
    assert "<img" not in draft.body_html or 'src="' not in draft.body_html


def test_a_story_cannot_show_pictures_from_another_site(story):
    member, draft = story
    works.update_work(draft, member, title=draft.title, body="![](https://tracker.example/pixel.png)")
    assert "tracker.example" not in draft.body_html


def test_a_story_shows_its_own_uploaded_picture(story):
    member, draft = story
    asset = works.add_story_image(draft, member, jpeg_bytes((64, 48)))
    url = media_url(asset.storage_key)
    works.update_work(draft, member, title=draft.title, body=f"站台一角\n\n![]({url})")
    assert f'src="{url}"' in draft.body_html


def test_a_picture_of_another_story_is_not_the_works_own(story, make_user, open_campaign):
    member, draft = story
    other_member = make_user(Role.COLLECTIVE, collective=make_collective("别的集体"))
    other = works.create_story(other_member, title="别人的故事", campaign_id=open_campaign.id)
    foreign = media_url(works.add_story_image(other, other_member, jpeg_bytes((64, 48))).storage_key)
    works.update_work(draft, member, title=draft.title, body=f"![]({foreign})")
    assert foreign not in draft.body_html
