"""Story Markdown → safe HTML: markdown-it-py (raw HTML off) and then nh3 with an allow-list.

Two layers on purpose: markdown-it never emits raw HTML from the source, and nh3 removes anything
the renderer could still be talked into producing (a ``javascript:`` or ``data:`` URL, an unknown
attribute). Pictures enter a story through the upload form, which inserts ``![](url)`` of the
stored image; ``img src`` is therefore only allowed for http(s) and site-relative URLs.
"""

from __future__ import annotations

from functools import lru_cache

import nh3
from markdown_it import MarkdownIt

ALLOWED_TAGS = frozenset(
    {
        "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "em", "s", "del", "code",
        "pre", "blockquote", "ul", "ol", "li", "a", "img", "table", "thead", "tbody", "tr", "th",
        "td",
    }
)  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "ol": {"start"},
    "th": {"style"},
    "td": {"style"},
    "code": {"class"},
}
URL_SCHEMES = frozenset({"http", "https", "mailto"})
LINK_REL = "nofollow noopener"


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    # linkify stays off: it needs linkify-it-py, and bare URLs in a story are rare enough.
    return MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable(
        ["table", "strikethrough"]
    )


def _filter_attribute(tag: str, attribute: str, value: str) -> str | None:
    if tag == "img" and attribute == "src":
        lowered = value.strip().lower()
        if lowered.startswith(("http://", "https://")) or (
            lowered.startswith("/") and not lowered.startswith("//")
        ):
            return value
        return None
    if attribute == "style":
        # markdown-it writes table alignment as style="text-align:…"; nothing else is kept.
        return value if value in {"text-align:left", "text-align:center", "text-align:right"} else None
    if tag == "code" and attribute == "class":
        return value if value.startswith("language-") and value[9:].isalnum() else None
    return value


def sanitize_html(html: str) -> str:
    """Keep only the allow-listed tags, attributes and URL schemes."""
    return nh3.clean(
        html,
        tags=set(ALLOWED_TAGS),
        clean_content_tags={"script", "style"},
        attributes={tag: set(attrs) for tag, attrs in ALLOWED_ATTRIBUTES.items()},
        attribute_filter=_filter_attribute,
        url_schemes=set(URL_SCHEMES),
        link_rel=LINK_REL,
        strip_comments=True,
    )


def render_markdown(text: str) -> str:
    """Render story Markdown to sanitised HTML, safe to insert into a page as is."""
    if not text or not text.strip():
        return ""
    return sanitize_html(_parser().render(text))
