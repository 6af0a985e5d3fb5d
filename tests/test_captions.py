"""Captions (app/media/captions.py, docs/captions.md): a collective adds, replaces and removes one
WebVTT per language on its film or video through API v1 and the captions page; what it sends is
checked and converted before anything is stored, and a bad file, a wrong language or someone
else's work gets a clear answer with nothing stored half-way (rows and files both checked, on
LocalStorage and on the moto S3 endpoint)."""

from __future__ import annotations

import io

import pytest
import sqlalchemy as sa

from app import redis_keys
from app.engagement import services as engagement
from app.engagement.scoring import Ranking
from app.extensions import db, redis_client
from app.models import AssetRole, AssetStatus, Caption, MediaAsset, WorkStatus
from app.storage import get_storage
from tests.builders_support import make_work
from tests.captions_support import CRLF_BOM_SRT, caption_files, srt
from tests.engagement_support import all_at_once
from tests.s3_server import make_s3_storage, s3_endpoint  # noqa: F401
from tests.sign_in_support import bearer, page_csrf_token, sign_in

SRT = "application/x-subrip"
VTT = "text/vtt"


@pytest.fixture(params=["local", "s3"])
def store(request, media_app):
    """The storage the captions go to: the app's LocalStorage, or a fresh bucket on moto."""
    if request.param == "s3":
        storage = make_s3_storage(request.getfixturevalue("s3_endpoint"))
        storage.ensure_bucket()
        media_app.extensions["storage"] = storage
    return request.param


@pytest.fixture
def film(people):
    return make_work(
        people["collective"], people["campaign"], title="微电影", kind="film", status="pending_review"
    )


def put(app, user, work_id: int, data: bytes, lang: str = "zh-CN", content_type: str = SRT):
    return app.test_client().put(
        f"/api/v1/works/{work_id}/captions/{lang}",
        data=data,
        headers={**bearer(user), "Content-Type": content_type},
    )


def url_of(app, key: str) -> str:
    """The URL the app gives a stored file, without its query.

    S3 URLs are presigned with the current second in the query, so two URLs for one key signed a
    second apart differ there; the path is what says which file it is.
    """
    with app.test_request_context():
        return unsigned(get_storage().url(key))


def unsigned(url: str) -> str:
    return url.split("?", 1)[0]


def stored_text(work_id: int, lang: str = "zh-CN") -> str:
    caption = db.session.scalar(sa.select(Caption).where(Caption.work_id == work_id, Caption.lang == lang))
    return get_storage().get(caption.storage_key).decode("utf-8")


def rows(work_id: int) -> list[Caption]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(Caption).where(Caption.work_id == work_id)))


def assert_nothing_stored(work_id: int) -> None:
    assert rows(work_id) == [] and caption_files(work_id) == []


# --------------------------------------------------------------------------------------------
# What is accepted, and what it becomes.


def test_an_srt_with_crlf_and_a_bom_is_stored_as_webvtt(media_app, store, people, film):
    response = put(media_app, people["owner"], film.id, CRLF_BOM_SRT)

    assert response.status_code == 200, response.json
    caption = response.json["caption"]
    assert (caption["lang"], caption["label"]) == ("zh-CN", "简体中文")
    assert stored_text(film.id) == (
        "WEBVTT\n\n00:00:00.000 --> 00:00:10.000\n站台上的温暖守候\n\n00:00:10.000 --> 00:00:12.500\n第二句\n"
    )
    (key,) = caption_files(film.id)
    assert key.endswith("/zh-CN.vtt") and url_of(media_app, key) == unsigned(caption["url"])


def test_gb18030_is_detected_and_converted_to_utf8(media_app, people, film):
    data = srt(("00:00:01,000", "00:00:02,000", "青年文明号：服务暖人心")).decode().encode("gb18030")

    assert put(media_app, people["owner"], film.id, data).status_code == 200
    assert "青年文明号：服务暖人心" in stored_text(film.id)


