"""Storage keys that cannot be guessed, and /media that neither leaves the media folder nor
serves an unpublished work's files to those who may not see the work."""

from __future__ import annotations

import io
import re

import pytest

from app.extensions import db
from app.media.keys import output_prefix
from app.media.uploads import create_upload
from app.models import Role
from app.storage import get_storage
from app.works import services as works
from tests.builders_support import make_work
from tests.images_support import jpeg_bytes
from tests.sign_in_support import sign_in

# secrets.token_urlsafe(16): 128 random bits in 22 URL-safe characters.
TOKEN = r"[A-Za-z0-9_-]{22}"
SECRET = b"instance secret: must never leave the server"


def test_two_uploads_get_different_unguessable_source_keys(app, collective, member, open_campaign):
    keys = []
    for title in ("第一部", "第二部"):
        work = make_work(collective, open_campaign, title=title, kind="video", status="draft")
        session = create_upload(
            work.id, member, filename="clip.mp4", size=6_000_000, content_type="video/mp4"
        )
        assert re.fullmatch(rf"works/{work.id}/source/{TOKEN}", session.storage_key)
        keys.append(session.storage_key.rsplit("/", 1)[1])
    assert keys[0] != keys[1]


def test_a_new_upload_of_the_same_work_gets_a_new_key(app, collective, member, open_campaign):
    work = make_work(collective, open_campaign, kind="video", status="draft")
    first = create_upload(work.id, member, filename="a.mp4", size=6_000_000, content_type="video/mp4")
    first_key = first.storage_key
    second = create_upload(work.id, member, filename="a.mp4", size=6_000_000, content_type="video/mp4")
    assert second.storage_key != first_key


def test_transcode_outputs_live_under_a_folder_as_unguessable_as_the_source(app):
    one = output_prefix(7, 3, "works/7/source/AAAAAAAAAAAAAAAAAAAAAA")
    other = output_prefix(7, 3, "works/7/source/BBBBBBBBBBBBBBBBBBBBBB")
    assert re.fullmatch(r"works/7/v3-[0-9a-f]{32}", one)
    assert one != other
    assert "AAAA" not in one  # the output's name does not give the source's key away


def test_story_images_get_unguessable_keys(app, collective, member, open_campaign):
    story = make_work(collective, open_campaign, status="draft")
    first = works.add_story_image(story, member, io.BytesIO(jpeg_bytes((64, 48))))
    second = works.add_story_image(story, member, io.BytesIO(jpeg_bytes((64, 48))))
    for asset in (first, second):
        assert re.fullmatch(rf"works/{story.id}/images/{TOKEN}\.jpg", asset.storage_key)
    assert first.storage_key != second.storage_key


# --- /media --------------------------------------------------------------------------------


@pytest.fixture
def stored(app, tmp_path):
    """A published work's file in the media folder, and a secret file just outside it."""
    (tmp_path / "secret.txt").write_bytes(SECRET)
    get_storage().put("collectives/1/badge.jpg", b"badge", "image/jpeg")
    return tmp_path


@pytest.mark.parametrize(
    "path",
    [
        "/media/../secret.txt",
        "/media/%2e%2e/secret.txt",
        "/media/collectives/%2e%2e/%2e%2e/secret.txt",
        "/media/collectives/..%2f..%2fsecret.txt",
        "/media/collectives\\..\\..\\secret.txt",
        "/media/collectives/%5c..%5c..%5csecret.txt",
        "/media//etc/passwd",
        "/media/%2fetc%2fpasswd",
        "/media/collectives/1/badge.jpg%00.txt",
        "/media/collectives/1/badge.jpg%00",
        "/media/.multipart/x",
        "/media/collectives/.hidden",
    ],
)
def test_traversal_attempts_are_refused_and_leak_nothing(client, stored, path):
    # Werkzeug answers "//" with a redirect to the single-slash path: followed, it is 404 too.
    response = client.get(path, follow_redirects=True)
    assert response.status_code in (400, 404), response.status_code
    assert SECRET not in response.data
    assert b"root:" not in response.data


def test_a_public_badge_is_served(client, stored):
    response = client.get("/media/collectives/1/badge.jpg")
    assert response.status_code == 200 and response.data == b"badge"
    response.close()


def test_keys_outside_the_known_folders_are_not_served(app, client):
    get_storage().put("elsewhere/file.txt", b"stray", "text/plain")
    assert client.get("/media/elsewhere/file.txt").status_code == 404


def _draft_file(collective, campaign):
    draft = make_work(collective, campaign, status="pending_review")
    key = f"works/{draft.id}/images/picture.jpg"
    get_storage().put(key, b"under review", "image/jpeg")
    return draft, f"/media/{key}"


def test_a_draft_s_files_are_404_to_the_public(client, collective, open_campaign):
    _draft, url = _draft_file(collective, open_campaign)
    assert client.get(url).status_code == 404


def test_a_draft_s_files_are_served_privately_to_its_collective(client, collective, member, open_campaign):
    _draft, url = _draft_file(collective, open_campaign)
    sign_in(client, member)
    response = client.get(url)
    assert response.status_code == 200 and response.data == b"under review"
    assert "private" in response.headers["Cache-Control"]
    response.close()


def test_a_draft_s_files_are_404_to_another_collective(
    client, make_collective, make_user, collective, open_campaign
):
    _draft, url = _draft_file(collective, open_campaign)
    outsider = make_user(Role.COLLECTIVE, collective=make_collective("上海银行青年文明号", "金融", "上海"))
    sign_in(client, outsider)
    assert client.get(url).status_code == 404


def test_a_published_work_s_files_are_public_and_cacheable(client, collective, open_campaign):
    work = make_work(collective, open_campaign)
    key = f"works/{work.id}/poster.jpg"
    get_storage().put(key, b"poster", "image/jpeg")
    response = client.get(f"/media/{key}")
    assert response.status_code == 200
    assert "private" not in response.headers.get("Cache-Control", "")
    response.close()


def test_a_work_withdrawn_after_publication_stops_being_served(client, collective, open_campaign):
    work = make_work(collective, open_campaign)
    key = f"works/{work.id}/poster.jpg"
    get_storage().put(key, b"poster", "image/jpeg")
    client.get(f"/media/{key}").close()
    work.status = "withdrawn"
    db.session.commit()
    assert client.get(f"/media/{key}").status_code == 404
