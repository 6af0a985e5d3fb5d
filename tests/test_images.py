"""process_image: only real pictures within limits get through, re-encoded without metadata."""

from __future__ import annotations

import io

import pytest
from PIL import ExifTags, Image

from app.errors import ValidationFailed
from app.images import process_image
from tests.images_support import jpeg_bytes, png_bomb, png_bytes

MiB = 1024 * 1024
LIMITS = {"max_bytes": 10 * MiB, "max_pixels": 40_000_000}


def _open(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data))


# 10,000² trips Pillow's bomb warning (an error under pytest); 20,000² its DecompressionBombError.
@pytest.mark.parametrize("side", [10_000, 20_000])
def test_a_png_bomb_is_refused_before_decoding(side):
    bomb = png_bomb(side, side)
    assert len(bomb) < 100_000
    with pytest.raises(ValidationFailed, match="图片尺寸过大（最多 4000 万像素）"):
        process_image(io.BytesIO(bomb), **LIMITS)


def test_an_image_over_our_pixel_limit_but_under_pillows_is_refused():
    with pytest.raises(ValidationFailed, match="图片尺寸过大"):
        process_image(io.BytesIO(png_bomb(7_000, 7_000)), **LIMITS)


def test_a_text_file_named_jpg_is_refused():
    with pytest.raises(ValidationFailed, match="文件不是有效的图片"):
        process_image(io.BytesIO(b"just some text pretending to be photo.jpg\n" * 10), **LIMITS)


def test_a_truncated_jpeg_is_refused():
    with pytest.raises(ValidationFailed, match="文件不是有效的图片"):
        process_image(io.BytesIO(jpeg_bytes()[:300]), **LIMITS)


def test_an_empty_file_is_refused():
    with pytest.raises(ValidationFailed, match="文件不是有效的图片"):
        process_image(io.BytesIO(b""), **LIMITS)


class CountingStream(io.BytesIO):
    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.bytes_read = 0

    def read(self, size: int | None = -1) -> bytes:
        chunk = super().read(size)
        self.bytes_read += len(chunk)
        return chunk


def test_a_20_mb_image_is_refused_without_reading_it_all():
    stream = CountingStream(jpeg_bytes()[:-2] + b"\x00" * (20 * MiB) + b"\xff\xd9")
    with pytest.raises(ValidationFailed, match="图片太大，最大 10 MB"):
        process_image(stream, **LIMITS)
    assert stream.bytes_read == 10 * MiB + 1


def test_gps_exif_is_stripped_from_a_jpeg():
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "PhoneMaker"
    exif[ExifTags.IFD.GPSInfo] = {
        ExifTags.GPS.GPSLatitudeRef: "N",
        ExifTags.GPS.GPSLatitude: (39.0, 54.0, 27.0),
        ExifTags.GPS.GPSLongitudeRef: "E",
        ExifTags.GPS.GPSLongitude: (116.0, 23.0, 17.0),
    }
    original = jpeg_bytes(exif=exif.tobytes())
    assert _open(original).getexif().get_ifd(ExifTags.IFD.GPSInfo), "the fixture must carry GPS"

    result = process_image(io.BytesIO(original), **LIMITS)

    assert b"Exif" not in result.data and b"PhoneMaker" not in result.data
    assert not _open(result.data).getexif()
    assert not _open(result.thumb).getexif()


def test_exif_orientation_is_applied_before_it_is_stripped():
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6  # the camera was turned: display rotated 90°
    result = process_image(io.BytesIO(jpeg_bytes((400, 200), exif=exif.tobytes())), **LIMITS)
    assert (result.width, result.height) == (200, 400)
    assert _open(result.data).size == (200, 400)


def test_a_thumbnail_is_made_and_the_longest_side_is_capped():
    result = process_image(io.BytesIO(jpeg_bytes((3000, 1500))), **LIMITS)
    assert (result.width, result.height) == (2560, 1280)
    assert _open(result.thumb).size == (480, 240)
    assert (result.mime, result.ext) == ("image/jpeg", "jpg")


def test_a_png_with_transparency_stays_png():
    result = process_image(io.BytesIO(png_bytes(mode="RGBA", color=(0, 0, 0, 0))), **LIMITS)
    assert (result.mime, result.ext) == ("image/png", "png")
    assert _open(result.data).mode == "RGBA"


def test_an_opaque_png_becomes_jpeg():
    result = process_image(io.BytesIO(png_bytes()), **LIMITS)
    assert _open(result.data).format == "JPEG"


@pytest.mark.parametrize("fmt", ["WEBP", "GIF"])
def test_webp_and_gif_are_accepted(fmt):
    out = io.BytesIO()
    Image.new("RGB", (300, 200), (10, 200, 10)).save(out, fmt)
    result = process_image(io.BytesIO(out.getvalue()), **LIMITS)
    assert (result.width, result.height) == (300, 200)


def test_only_the_first_frame_of_an_animated_gif_is_kept():
    frames = [Image.new("RGB", (120, 80), color) for color in ((255, 0, 0), (0, 0, 255))]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    result = process_image(io.BytesIO(out.getvalue()), **LIMITS)
    red, green, blue = _open(result.data).convert("RGB").getpixel((60, 40))
    assert red > 200 and blue < 60
