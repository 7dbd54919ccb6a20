"""Product descriptions are Markdown written by staff or imported from suppliers' files:
rendered to HTML, then cleaned against an allowlist, so nothing in a description can run
on the storefront (the HTML goes straight into a product page)."""

from __future__ import annotations

import html

import nh3
from markdown_it import MarkdownIt

# Raw HTML in the source is shown as text, never passed through; tables are on because
# specification sheets come as tables.
_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable("table")

ALLOWED_TAGS = {
    "p",
    "br",
    "strong",
    "em",
    "code",
    "pre",
    "blockquote",
    "ul",
    "ol",
    "li",
    "a",
    "hr",
    "img",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "th": {"align"},
    "td": {"align"},
}
ALLOWED_URL_SCHEMES = {"http", "https", "mailto"}
SUMMARY_LENGTH = 160  # what search engines show of a meta description


def _render(text: str) -> str:
    """Markdown to (not yet cleaned) HTML, headings one level down: the product name is
    the page's h1, so a description's "# Care" becomes an h2."""
    tokens = _markdown.parse(text)
    for token in tokens:
        if token.type in ("heading_open", "heading_close"):
            token.tag = f"h{min(6, int(token.tag[1]) + 1)}"
    return _markdown.renderer.render(tokens, _markdown.options, {})


def markdown_to_safe_html(text: str | None) -> str:
    """Safe HTML for a Markdown text: only allowlisted tags and attributes, links and
    images only to web and mail addresses (so no `javascript:` URL survives)."""
    if not text:
        return ""
    return nh3.clean(
        _render(text),
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=ALLOWED_URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )


def markdown_summary(text: str | None, length: int = SUMMARY_LENGTH) -> str:
    """The description as one line of plain text, cut at a word before `length`
    characters: the fallback meta description of a product without one."""
    if not text:
        return ""
    plain = html.unescape(nh3.clean(_render(text), tags=set()))
    words = " ".join(plain.split())
    if len(words) <= length:
        return words
    cut = words[: length - 1].rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:.") + "…"
