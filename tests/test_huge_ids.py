"""Ids in URLs past what any row can hold are 404s on pages and API paths, never a failed query."""

from __future__ import annotations

import pytest

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
