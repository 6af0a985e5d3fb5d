"""Checking and converting a subtitle file (app/media/caption_format.py): the rules of
docs/captions.md on bytes, with no storage or database involved."""

from __future__ import annotations

import pytest

from app.media.caption_format import CaptionError, clean_text, convert


@pytest.fixture(autouse=True)
def _context(app):
    """The messages are translated (Flask-Babel): an app context, as in a request."""
    with app.test_request_context():
        yield


def test_utf16_with_a_bom_is_read():
    text, cues = convert("1\n00:00:01,000 --> 00:00:02,000\n你好\n".encode("utf-16"))
    assert cues == 1 and "你好" in text


def test_a_lone_cr_ends_a_line_as_crlf_does():
    text, _ = convert(b"1\r00:00:01,000 --> 00:00:02,000\rhi\r")
    assert text == "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nhi\n"


def test_timestamps_without_hours_and_with_short_millis_are_read():
    text, _ = convert(b"WEBVTT\n\n01:02.5 --> 01:03.25\nx\n")
    assert "00:01:02.500 --> 00:01:03.250" in text


def test_an_empty_file_is_refused():
    with pytest.raises(CaptionError, match="空的"):
        convert(b"  \n\n")


def test_a_header_that_only_looks_like_webvtt_is_refused():
    with pytest.raises(CaptionError) as caught:
        convert(b"WEBVTTX\n\n00:01.000 --> 00:02.000\nx\n")
    assert caught.value.line == 1


def test_a_control_character_names_its_line():
    with pytest.raises(CaptionError) as caught:
        convert(b"1\n00:00:01,000 --> 00:00:02,000\nok\x07\n")
    assert caught.value.line == 3


def test_bytes_in_no_known_encoding_are_refused():
    with pytest.raises(CaptionError, match="编码"):
        convert(b"1\n00:00:01,000 --> 00:00:02,000\n\xff\xfe\xfd\x80\n")


def test_more_than_24_hours_is_refused():
    with pytest.raises(CaptionError, match="24"):
        convert(b"1\n23:59:00,000 --> 99:00:00,000\nx\n")


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (["<i>斜体</i>"], "斜体"),
        (["<v.loud 站长>大家好</v>"], "大家好"),
        (["<style>p{}</style>看"], "看"),
        (["&lt;script&gt;"], "&lt;script&gt;"),  # text that says <script>, escaped, not a tag
        (["a --> b"], "a --&gt; b"),  # a cue's text may not hold "-->"
        (["  第一行 ", "", "第二行"], "第一行\n第二行"),
        (["<img src=x onerror=alert(1)>"], ""),
    ],
)
def test_cue_text_becomes_plain_escaped_text(lines, expected):
    assert clean_text(lines) == expected
