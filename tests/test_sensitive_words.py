"""The sensitive-word filter: normalisation, the shipped word list, caching and reloading."""

from __future__ import annotations

import os

import pytest

from app.engagement import sensitive


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("刷票", "刷票"),
        ("刷 票", "刷票"),
        ("刷-票", "刷票"),
        ("刷\u200b票", "刷票"),  # a zero-width space
        ("刷，。！票", "刷票"),
        ("加 ＶＸ", "加vx"),  # full-width letters
        ("ＡＢＣ１２３", "abc123"),
        ("Hello, World!", "helloworld"),
        ("刷🎉票", "刷票"),
    ],
)
def test_normalise_folds_width_and_case_and_drops_separators(text, expected):
    assert sensitive.normalise(text) == expected


@pytest.mark.parametrize(
    "comment",
    [
        "快来刷票啦",
        "刷 票 群",
        "刷-票",
        "代 刷 点 赞",
        "加 ＶＸ 领取",
        "加微信：abc",
        "真人荷官在线",
        "六.合.彩",
    ],
)
def test_the_shipped_list_catches_spam_and_its_disguises(app, comment):
    assert sensitive.find_sensitive(comment), comment


@pytest.mark.parametrize(
    "comment",
    [
        "这个作品太感人了，为地铁青年点赞！",
        "希望大家都来投票支持",
        "远离赌博，拒绝黄赌毒，从我做起",
        "办证大厅的服务真贴心",
        "上门服务的电力小哥辛苦了",
        "",
    ],
)
def test_ordinary_comments_pass(app, comment):
    assert sensitive.find_sensitive(comment) == []


def test_words_are_reported_once_in_order_of_appearance(app):
    assert sensitive.find_sensitive("刷票刷票，加微信，刷票") == ["刷票", "加微信"]


def test_the_list_file_ignores_comments_blank_lines_and_single_characters(tmp_path):
    words = tmp_path / "words.txt"
    words.write_text("# a comment\n\n刷票\n  刷 票 \n赌\nSPAM词\n", encoding="utf-8")
    assert sensitive.read_words(words) == ["刷票", "spam词"]


def test_the_matcher_is_cached_and_rebuilt_when_the_file_changes(app, tmp_path):
    words = tmp_path / "words.txt"
    words.write_text("第一词\n", encoding="utf-8")
    app.config["SENSITIVE_WORDS_FILE"] = str(words)
    first = sensitive.matcher()
    assert sensitive.matcher() is first
    assert sensitive.find_sensitive("含有第一词") == ["第一词"]

    words.write_text("第一词\n第二词\n", encoding="utf-8")
    stat = os.stat(words)
    os.utime(words, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert sensitive.find_sensitive("第二词来了") == ["第二词"]
    assert sensitive.matcher() is not first


def test_reload_rebuilds_from_the_file(app, tmp_path):
    words = tmp_path / "words.txt"
    words.write_text("旧词\n", encoding="utf-8")
    app.config["SENSITIVE_WORDS_FILE"] = str(words)
    before = sensitive.matcher()
    after = sensitive.reload()
    assert after is not before and after.size == 1


def test_an_empty_list_matches_nothing(app, tmp_path):
    words = tmp_path / "words.txt"
    words.write_text("# nothing yet\n", encoding="utf-8")
    app.config["SENSITIVE_WORDS_FILE"] = str(words)
    assert sensitive.find_sensitive("刷票") == []