def test_webvtt_keeps_its_cues_and_drops_notes_styles_and_settings(media_app, people, film):
    data = (
        "WEBVTT - 字幕\n\nNOTE 校对：小王\n\nSTYLE\n::cue { color: red }\n\n"
        "intro\n00:01.000 --> 00:02.000 line:0 position:10%\n<v 站长>欢迎 &amp; 感谢</v>\n"
    ).encode()

    assert put(media_app, people["owner"], film.id, data, content_type=VTT).status_code == 200
    assert stored_text(film.id) == "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\n欢迎 &amp; 感谢\n"


def test_out_of_order_cues_are_sorted_by_start(media_app, people, film):
    data = srt(("00:00:05,000", "00:00:06,000", "后"), ("00:00:01,000", "00:00:02,000", "前"))

    put(media_app, people["owner"], film.id, data)
    text = stored_text(film.id)
    assert text.index("前") < text.index("后")


def test_overlapping_cues_are_kept_and_an_exact_repeat_kept_once(media_app, people, film):
    data = srt(
        ("00:00:01,000", "00:00:04,000", "甲说"),
        ("00:00:02,000", "00:00:03,000", "乙同时说"),
        ("00:00:01,000", "00:00:04,000", "甲说"),
    )

    put(media_app, people["owner"], film.id, data)
    assert stored_text(film.id) == (
        "WEBVTT\n\n00:00:01.000 --> 00:00:04.000\n甲说\n\n00:00:02.000 --> 00:00:03.000\n乙同时说\n"
    )


def test_script_and_event_handler_markup_is_stripped_to_plain_text(media_app, people, film):
    data = srt(
        ("00:00:01,000", "00:00:02,000", "<script>alert(document.cookie)</script>你好"),
        ("00:00:02,000", "00:00:03,000", '<b onmouseover="alert(1)">加粗</b> a < b'),
    )

    put(media_app, people["owner"], film.id, data)
    text = stored_text(film.id)
    assert "script" not in text and "alert" not in text and "onmouseover" not in text and "<b" not in text
    assert "\n你好\n" in text and "\n加粗 a &lt; b\n" in text


# --------------------------------------------------------------------------------------------
# What is refused: a clear answer, nothing stored.


