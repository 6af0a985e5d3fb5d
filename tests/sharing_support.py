"""What a shared link shows, read back as a crawler or a phone would: the page's head (its meta
and link tags) and the QR codes, from a screenshot or from the inline SVG a poster serves."""

from __future__ import annotations

import io
import re
from html.parser import HTMLParser

import zxingcpp
from PIL import Image

# The dark modules are the stroked path; a filled one, if any, is the light background.
_SVG = re.compile(
    r'<svg[^>]*viewBox="0 0 (\d+) (\d+)"[^>]*>.*?<path[^>]*\sstroke="[^"]+"[^>]*\sd="([^"]+)"', re.S
)
_STEP = re.compile(r"([MmHh])\s*(-?[\d.]+)(?:[\s,]+(-?[\d.]+))?")


def decode_qr_image(image: Image.Image) -> list[str]:
    return [result.text for result in zxingcpp.read_barcodes(image)]


def decode_qr_png(data: bytes) -> list[str]:
    return decode_qr_image(Image.open(io.BytesIO(data)).convert("L"))


def rasterize_qr_svg(html: str, scale: int = 8) -> Image.Image:
    """Draw the first inline SVG QR code of `html` as pixels.

    segno draws each row of dark modules as 1-unit-wide horizontal strokes along y + 0.5
    (M/m moves, h lines); replaying them is a faithful rendering, without an SVG library.
    """
    match = _SVG.search(html)
    assert match, "no inline SVG QR code in the page"
    width, height, path = int(match[1]), int(match[2]), match[3]
    image = Image.new("L", (width * scale, height * scale), 255)
    x = y = 0.0
    for command, a, b in _STEP.findall(path):
        if command == "M":
            x, y = float(a), float(b)
        elif command == "m":
            x, y = x + float(a), y + float(b)
        else:
            end = float(a) if command == "H" else x + float(a)
            top = round((y - 0.5) * scale)
            image.paste(0, (round(min(x, end) * scale), top, round(max(x, end) * scale), top + scale))
            x = end
    return image


def decode_qr_svg(html: str) -> list[str]:
    return decode_qr_image(rasterize_qr_svg(html))


class _Head(HTMLParser):
    """The <meta> and <link> tags of a page, as a browser or a link-preview crawler reads them."""

    def __init__(self) -> None:
        super().__init__()
        self.meta: dict[str, str] = {}
        self.links: dict[str, str] = {}

    def handle_starttag(self, tag, attrs):
        values = dict(attrs)
        if tag == "meta" and "content" in values:
            self.meta[values.get("property") or values.get("name")] = values["content"]
        elif tag == "link" and "rel" in values:
            self.links[values["rel"]] = values.get("href")


def head_of(response) -> _Head:
    assert response.status_code == 200
    parser = _Head()
    parser.feed(response.get_data(as_text=True))
    return parser
