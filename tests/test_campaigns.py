"""Campaign windows: refusals outside them say when the window is, and the campaigns API."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from flask_babel import to_user_timezone

from app.catalog.campaigns import (
    campaigns_open_for_submission,
    ensure_submission_open,
    ensure_voting_open,
    submission_is_open,
)
from app.errors import ServiceError
from app.models import utcnow
from tests.builders_support import make_campaign


def test_submission_is_refused_after_the_window_with_its_dates_in_beijing_time(app):
    campaign = make_campaign(submission_days=(-30, -1))
    with pytest.raises(ServiceError) as caught:
        ensure_submission_open(campaign)
    opens = campaign.submission_opens.astimezone(to_user_timezone(utcnow()).tzinfo).strftime("%Y-%m-%d %H:%M")
    assert caught.value.message.startswith(f"本次活动的作品征集时间为 {opens} 至 ")
    assert caught.value.message.endswith("现在不在征集期内。")
    assert (caught.value.code, caught.value.status) == ("submission_closed", 409)


def test_submission_is_accepted_inside_the_window(open_campaign):
    ensure_submission_open(open_campaign)


def test_the_closing_instant_is_outside_the_window(app):
    campaign = make_campaign()
    assert not submission_is_open(campaign, now=campaign.submission_closes)
    assert submission_is_open(campaign, now=campaign.submission_opens)


def test_voting_is_refused_before_the_window(app):
    campaign = make_campaign(voting_days=(5, 30))
    with pytest.raises(ServiceError, match="本次活动的投票时间为 .+ 至 .+，现在不在投票期内") as caught:
        ensure_voting_open(campaign)
    assert (caught.value.code, caught.value.status) == ("voting_closed", 409)


def test_only_open_campaigns_are_offered_for_new_works(app):
    open_one = make_campaign(title="进行中")
    make_campaign(title="已结束", submission_days=(-30, -2))
    assert campaigns_open_for_submission() == [open_one]


def test_the_campaigns_api_lists_windows_as_iso_8601_with_timezone(client):
    campaign = make_campaign(title="2026年主题活动")
    response = client.get("/api/v1/campaigns")
    assert response.status_code == 200
    (item,) = response.json["items"]
    assert set(item) == {
        "id",
        "title",
        "submission_opens",
        "submission_closes",
        "voting_opens",
        "voting_closes",
    }
    assert item["id"] == campaign.id and item["title"] == "2026年主题活动"
    opens = datetime.fromisoformat(item["submission_opens"])
    assert opens.tzinfo is not None
    assert abs(opens - campaign.submission_opens) < timedelta(seconds=1)
