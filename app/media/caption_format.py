"""An uploaded subtitle file (SRT or WebVTT) checked and turned into one clean WebVTT.

Pure: bytes in, WebVTT text out, or :class:`CaptionError` naming the line at fault. Nothing is
stored here; ``app.media.captions`` stores the result only once this has accepted the file.

The rules (docs/captions.md says why):

- Encoding: UTF-8 with or without a byte-order mark; UTF-16 with its mark; otherwise GB18030
  (what Windows tools in China write; it includes GBK and GB2312). A file with NUL bytes or
  other control characters is not a subtitle file (a video or a picture sent by mistake).
- Line ends: CRLF and CR become LF.
- Format: a file starting ``WEBVTT`` is WebVTT, anything else is read as SRT; both accept
  ``,`` or ``.`` before the milliseconds and omitted hours, as the tools in the wild write them.
- Timestamps: minutes and seconds below 60, the end after the start, at most 24 hours.
- Order: cues are sorted by start (then end); out-of-order files are common after editing.
  Overlapping cues are kept as they are: WebVTT shows them stacked, which is how two people
  speaking at once are captioned. A cue repeated exactly (same times, same text) is kept once.
- Text: plain text only. Every tag is removed (``<script>`` with its content, ``<b onmouseover>``
  and WebVTT's own ``<i>``/``<v>`` keeping their text); the text is then escaped as WebVTT wants
  (``&``, ``<``, ``>``). A cue left without text is dropped. Cue settings (position, line) are
  dropped: the player places captions where it always does.
"""

from __future__ import annotations

import codecs
import dataclasses
import html
import re

import nh3
from flask_babel import gettext as _

MAX_SECONDS = 24 * 3600
_TIMESTAMP = r"(?:(\d{1,2}):)?([0-5]?\d):([0-5]?\d)[.,](\d{1,3})"
_TIMING_RE = re.compile(rf"^\s*{_TIMESTAMP}\s*-->\s*{_TIMESTAMP}(?:\s+.*)?$")
# C0 controls other than tab and line ends, and DEL: no subtitle has them, binaries do.
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class CaptionError(Exception):
    """The file cannot be used; ``line`` is the 1-based line at fault (0: the whole file)."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


@dataclasses.dataclass(frozen=True, order=True)
class Cue:
    start: float
    end: float
    text: str


def decode(data: bytes) -> str:
    """The file's text, whatever of the accepted encodings it was written in."""
    if not data.strip():
        raise CaptionError(0, _("字幕文件是空的。"))
    if data.startswith(codecs.BOM_UTF8):
        text = _strict(data[len(codecs.BOM_UTF8) :], "utf-8")
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        text = _strict(data, "utf-16")
    elif b"\x00" in data:
        raise CaptionError(0, _("这不是字幕文件（含有二进制内容），请上传 SRT 或 WebVTT 文本文件。"))
    else:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = _strict(data, "gb18030")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    bad = _CONTROL_RE.search(text)
    if bad:
        line = text.count("\n", 0, bad.start()) + 1
        raise CaptionError(line, _("这不是字幕文件（含有二进制内容），请上传 SRT 或 WebVTT 文本文件。"))
    return text


def _strict(data: bytes, encoding: str) -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError:
        raise CaptionError(0, _("无法识别字幕文件的编码，请保存为 UTF-8（或 GB18030）后重新上传。")) from None


def _seconds(hours: str | None, minutes: str, seconds: str, millis: str) -> float:
    return int(hours or 0) * 3600 + int(minutes) * 60 + int(seconds) + int(millis.ljust(3, "0")) / 1000


def _timing(line: str, number: int) -> tuple[float, float]:
    match = _TIMING_RE.match(line)
    if not match:
        raise CaptionError(
            number,
            _("第 %(n)s 行：时间轴格式不正确，应为“00:00:01,000 --> 00:00:03,500”。", n=number),
        )
    groups = match.groups()
    start, end = _seconds(*groups[:4]), _seconds(*groups[4:])
    if end <= start:
        raise CaptionError(number, _("第 %(n)s 行：结束时间必须晚于开始时间。", n=number))
    if end > MAX_SECONDS:
        raise CaptionError(number, _("第 %(n)s 行：时间超出范围（最长 24 小时）。", n=number))
    return start, end


def clean_text(lines: list[str]) -> str:
    """A cue's text as plain text escaped for WebVTT; '' when nothing readable is left."""
    raw = "\n".join(line.strip() for line in lines)
    # nh3 with no tag allowed drops every tag, and <script>/<style> with their content; what it
    # returns is HTML-escaped, so it is unescaped once to plain text, then escaped for WebVTT.
    plain = html.unescape(nh3.clean(raw, tags=set()))
    plain = "\n".join(line.strip() for line in plain.split("\n") if line.strip())
    return plain.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _blocks(lines: list[str]) -> list[tuple[int, list[str]]]:
    """Runs of non-blank lines with the 1-based number of their first line."""
    blocks, current, first = [], [], 0
    for number, line in enumerate(lines, start=1):
        if line.strip():
            if not current:
                first = number
            current.append(line)
        elif current:
            blocks.append((first, current))
            current = []
    if current:
        blocks.append((first, current))
    return blocks


def parse(text: str) -> list[Cue]:
    """The cues of an SRT or WebVTT text (decoded), sorted, deduplicated, sanitised."""
    lines = text.split("\n")
    is_vtt = lines[0].lstrip("\ufeff").startswith("WEBVTT")
    if is_vtt and lines[0].strip() not in ("WEBVTT",) and not re.match(r"^WEBVTT[ \t]", lines[0]):
        raise CaptionError(1, _("第 %(n)s 行：WebVTT 文件必须以“WEBVTT”开头。", n=1))
    cues = []
    for first, block in _blocks(lines):
        if is_vtt and first == 1:
            continue  # the WEBVTT line and its header lines
        if is_vtt and block[0].split(maxsplit=1)[0] in ("NOTE", "STYLE", "REGION"):
            continue
        # An identifier (SRT's cue number, WebVTT's optional id) may come before the timing.
        timing_at = 0 if "-->" in block[0] else 1
        if timing_at >= len(block) or "-->" not in block[timing_at]:
            number = first + min(timing_at, len(block) - 1)
            message = _("第 %(n)s 行：这里应当是时间轴（例如“00:00:01,000 --> 00:00:03,500”）。", n=number)
            raise CaptionError(number, message)
        start, end = _timing(block[timing_at], first + timing_at)
        body = clean_text(block[timing_at + 1 :])
        if body:
            cues.append(Cue(start, end, body))
    if not cues:
        raise CaptionError(0, _("字幕文件里没有找到任何字幕。"))
    return sorted(set(cues))


def vtt_timestamp(seconds: float) -> str:
    """A WebVTT cue time, hh:mm:ss.ttt (also the storyboard index's, media_worker/storyboard.py)."""
    millis = round(seconds * 1000)
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}.{millis:03d}"


def to_webvtt(cues: list[Cue]) -> str:
    parts = ["WEBVTT", ""]
    for cue in cues:
        parts += [f"{vtt_timestamp(cue.start)} --> {vtt_timestamp(cue.end)}", cue.text, ""]
    return "\n".join(parts)


def convert(data: bytes) -> tuple[str, int]:
    """(WebVTT text, number of cues) for an uploaded SRT or WebVTT file; CaptionError if unusable."""
    cues = parse(decode(data))
    return to_webvtt(cues), len(cues)
