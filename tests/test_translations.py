"""English as well as Simplified Chinese: every message in the code and the templates has an
English translation in the compiled catalogue, and the language is chosen by the footer's
switch (remembered) or the browser's preference."""

from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
CATALOGUE = ROOT / "app/translations/en/LC_MESSAGES"
# Forms and labels built at import time use lazy_gettext, imported as _l.
KEYWORDS = {**DEFAULT_KEYWORDS, "_l": None, "lazy_gettext": None}


def _extracted() -> set[str]:
    with open(ROOT / "babel.cfg") as config:
        method_map, options_map = parse_mapping_cfg(config)
    ids = set()
    for _filename, _lineno, message, _comments, _context in extract_from_dir(
        ROOT, method_map, options_map, keywords=KEYWORDS
    ):
        ids.add(message[0] if isinstance(message, tuple) else message)
    return ids


@pytest.fixture(scope="module")
def extracted() -> set[str]:
    return _extracted()


@pytest.fixture(scope="module")
def compiled():
    mo = CATALOGUE / "messages.mo"
    if not mo.exists():
        pytest.fail("app/translations/en/LC_MESSAGES/messages.mo is missing: `make test` compiles it")
    with open(mo, "rb") as handle:
        return read_mo(handle)


def test_every_message_of_the_code_and_templates_has_an_english_translation(extracted, compiled):
    missing = sorted(m for m in extracted if not (compiled.get(m) and compiled.get(m).string))
    assert missing == [], f"{len(missing)} untranslated, e.g. {missing[:10]}"


def test_the_catalogue_has_no_fuzzy_or_broken_entries():
    with open(CATALOGUE / "messages.po", "rb") as handle:
        catalogue = read_po(handle)
    fuzzy = [m.id for m in catalogue if m.id and m.fuzzy]
    broken = [(m.id, [str(e) for e in errors]) for m, errors in catalogue.check()]
    assert fuzzy == [] and broken == []


def test_the_footer_switch_shows_english_and_remembers_it(client):
    first = client.get("/?lang=en")
    assert 'lang="en"' in first.get_data(as_text=True)
    assert "lang=en" in first.headers.get("Set-Cookie", "")
    again = client.get("/")
    assert 'lang="en"' in again.get_data(as_text=True)


def test_the_browser_language_picks_english(client):
    page = client.get("/", headers={"Accept-Language": "en-GB,en;q=0.9"}).get_data(as_text=True)
    assert 'lang="en"' in page


def test_simplified_chinese_stays_the_default(client):
    page = client.get("/", headers={"Accept-Language": "fr-FR"}).get_data(as_text=True)
    assert 'lang="zh-CN"' in page and "网络倡文明" in page


def test_pages_asked_in_turn_in_two_languages_each_speak_their_own(client):
    # Templates look the translations up once per render (app/templating.py): none may leak from
    # one render into the next on the same thread.
    for _ in range(3):
        english = client.get("/", headers={"Accept-Language": "en"}).get_data(as_text=True)
        chinese = client.get("/", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
        assert ">Search</button>" in english and ">搜索</button>" not in english
        assert ">搜索</button>" in chinese and ">Search</button>" not in chinese


def test_a_render_that_fails_leaves_no_language_to_the_next_request(app):
    # Templates look the translations up once per render (app/templating.py). A render that
    # raises never ends: the next request on this thread, whatever it renders, speaks its own.
    from flask import render_template_string

    from app.templating import _translations

    with app.app_context(), app.test_request_context("/", headers={"Accept-Language": "en"}):
        with pytest.raises(ZeroDivisionError):
            render_template_string("{{ _('搜索') }}{{ 1 // 0 }}")
        assert _translations().ugettext("搜索") == "Search"
    with app.app_context(), app.test_request_context("/", headers={"Accept-Language": "zh-CN"}):
        assert _translations().ugettext("搜索") == "搜索"
        assert render_template_string("{{ _('搜索') }}") == "搜索"


def test_the_browsers_weights_decide_between_our_languages(client):
    page = client.get("/", headers={"Accept-Language": "en;q=0.2, zh;q=0.9"}).get_data(as_text=True)
    assert 'lang="zh-CN"' in page
    page = client.get("/", headers={"Accept-Language": "zh;q=0.1, en;q=0.8"}).get_data(as_text=True)
    assert 'lang="en"' in page


@pytest.mark.parametrize(
    "header",
    [
        "zh-CN,zh-Hans;q=0.9,en;q=0.8",  # Safari on a Chinese iPhone with English added
        "zh-CN,en;q=0.9",
        "zh-Hans-CN,en-US;q=0.7,en;q=0.5",
        "zh_CN, en;q=0.5",
        "zh-TW,zh;q=0.9,en-US;q=0.8,en;q=0.7",
    ],
)
def test_a_browser_that_wants_chinese_first_gets_chinese_though_it_also_takes_english(client, header):
    page = client.get("/", headers={"Accept-Language": header}).get_data(as_text=True)
    assert 'lang="zh-CN"' in page


@pytest.mark.parametrize("header", ["en-US,en;q=0.9,zh-CN;q=0.8", "en-GB,zh-CN;q=0.5", "zh;q=0, en"])
def test_a_browser_that_wants_english_first_or_refuses_chinese_gets_english(client, header):
    page = client.get("/", headers={"Accept-Language": header}).get_data(as_text=True)
    assert 'lang="en"' in page


def test_a_browser_that_refuses_english_and_takes_anything_else_gets_chinese(client):
    page = client.get("/", headers={"Accept-Language": "en;q=0, *"}).get_data(as_text=True)
    assert 'lang="zh-CN"' in page


def test_a_malformed_or_huge_accept_language_falls_back_to_chinese(client):
    for header in (";;;q=x,,", "x" * 5000, "en;q=abc"):
        page = client.get("/", headers={"Accept-Language": header})
        assert page.status_code == 200 and 'lang="zh-CN"' in page.get_data(as_text=True)
