"""Text no database stores is refused where it enters, in words, and nothing is written: a NUL
(PostgreSQL refuses it in text) in a form, a query string or a JSON body, and a lone surrogate
(which UTF-8 cannot encode) in a JSON body. Each answered 500 before (app/text_input.py)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import Comment, ModerationEvent, Report, Role, User, Work
from tests.builders_support import make_work
from tests.sign_in_support import bearer, page_csrf_token, sign_in

# As a JSON client may send them: json.dumps keeps a lone surrogate as the escape "\ud800".
SURROGATE = "a\ud800b"
NUL = "a\x00b"
STRANGE = "含有无法保存的字符"


def rows(model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def refused(answer, status: int, fields: set[str] | None = None) -> bool:
    error = answer.json["error"]
    assert answer.status_code == status, answer.json
    assert error["code"] == "invalid_characters" and STRANGE in error["message"]
    return fields is None or set(error.get("fields", {})) == fields


@pytest.mark.parametrize("text", [SURROGATE, NUL])
def test_a_comment_through_the_api_with_unstorable_text_is_refused_and_not_stored(
    client, metro, open_campaign, make_user, text
):
    work = make_work(metro, open_campaign)
    answer = client.post(
        f"/api/v1/works/{work.id}/comments", json={"body": text}, headers=bearer(make_user(Role.VIEWER))
    )
    assert refused(answer, 422, {"body"})
    assert rows(Comment) == 0


@pytest.mark.parametrize("field", ["title", "summary", "body"])
@pytest.mark.parametrize("text", [SURROGATE, NUL])
def test_a_story_through_the_api_with_unstorable_text_is_refused_and_not_stored(
    client, metro, open_campaign, make_user, field, text
):
    before = rows(Work)
    story = {
        "kind": "story",
        "title": "标题",
        "summary": "简介",
        "body": "正文",
        "campaign_id": open_campaign.id,
    }
    answer = client.post(
        "/api/v1/works",
        json={**story, field: text},
        headers=bearer(make_user(Role.COLLECTIVE, collective=metro)),
    )
    assert refused(answer, 422, {field})
    assert rows(Work) == before


def test_text_hidden_deep_in_a_body_or_in_a_key_is_found_and_its_field_named(
    client, metro, open_campaign, make_user
):
    moderator = bearer(make_user(Role.MODERATOR))
    work = make_work(metro, open_campaign, status="pending_review")
    answer = client.post(
        "/api/v1/moderation/works/bulk",
        json={"action": "approve", "work_ids": [work.id], "reason": "好", "extra": [{"k": [SURROGATE]}]},
        headers=moderator,
    )
    assert refused(answer, 422, {"extra"})
    answer = client.post(
        "/api/v1/moderation/works/bulk",
        json={"action": "approve", "work_ids": [work.id], "reason": "好", NUL: 1},
        headers=moderator,
    )
    assert refused(answer, 422, {"a?b"})  # the key is named without the character itself
    assert rows(ModerationEvent) == 0


def test_signing_up_with_a_surrogate_in_the_name_is_refused(client):
    answer = client.post(
        "/api/v1/auth/register",
        json={"email": "new@example.com", "password": "Civility-2026!", "display_name": SURROGATE},
    )
    assert refused(answer, 422, {"display_name"})
    assert db.session.scalar(sa.select(User).where(User.email == "new@example.com")) is None


@pytest.mark.parametrize("field", ["email", "password"])
def test_asking_for_a_token_with_a_surrogate_is_refused_not_a_500(client, make_user, field):
    user = make_user(Role.VIEWER)
    # The e-mail reaches the log-in limiter's key before any view: it must not fail there.
    answer = client.post("/api/v1/auth/token", json={"email": user.email, "password": "x", field: SURROGATE})
    assert refused(answer, 422, {field})


def test_a_report_form_with_a_nul_is_refused_in_words_and_not_stored(client, metro, open_campaign, make_user):
    work = make_work(metro, open_campaign)
    sign_in(client, make_user(Role.VIEWER))
    answer = client.post(
        "/reports",
        data={
            "csrf_token": page_csrf_token(client),
            "target_type": "work",
            "target_id": work.id,
            "reason": NUL,
        },
    )
    assert answer.status_code == 422
    assert "提交的内容含有无法保存的字符（空字符或不成对的代理字符）：reason" in answer.get_data(as_text=True)
    assert rows(Report) == 0


def test_a_new_story_form_with_a_nul_in_its_title_is_refused(client, metro, open_campaign, make_user):
    before = rows(Work)
    sign_in(client, make_user(Role.COLLECTIVE, collective=metro))
    answer = client.post(
        "/my/works/new",
        data={
            "csrf_token": page_csrf_token(client),
            "title": NUL,
            "summary": "简介",
            "body": "正文",
            "campaign_id": open_campaign.id,
        },
    )
    assert answer.status_code == 422 and "无法保存的字符" in answer.get_data(as_text=True)
    assert rows(Work) == before


def test_a_query_filter_with_a_nul_is_a_clear_400_on_a_page_and_in_the_api(client, make_user):
    sign_in(client, make_user(Role.ADMIN))
    page = client.get("/admin/audit?action=%00")
    assert page.status_code == 400 and "无法保存的字符" in page.get_data(as_text=True)
    assert refused(client.get("/api/v1/works?q=a%00b"), 400)


def test_ordinary_text_with_emoji_and_every_script_still_goes_through(
    client, metro, open_campaign, make_user
):
    work = make_work(metro, open_campaign)
    text = "说得好 👍🏽 ٣ ½ ‮ 👨‍👩‍👧"
    answer = client.post(
        f"/api/v1/works/{work.id}/comments", json={"body": text}, headers=bearer(make_user(Role.VIEWER))
    )
    assert answer.status_code == 201, answer.json
