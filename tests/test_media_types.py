"""Stored media are served with their real types, whatever the host's mimetypes table says
(Debian maps .ts to Qt Linguist), because nosniff makes a browser believe the type (issue 17,
finding 8)."""

from __future__ import annotations

import pytest

from app.storage import get_storage
from tests.builders_support import make_campaign, make_work

TYPES = {
    "hls/360p/seg_00000.ts": "video/mp2t",
    "hls/master.m3u8": "application/vnd.apple.mpegurl",
    "hls/360p/seg_00001.m4s": "video/iso.segment",
    "captions/zh-CN.vtt": "text/vtt; charset=utf-8",
    "360p.mp4": "video/mp4",
    "poster.jpg": "image/jpeg",
    "images/cover.JPG": "image/jpeg",
    "notes.txt": "application/octet-stream",
    "README": "application/octet-stream",
}


@pytest.fixture
def work(make_collective):
    return make_work(make_collective(), make_campaign(), title="站台上的守候")


@pytest.mark.parametrize(("name", "media_type"), TYPES.items())
def test_each_kind_of_stored_file_is_served_with_its_own_type(client, work, name, media_type):
    key = f"works/{work.id}/v1-0123/{name}"
    get_storage().put(key, b"\x47" * 188, "application/octet-stream")
    response = client.get(f"/media/{key}")
    response.close()
    assert response.status_code == 200
    assert response.headers["Content-Type"] == media_type
    assert response.headers["X-Content-Type-Options"] == "nosniff"
