"""Story Markdown → safe HTML: markdown-it-py (raw HTML off) and then nh3 with an allow-list.

Two layers on purpose: markdown-it never emits raw HTML from the source, and nh3 removes anything
the renderer could still be talked into producing (a ``javascript:`` or ``data:`` URL, an unknown
attribute). Pictures enter a story through the upload form, which inserts ``![](url)`` of the
stored image; ``img src`` is therefore only kept when it is one of the work's own uploaded
images (``images``): a picture from another site would tell its owner who reads the story, and a
site-relative one (``![](/works/5)``) would make every reader request another page of ours (and
count a view of it).
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache, partial
from urllib.parse import urlsplit

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


def _resource(url: str) -> tuple[str, str, str]:
    """Scheme, host and path: what names a stored file (presigned S3 URLs differ only in query)."""
    parts = urlsplit(url.strip())
    return parts.scheme.lower(), parts.netloc.lower(), parts.path


def _filter_attribute(tag: str, attribute: str, value: str, images: frozenset) -> str | None:
    if tag == "img" and attribute == "src":
        return value if _resource(value) in images else None
    if attribute == "style":
        # markdown-it writes table alignment as style="text-align:…"; nothing else is kept.
        return value if value in {"text-align:left", "text-align:center", "text-align:right"} else None
    if tag == "code" and attribute == "class":
        return value if value.startswith("language-") and value[9:].isalnum() else None
    return value


def sanitize_html(html: str, images: Iterable[str] = ()) -> str:
    """Keep only the allow-listed tags, attributes and URL schemes, and pictures from `images`."""
    keep = partial(_filter_attribute, images=frozenset(_resource(url) for url in images))
    return nh3.clean(
        html,
        tags=set(ALLOWED_TAGS),
        clean_content_tags={"script", "style"},
        attributes={tag: set(attrs) for tag, attrs in ALLOWED_ATTRIBUTES.items()},
        attribute_filter=keep,
        url_schemes=set(URL_SCHEMES),
        link_rel=LINK_REL,
        strip_comments=True,
    )


def render_markdown(text: str, images: Iterable[str] = ()) -> str:
    """Render story Markdown to sanitised HTML, safe to insert into a page as is. Pictures are
    kept only when their URL is one of `images` (the work's own uploaded images)."""
    if not text or not text.strip():
        return ""
    return sanitize_html(_parser().render(text), images)
