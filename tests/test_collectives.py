"""Collective profiles (亮形象、亮标识、亮承诺): public pages, member edits, the API."""

from __future__ import annotations

import io
import re

import pytest

from app.catalog.collectives import set_collective_badge, update_collective_profile
from app.errors import ValidationFailed
from app.extensions import db
from app.models import Role
from app.storage import get_storage
from tests.builders_support import make_work
from tests.images_support import jpeg_bytes, png_bytes
from tests.sign_in_support import page_csrf_token, sign_in


@pytest.fixture
def collective(make_collective):
    group = make_collective("北京地铁某站青年文明号", "交通运输", "北京")
    group.promise = "首末班车准点服务"
    group.supervision_channel = "监督电话 010-0000"
    db.session.commit()
    return group


def test_the_public_page_shows_the_profile_and_published_works_only(client, collective, open_campaign):
    make_work(collective, open_campaign, title="公开的故事")
    make_work(collective, open_campaign, title="还在写的草稿", status="draft")
    page = client.get(f"/collectives/{collective.id}").get_data(as_text=True)
    for text in (
        "北京地铁某站青年文明号",
        "首末班车准点服务",
        "监督电话 010-0000",
        "交通运输",
        "北京",
        "省级",
        "公开的故事",
    ):
        assert text in page
    assert "还在写的草稿" not in page


def test_an_unknown_collective_is_404(client):
    assert client.get("/collectives/999").status_code == 404


def test_a_member_edits_the_promise_and_uploads_a_badge(client, collective, member):
    sign_in(client, member)
    response = client.post(
        f"/collectives/{collective.id}/edit",
        data={
            "csrf_token": page_csrf_token(client),
            "promise": "新的承诺",
            "supervision_channel": "jiandu@example.com",
            "badge": (io.BytesIO(jpeg_bytes((900, 900))), "badge.jpg"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    db.session.refresh(collective)
    assert collective.promise == "新的承诺" and collective.supervision_channel == "jiandu@example.com"
    assert re.fullmatch(rf"collectives/{collective.id}/badge-[0-9a-f]{{16}}\.jpg", collective.badge_key)
    assert get_storage().exists(collective.badge_key)


def test_a_new_badge_replaces_and_deletes_the_old_one(collective, member):
    set_collective_badge(collective, member, jpeg_bytes())
    old = collective.badge_key
    set_collective_badge(collective, member, png_bytes(mode="RGBA", color=(0, 0, 0, 0)))
    assert collective.badge_key.endswith(".png") and collective.badge_key != old
    assert not get_storage().exists(old)


def test_a_badge_that_is_not_an_image_changes_nothing(collective, member):
    with pytest.raises(ValidationFailed, match="文件不是有效的图片"):
        update_collective_profile(
            collective, member, promise="不该保存", supervision_channel="", badge=b"GIF89a-but-not-really"
        )
    db.session.refresh(collective)
    assert collective.promise == "首末班车准点服务" and collective.badge_key is None


@pytest.mark.parametrize("who", ["viewer", "other_member", "moderator"])
def test_others_may_not_edit_the_profile(client, collective, make_user, make_collective, who):
    if who == "other_member":
        user = make_user(Role.COLLECTIVE, collective=make_collective("别的集体", "金融", "上海"))
    else:
        user = make_user(Role(who))
    sign_in(client, user)
    assert client.get(f"/collectives/{collective.id}/edit").status_code == 403
    response = client.post(
        f"/collectives/{collective.id}/edit",
        data={"csrf_token": page_csrf_token(client), "promise": "篡改", "supervision_channel": ""},
    )
    assert response.status_code == 403
    db.session.refresh(collective)
    assert collective.promise == "首末班车准点服务"


def test_anonymous_visitors_are_sent_to_log_in(client, collective):
    response = client.get(f"/collectives/{collective.id}/edit")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_an_admin_may_edit_any_profile(collective, make_user):
    update_collective_profile(collective, make_user(Role.ADMIN), promise="管理员改", supervision_channel="")
    assert collective.promise == "管理员改"


def test_the_api_gives_the_profile_with_a_null_badge(client, collective):
    response = client.get(f"/api/v1/collectives/{collective.id}")
    assert response.status_code == 200
    assert response.json == {
        "id": collective.id,
        "name": "北京地铁某站青年文明号",
        "industry": "交通运输",
        "province": "北京",
        "level": "provincial",
        "badge": None,
        "promise": "首末班车准点服务",
        "supervision_channel": "监督电话 010-0000",
    }


def test_the_api_gives_the_badge_url(client, collective, member):
    set_collective_badge(collective, member, jpeg_bytes())
    badge = client.get(f"/api/v1/collectives/{collective.id}").json["badge"]
    assert badge.endswith(collective.badge_key)
    response = client.get(badge)
    response.close()  # send_file keeps the file open until the response is closed
    assert response.status_code == 200


def test_the_api_answers_404_in_the_error_shape(client):
    response = client.get("/api/v1/collectives/999")
    assert response.status_code == 404
    assert response.json["error"]["code"] == "not_found"
