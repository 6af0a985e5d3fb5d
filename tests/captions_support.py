"""Captions and transcoded videos for the caption, playlist and browser tests: a video work run
through the real pipeline (upload session, parts, completion, the transcode job in this process),
caption files as tools write them, and where a work's caption files are in storage."""

from __future__ import annotations

import io
from pathlib import Path

from app.extensions import db
from app.media.transcodes import source_asset
from app.media.uploads import complete_upload, create_upload, part_count, put_part
from app.models import Work, WorkStatus
from app.storage import LocalStorage, S3Storage, get_storage
from media_worker.jobs import transcode_asset
from tests.builders_support import make_work
from tests.media_samples import make_clip

CRLF_BOM_SRT = (
    "\ufeff1\r\n00:00:00,000 --> 00:00:10,000\r\n站台上的温暖守候\r\n\r\n"
    "2\r\n00:00:10,000 --> 00:00:12,500\r\n第二句\r\n"
).encode()


def srt(*cues: tuple[str, str, str]) -> bytes:
    """An SRT file (UTF-8, LF) of (start, end, text) cues, numbered in the order given."""
    blocks = [f"{n}\n{start} --> {end}\n{text}\n" for n, (start, end, text) in enumerate(cues, start=1)]
    return "\n".join(blocks).encode()


def transcoded_video(
    collective, campaign, author, folder: Path, *, seconds: int = 4, status="published"
) -> Work:
    """A video work whose generated clip went through the real upload and transcode."""
    work = make_work(collective, campaign, title="站台上的温暖守候", kind="video", status="draft")
    clip = make_clip(folder / "clip.mp4", width=320, height=180, seconds=seconds)
    data = clip.read_bytes()
    session = create_upload(work.id, author, filename="clip.mp4", size=len(data), content_type="video/mp4")
    parts = []
    for number in range(1, part_count(session) + 1):
        chunk = data[(number - 1) * session.part_size : number * session.part_size]
        parts.append({"number": number, "etag": put_part(session, number, io.BytesIO(chunk))})
    work = complete_upload(session, author, parts)
    transcode_asset(source_asset(work).id)
    db.session.expire_all()
    work = db.session.get(Work, work.id)
    work.status = WorkStatus(status)
    db.session.commit()
    return work


def caption_files(work_id: int) -> list[str]:
    """The keys of every stored caption file of the work, whichever backend holds them."""
    storage = get_storage()
    prefix = f"works/{work_id}/captions/"
    if isinstance(storage, LocalStorage):
        root = storage.root / prefix
        return sorted(p.relative_to(storage.root).as_posix() for p in root.rglob("*") if p.is_file())
    assert isinstance(storage, S3Storage)
    listed = storage.client.list_objects_v2(Bucket=storage.bucket, Prefix=prefix)
    return sorted(item["Key"] for item in listed.get("Contents", []))
