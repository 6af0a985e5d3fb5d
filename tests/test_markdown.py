"""render_markdown: Markdown becomes HTML from an allow-list, with nothing that can run."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from app.works.markdown import render_markdown, sanitize_html


class _Elements(HTMLParser):
    """The elements and attributes a browser would build from the HTML (text is ignored)."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))

    def attrs(self, tag: str, name: str) -> list[str | None]:
        return [attrs.get(name) for t, attrs in self.elements if t == tag and name in attrs]


def elements(html: str) -> _Elements:
    return _Elements(html)


def test_script_tags_do_not_become_elements():
    html = render_markdown("你好<script>alert('x')</script>")
    assert not [tag for tag, _ in elements(html).elements if tag == "script"]
    assert "&lt;script&gt;" in html  # shown as text, harmless


def test_script_elements_are_removed_with_their_content_by_the_sanitiser():
    assert sanitize_html("<p>a</p><script>alert(1)</script>") == "<p>a</p>"


def test_javascript_links_are_not_links():
    html = render_markdown("[点我](javascript:alert(1)) [再点](JaVaScRiPt:alert(1)) [空格]( javascript:x)")
    assert elements(html).attrs("a", "href") == []


def test_javascript_hrefs_are_removed_by_the_sanitiser():
    assert elements(sanitize_html('<a href="javascript:alert(1)">x</a>')).attrs("a", "href") == []


def test_onerror_attributes_are_dropped():
    html = render_markdown('<img src="x" onerror="alert(1)">')
    assert not any(name.startswith("on") for _, attrs in elements(html).elements for name in attrs)
    cleaned = sanitize_html('<img src="/a.png" onerror="alert(1)" onload="x()">', images=["/a.png"])
    assert cleaned == '<img src="/a.png">'


@pytest.mark.parametrize(
    "source",
    ["![x](data:image/png;base64,iVBORw0KGgo=)", "[x](data:text/html;base64,PHNjcmlwdD4=)"],
)
def test_data_urls_are_dropped(source):
    found = elements(render_markdown(source))
    assert all(
        not (v or "").startswith("data:") for v in found.attrs("img", "src") + found.attrs("a", "href")
    )


def test_links_get_nofollow_noopener():
    html = render_markdown("[团中央](https://www.gqt.org.cn) [邮件](mailto:a@example.com)")
    assert elements(html).attrs("a", "rel") == ["nofollow noopener", "nofollow noopener"]


OWN = "/media/works/1/images/ab.jpg"


def test_a_story_shows_only_its_own_uploaded_images():
    html = render_markdown(
        f"![本站]({OWN}) ![外站](https://c.example/b.png) ![别的作品](/works/5) ![x](//evil.example/x.png)",
        images=[OWN],
    )
    assert elements(html).attrs("img", "src") == [OWN]


def test_an_own_image_on_presigned_storage_matches_whatever_its_signature():
    stored = "https://s3.example.cn/bucket/works/1/images/ab.jpg?X-Amz-Signature=old"
    html = render_markdown(
        f"![图]({stored})", images=["https://s3.example.cn/bucket/works/1/images/ab.jpg?X-Amz-Signature=new"]
    )
    assert elements(html).attrs("img", "src") == [stored]


def test_without_uploaded_images_a_story_shows_no_picture():
    assert elements(render_markdown(f"![本站]({OWN})")).attrs("img", "src") == []


def test_ordinary_markdown_renders():
    html = render_markdown(
        "# 标题\n\n**加粗** 和 *强调*\n\n- 一\n- 二\n\n> 引用\n\n| 甲 | 乙 |\n|:--|--:|\n| 1 | 2 |"
    )
    for fragment in ("<h1>标题</h1>", "<strong>加粗</strong>", "<em>强调</em>", "<li>一</li>", "<blockquote>",
                     '<th style="text-align:left">甲</th>'):  # fmt: skip
        assert fragment in html


def test_empty_text_renders_nothing():
    assert render_markdown("   \n") == ""
