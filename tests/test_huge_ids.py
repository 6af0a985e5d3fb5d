"""Numbers past what any row can hold are refused, never a failed query: ids in URLs are 404s on
pages and API paths, and numbers in query strings, forms and JSON bodies are clear 400s/422s."""

from __future__ import annotations

import re

import pytest

from app.models import Role
from tests.sign_in_support import csrf_token, sign_in

HUGE = "99999999999999999999"  # past SQLite's 64-bit integers
PAST_POSTGRES = str(2**31)  # past PostgreSQL's 32-bit id columns


@pytest.mark.parametrize("number", [HUGE, PAST_POSTGRES])
@pytest.mark.parametrize(
    "path", ["/works/{}", "/collectives/{}", "/w/{}", "/api/v1/works/{}", "/api/v1/collectives/{}"]
)
def test_an_id_no_row_can_have_is_not_found(client, path, number):
    answer = client.get(path.format(number))

    assert answer.status_code == 404


def test_the_api_answers_it_in_the_error_shape(client):
    answer = client.get(f"/api/v1/works/{HUGE}")

    assert answer.json["error"]["code"] == "not_found"


# --- numbers past any column, wherever a moderator's request carries them (issue 17, finding 6) --

# Past SQLite's 64 bits, past PostgreSQL's 32-bit ids, negative, and digits that are not ASCII.
NUMBERS = [HUGE + "999", PAST_POSTGRES, "-" + HUGE, "٣", "²", "1e5", "0x10"]


@pytest.fixture
def admin(client, make_user):
    user = make_user(Role.ADMIN)
    sign_in(client, user)
    return user


@pytest.mark.parametrize("number", NUMBERS, ids=repr)
def test_the_api_bulk_review_refuses_an_impossible_id_without_failing(client, admin, number):
    answer = client.post(
        "/api/v1/moderation/works/bulk",
        json={"action": "approve", "work_ids": [number]},
        headers={"X-CSRFToken": csrf_token(client)},
    )
    assert answer.status_code == 422, answer.get_data(as_text=True)
    assert answer.json["error"]["code"] in {"invalid_work_id", "number_out_of_range"}


def test_the_api_bulk_review_refuses_a_json_number_past_64_bits(client, admin):
    answer = client.post(
        "/api/v1/moderation/works/bulk",
        data='{"action": "approve", "work_ids": [99999999999999999999999]}',
        content_type="application/json",
        headers={"X-CSRFToken": csrf_token(client)},
    )
    assert answer.status_code == 422
    assert answer.json["error"]["code"] == "number_out_of_range"


@pytest.mark.parametrize("number", NUMBERS, ids=repr)
def test_the_bulk_review_page_says_the_id_is_wrong(client, admin, number):
    answer = client.post(
        "/moderation/bulk",
        data={"action": "approve", "work_ids": [number], "csrf_token": csrf_token(client)},
        follow_redirects=True,
    )
    assert answer.status_code == 200
    assert "作品编号无效" in answer.get_data(as_text=True)


@pytest.mark.parametrize("number", NUMBERS, ids=repr)
@pytest.mark.parametrize(
    "path",
    [
        "/admin/audit?before={}",
        "/moderation/dashboard?campaign_id={}",
        "/moderation/dashboard.csv?campaign_id={}",
        "/moderation?after={}",
        "/moderation?campaign_id={}",
        "/notifications?before={}",
        "/?campaign_id={}",
        "/wall?campaign_id={}",
    ],
)
def test_a_query_number_no_row_can_have_is_a_clear_400(client, admin, path, number):
    answer = client.get(path.format(number))
    assert answer.status_code == 400, answer.get_data(as_text=True)[:300]
    assert re.search(r"参数 \w+ 的取值无效", answer.get_data(as_text=True))
