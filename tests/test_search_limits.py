"""The per-IP limit on searching: the page and the API share one budget; listings are not searches."""

from __future__ import annotations

import pytest


@pytest.fixture
def tight(app):
    app.config["SEARCH_IP_RATE_LIMIT"] = "2 per minute"
    return app


def test_searching_past_the_limit_gets_a_429_in_the_api_error_shape(tight, client):
    for _ in range(2):
        assert client.get("/api/v1/works?q=文明").status_code == 200

    refused = client.get("/api/v1/works?q=文明")

    assert refused.status_code == 429
    assert refused.json["error"]["code"] == "rate_limited"
    assert refused.json["error"]["message"] == "搜索太频繁了，请稍后再试。"
    assert int(refused.headers["Retry-After"]) > 0


def test_the_results_page_and_the_api_share_one_budget(tight, client):
    assert client.get("/search?q=文明").status_code == 200
    assert client.get("/api/v1/works?q=青年").status_code == 200

    refused = client.get("/search?q=文明")

    assert refused.status_code == 429
    assert "搜索太频繁了，请稍后再试。" in refused.get_data(as_text=True)


def test_listing_without_a_query_is_not_counted_as_a_search(tight, client):
    for _ in range(5):
        assert client.get("/api/v1/works?sort=new").status_code == 200
        assert client.get("/search").status_code == 200

    assert client.get("/api/v1/works?q=文明").status_code == 200


def test_each_address_has_its_own_budget(tight, client):
    for _ in range(2):
        client.get("/api/v1/works?q=文明")

    other = client.get("/api/v1/works?q=文明", environ_base={"REMOTE_ADDR": "198.51.100.20"})

    assert other.status_code == 200