def test_a_2_mb_file_is_refused_as_too_large(media_app, store, people, film):
    line = "00:00:01,000 --> 00:00:02,000\n" + "字" * 100 + "\n\n"
    data = (line * (2 * 1024 * 1024 // len(line.encode()) + 1)).encode()

    response = put(media_app, people["owner"], film.id, data)
    assert response.status_code == 413 and response.json["error"]["code"] == "caption_too_large"
    assert "1 MB" in response.json["error"]["message"]
    assert_nothing_stored(film.id)


def test_a_binary_file_is_refused(media_app, store, people, film):
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 8

    response = put(media_app, people["owner"], film.id, png)
    assert response.status_code == 422 and response.json["error"]["code"] == "invalid_caption"
    assert "二进制" in response.json["error"]["message"]
    assert_nothing_stored(film.id)


@pytest.mark.parametrize(
    ("data", "line"),
    [
        (b"1\n00:00:01,000 --> 00:00:02,000\nok\n\n2\n00:00:03,000 -> 00:00:04,000\nbad\n", 6),
        (b"1\n00:00:05,000 --> 00:00:04,000\nends before it starts\n", 2),
        (b"1\n00:61:00,000 --> 00:62:00,000\nno such minute\n", 2),
        (b"just some words\nand more\n", 2),
    ],
)
def test_a_bad_file_is_refused_naming_its_line(media_app, people, film, data, line):
    response = put(media_app, people["owner"], film.id, data)

    assert response.status_code == 422
    error = response.json["error"]
    assert error["code"] == "invalid_caption" and f"第 {line} 行" in error["message"]
    assert error["fields"]["line"] == str(line)
    assert_nothing_stored(film.id)


def test_a_file_with_no_cue_left_is_refused(media_app, people, film):
    response = put(media_app, people["owner"], film.id, srt(("00:00:01,000", "00:00:02,000", "<b></b>")))
    assert response.status_code == 422 and "没有找到任何字幕" in response.json["error"]["message"]


def test_a_wrong_language_code_is_refused(media_app, store, people, film):
    response = put(media_app, people["owner"], film.id, CRLF_BOM_SRT, lang="zh-TW")

    assert response.status_code == 400 and response.json["error"]["code"] == "unsupported_language"
    assert "zh-CN" in response.json["error"]["message"]
    assert_nothing_stored(film.id)


def test_a_body_that_is_not_a_subtitle_type_is_refused(media_app, people, film):
    response = put(media_app, people["owner"], film.id, b"{}", content_type="application/json")
    assert response.status_code == 415 and response.json["error"]["code"] == "unsupported_media_type"


@pytest.mark.parametrize(("status", "expected"), [("published", 403), ("pending_review", 404)])
def test_another_collectives_work_is_refused_as_the_ownership_rules_say(
    media_app, store, people, status, expected
):
    work = make_work(people["collective"], people["campaign"], kind="video", status=status)

    response = put(media_app, people["stranger"], work.id, CRLF_BOM_SRT)
    assert response.status_code == expected
    assert_nothing_stored(work.id)
    deleted = media_app.test_client().delete(
        f"/api/v1/works/{work.id}/captions/zh-CN", headers=bearer(people["stranger"])
    )
    assert deleted.status_code == expected


def test_a_viewer_signed_out_is_asked_to_sign_in(media_app, people, film):
    response = media_app.test_client().put(
        f"/api/v1/works/{film.id}/captions/zh-CN", data=CRLF_BOM_SRT, headers={"Content-Type": SRT}
    )
    assert response.status_code == 401


def test_a_story_takes_no_captions(media_app, people):
    story = make_work(people["collective"], people["campaign"], kind="story", status="draft")
    response = put(media_app, people["owner"], story.id, CRLF_BOM_SRT)
    assert response.status_code == 409 and response.json["error"]["code"] == "not_captionable"


def test_a_store_that_is_down_stores_nothing_and_says_so(media_app, people, film):
    media_app.extensions["storage"] = make_s3_storage("http://127.0.0.1:9", max_attempts=1)  # nothing listens

    response = put(media_app, people["owner"], film.id, CRLF_BOM_SRT)
    assert response.status_code == 503 and response.json["error"]["code"] == "storage_unavailable"
    assert rows(film.id) == []


# --------------------------------------------------------------------------------------------
# Replace, remove, review.


def test_replacing_keeps_one_row_and_only_the_new_file(media_app, store, people, film):
    put(media_app, people["owner"], film.id, srt(("00:00:01,000", "00:00:02,000", "旧")))
    first = caption_files(film.id)
    put(media_app, people["owner"], film.id, srt(("00:00:01,000", "00:00:02,000", "新")))

    (row,) = rows(film.id)
    assert caption_files(film.id) == [row.storage_key] != first
    assert "新" in stored_text(film.id)


def test_two_uploads_at_once_leave_one_row_and_its_file(media_app, store, people, film):
    statuses = []

    def upload(text: str):
        return lambda: statuses.append(
            put(media_app, people["owner"], film.id, srt(("00:00:01,000", "00:00:02,000", text))).status_code
        )

    assert all_at_once(media_app, [upload("甲"), upload("乙")]) == []
    assert statuses == [200, 200]
    (row,) = rows(film.id)
    assert caption_files(film.id) == [row.storage_key]


def test_each_language_is_its_own_caption(media_app, people, film):
    put(media_app, people["owner"], film.id, CRLF_BOM_SRT, lang="zh-CN")
    put(media_app, people["owner"], film.id, srt(("00:00:01,000", "00:00:02,000", "Hello")), lang="en")

    assert sorted(row.lang.value for row in rows(film.id)) == ["en", "zh-CN"]


def test_delete_removes_the_row_and_the_file_and_repeating_it_changes_nothing(media_app, store, people, film):
    put(media_app, people["owner"], film.id, CRLF_BOM_SRT)
    client = media_app.test_client()
    url = f"/api/v1/works/{film.id}/captions/zh-CN"

    assert client.delete(url, headers=bearer(people["owner"])).status_code == 204
    assert_nothing_stored(film.id)
    assert client.delete(url, headers=bearer(people["owner"])).status_code == 204


def test_a_caption_change_sends_a_published_work_back_to_review(media_app, people):
    work = make_work(people["collective"], people["campaign"], kind="video", status="published")

    put(media_app, people["owner"], work.id, CRLF_BOM_SRT)
    db.session.expire_all()
    assert work.status == WorkStatus.PENDING_REVIEW


def test_a_published_work_sent_back_to_review_leaves_the_rankings(media_app, people):
    work = make_work(people["collective"], people["campaign"], kind="video", status="published")
    engagement.work_published(work)
    ranking = Ranking.of("likes").key()
    assert redis_client.client.zscore(ranking, redis_keys.member(work.id)) == 0

    put(media_app, people["owner"], work.id, CRLF_BOM_SRT)
    assert redis_client.client.zscore(ranking, redis_keys.member(work.id)) is None


def test_a_caption_change_leaves_a_work_in_review_where_it_is(media_app, people, film):
    put(media_app, people["owner"], film.id, CRLF_BOM_SRT)
    db.session.expire_all()
    assert film.status == WorkStatus.PENDING_REVIEW


# --------------------------------------------------------------------------------------------
# Where captions show: the API, the HLS master playlist, the review queue, the page.


def test_the_work_lists_its_captions_and_its_storyboard(media_app, people, film):
    put(media_app, people["owner"], film.id, CRLF_BOM_SRT)
    body = media_app.test_client().get(f"/api/v1/works/{film.id}", headers=bearer(people["owner"])).json

    assert [(c["lang"], c["label"]) for c in body["captions"]] == [("zh-CN", "简体中文")]
    assert body["storyboard"] is None  # no transcode yet


def _hls(work_id: int, master: str) -> MediaAsset:
    """An HLS asset whose stored master playlist is ``master`` (what the worker would write)."""
    key = f"works/{work_id}/v1-abc/hls/master.m3u8"
    get_storage().put(key, master.encode(), "application/vnd.apple.mpegurl")
    asset = MediaAsset(
        work_id=work_id, role=AssetRole.HLS, storage_key=key, duration=4.0, status=AssetStatus.READY
    )
    db.session.add(asset)
    db.session.commit()
    return asset


MASTER = (
    "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-INDEPENDENT-SEGMENTS\n"
    '#EXT-X-STREAM-INF:BANDWIDTH=500000,RESOLUTION=320x180,CODECS="avc1.64000d,mp4a.40.2"\n'
    "360p/index.m3u8\n"
)


def test_with_captions_the_master_playlist_carries_a_subtitle_group(media_app, people):
    work = make_work(people["collective"], people["campaign"], kind="video", status="published")
    _hls(work.id, MASTER)
    put(media_app, people["owner"], work.id, CRLF_BOM_SRT)
    client = media_app.test_client()

    hls_url = client.get(f"/api/v1/works/{work.id}", headers=bearer(people["owner"])).json["media"]["hls"]
    master = client.get(hls_url, headers=bearer(people["owner"])).get_data(as_text=True)
    assert '#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",NAME="简体中文",LANGUAGE="zh-CN"' in master
    assert 'SUBTITLES="subs"' in master
    assert url_of(media_app, f"works/{work.id}/v1-abc/hls/360p/index.m3u8") in master

    subtitles_url = master.split('URI="')[1].split('"')[0]
    playlist = client.get(subtitles_url, headers=bearer(people["owner"])).get_data(as_text=True)
    assert "#EXT-X-PLAYLIST-TYPE:VOD" in playlist and "#EXTINF:4.000," in playlist
    assert rows(work.id)[0].storage_key.rsplit("/", 1)[1] in playlist


def test_without_captions_the_stored_master_playlist_is_used(media_app, people):
    work = make_work(people["collective"], people["campaign"], kind="video", status="published")
    asset = _hls(work.id, MASTER)
    body = media_app.test_client().get(f"/api/v1/works/{work.id}").json
    assert unsigned(body["media"]["hls"]) == url_of(media_app, asset.storage_key) and body["captions"] == []


def test_moderators_see_the_captions_in_the_review_queue(media_app, people, film):
    key = f"works/{film.id}/v1-abc/360p.mp4"
    mp4 = MediaAsset(work_id=film.id, role=AssetRole.MP4_360, storage_key=key, status=AssetStatus.READY)
    db.session.add(mp4)
    db.session.commit()
    put(media_app, people["owner"], film.id, CRLF_BOM_SRT)
    client = media_app.test_client()
    sign_in(client, people["moderator"])

    page = client.get("/moderation").get_data(as_text=True)
    assert "data-review-captions" in page and "简体中文（2 条）" in page
    (caption,) = rows(film.id)
    assert f'<track kind="subtitles" src="{url_of(media_app, caption.storage_key)}"' in page


# --------------------------------------------------------------------------------------------
# The captions page (a phone form with CSRF).


def test_the_owner_adds_and_removes_captions_on_the_captions_page(media_app, people, film):
    client = media_app.test_client()
    sign_in(client, people["owner"])
    page = client.get(f"/works/{film.id}/captions")
    assert page.status_code == 200 and "字幕文件" in page.get_data(as_text=True)
    token = page_csrf_token(client)

    added = client.post(
        f"/works/{film.id}/captions",
        data={"csrf_token": token, "lang": "en", "file": (io.BytesIO(CRLF_BOM_SRT), "en.srt")},
        follow_redirects=True,
    )
    assert "已保存“English”字幕，共 2 条" in added.get_data(as_text=True)
    removed = client.post(
        f"/works/{film.id}/captions/en/delete", data={"csrf_token": token}, follow_redirects=True
    )
    assert "字幕已删除" in removed.get_data(as_text=True)
    assert_nothing_stored(film.id)


def test_the_captions_page_says_which_line_is_wrong(media_app, people, film):
    client = media_app.test_client()
    sign_in(client, people["owner"])
    client.get(f"/works/{film.id}/captions")
    bad = b"1\n00:00:05,000 --> 00:00:04,000\nx\n"

    answer = client.post(
        f"/works/{film.id}/captions",
        data={"csrf_token": page_csrf_token(client), "lang": "zh-CN", "file": (io.BytesIO(bad), "a.srt")},
        follow_redirects=True,
    )
    assert "第 2 行：结束时间必须晚于开始时间" in answer.get_data(as_text=True)
    assert_nothing_stored(film.id)


def test_a_caption_form_without_csrf_is_refused(media_app, people, film):
    client = media_app.test_client()
    sign_in(client, people["owner"])
    answer = client.post(f"/works/{film.id}/captions/zh-CN/delete", data={})
    assert answer.status_code == 400


def test_another_collective_cannot_open_the_captions_page(media_app, people, film):
    client = media_app.test_client()
    sign_in(client, people["stranger"])
    assert client.get(f"/works/{film.id}/captions").status_code == 404


def test_a_moderator_cannot_change_captions(media_app, people, film):
    response = put(media_app, people["moderator"], film.id, CRLF_BOM_SRT)
    assert response.status_code == 403
