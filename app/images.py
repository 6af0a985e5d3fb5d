"""Uploaded pictures made safe: sniffed, bounded, re-encoded without metadata, thumbnailed.

Every picture a person uploads (story images, collective badges) goes through
:func:`process_image` before anything is stored, so what the site serves is always an image that
Pillow itself wrote: no EXIF (GPS positions of a colleague's home), no trailing payloads, no
polyglot files, and never more pixels than the limits allow.
"""

from __future__ import annotations

import io
import logging
import struct
import warnings
from dataclasses import dataclass
from typing import Any, BinaryIO

from flask import current_app
from flask_babel import gettext as _
from PIL import Image, ImageCms, ImageOps

from app.errors import ValidationFailed

log = logging.getLogger(__name__)

MAX_SIDE = 2560
THUMB_SIDE = 480
JPEG_QUALITY = 85
THUMB_QUALITY = 80

# Magic numbers of the formats we accept. The filename and the browser's content type are
# whatever the client says they are, so only the bytes decide.
_SIGNATURES: tuple[tuple[bytes, int, str], ...] = (
    (b"\xff\xd8\xff", 0, "JPEG"),
    (b"\x89PNG\r\n\x1a\n", 0, "PNG"),
    (b"GIF87a", 0, "GIF"),
    (b"GIF89a", 0, "GIF"),
)


@dataclass(frozen=True)
class ProcessedImage:
    """A re-encoded picture and its thumbnail, ready to store."""

    data: bytes
    thumb: bytes
    mime: str
    ext: str
    width: int
    height: int


def sniff_format(head: bytes) -> str | None:
    """The image format the leading bytes announce, or None when they are no image we accept."""
    for magic, offset, fmt in _SIGNATURES:
        if head[offset : offset + len(magic)] == magic:
            return fmt
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    return None


def _not_an_image() -> ValidationFailed:
    return ValidationFailed(_("文件不是有效的图片（支持 JPG、PNG、WebP、GIF）。"), code="invalid_image")


def _too_many_pixels(max_pixels: int) -> ValidationFailed:
    return ValidationFailed(
        _("图片尺寸过大（最多 %(mp)s 万像素）。", mp=max_pixels // 10_000),
        code="image_too_large",
    )


def _read_bounded(stream: BinaryIO | bytes, max_bytes: int) -> bytes:
    if isinstance(stream, bytes | bytearray):
        raw = bytes(stream[: max_bytes + 1])
    else:
        # One byte more than allowed is enough to know the file is too big; never read it all.
        raw = stream.read(max_bytes + 1)
    if len(raw) > max_bytes:
        limit = f"{max_bytes / (1024 * 1024):g}"
        raise ValidationFailed(_("图片太大，最大 %(mb)s MB。", mb=limit), code="image_too_large")
    if not raw:
        raise _not_an_image()
    return raw


def _has_transparency(img: Image.Image) -> bool:
    if img.mode in ("RGBA", "LA", "PA"):
        alpha = img.getchannel("A")
        return alpha.getextrema()[0] < 255
    return img.mode == "P" and "transparency" in img.info


def _to_srgb(img: Image.Image) -> Image.Image:
    """Convert to sRGB through the embedded ICC profile, so colours survive dropping the profile."""
    icc = img.info.get("icc_profile")
    if not icc or img.mode not in ("RGB", "RGBA", "CMYK"):
        return img
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        target = ImageCms.createProfile("sRGB")
        mode = "RGBA" if img.mode == "RGBA" else "RGB"
        converted = ImageCms.profileToProfile(img, source, target, outputMode=mode)
        return converted if converted is not None else img
    except (ImageCms.PyCMSError, OSError, ValueError) as exc:
        # A broken profile is not worth refusing the picture for: keep the pixels as they are.
        log.info("ignoring unusable ICC profile: %s", exc)
        return img


def _encode(img: Image.Image, fmt: str, quality: int) -> bytes:
    out = io.BytesIO()
    # Nothing from the source's info dict (EXIF, XMP, ICC, text chunks, comments) is passed on.
    img.info = {}
    if fmt == "PNG":
        # zlib level 6: optimize=True (level 9) costs several times the CPU for a few percent.
        img.save(out, "PNG", compress_level=6)
    else:
        img.save(out, "JPEG", quality=quality, optimize=True, progressive=True)
    return out.getvalue()


def process_image(
    stream: BinaryIO | bytes,
    *,
    max_bytes: int,
    max_pixels: int,
    max_side: int = MAX_SIDE,
    thumb_side: int = THUMB_SIDE,
) -> ProcessedImage:
    """Check and re-encode an uploaded picture; raise ValidationFailed with a Chinese message.

    JPEG comes out for photos; PNG only when the picture really uses transparency. WebP and GIF
    are accepted (first frame). The longest side is capped at ``max_side``; the thumbnail's at
    ``thumb_side``.
    """
    raw = _read_bounded(stream, max_bytes)
    fmt = sniff_format(raw[:16])
    if fmt is None:
        raise _not_an_image()

    try:
        with warnings.catch_warnings():
            # Pillow warns (and pytest errors) above its own bomb limit and raises at twice it;
            # both mean the same thing to us.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(raw), formats=[fmt])
            width, height = img.size
            # The header gives the size before any pixel is decoded: refuse bombs here.
            if width <= 0 or height <= 0:
                raise _not_an_image()
            if width * height > max_pixels:
                raise _too_many_pixels(max_pixels)
            img.seek(0)
            img.load()
            img = ImageOps.exif_transpose(img) or img
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise _too_many_pixels(max_pixels) from exc
    except ValidationFailed:
        raise
    except (OSError, SyntaxError, ValueError, EOFError, TypeError, struct.error) as exc:
        # Truncated, corrupt or lying files: Pillow reports them with any of these.
        raise _not_an_image() from exc

    img = _to_srgb(img)
    if _has_transparency(img):
        out_fmt, mime, ext = "PNG", "image/png", "png"
        img = img.convert("RGBA")
    else:
        out_fmt, mime, ext = "JPEG", "image/jpeg", "jpg"
        img = img.convert("RGB")

    img.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    thumb = img.copy()
    thumb.thumbnail((thumb_side, thumb_side), Image.Resampling.LANCZOS)
    return ProcessedImage(
        data=_encode(img, out_fmt, JPEG_QUALITY),
        thumb=_encode(thumb, out_fmt, THUMB_QUALITY),
        mime=mime,
        ext=ext,
        width=img.width,
        height=img.height,
    )


def process_upload(stream: BinaryIO | bytes, **kwargs: Any) -> ProcessedImage:
    """:func:`process_image` within the configured limits (MAX_IMAGE_BYTES, MAX_IMAGE_PIXELS)."""
    config = current_app.config
    return process_image(
        stream, max_bytes=config["MAX_IMAGE_BYTES"], max_pixels=config["MAX_IMAGE_PIXELS"], **kwargs
    )
