"""Model output as HTML the pages can show: Markdown rendered with raw HTML disabled, citation
markers turned into links, and the result sanitized (no script, no raw HTML, no images)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache
from html import escape

import nh3
from markdown_it import MarkdownIt

# What Markdown can produce and a reader needs; everything else (script, style, iframe, img,
# event attributes, inline styles) is removed. No <img>: a remote image would leak to the
# outside world that the page was opened.
ALLOWED_TAGS = {
    "p", "br", "hr", "strong", "em", "code", "pre", "blockquote", "ul", "ol", "li",
    "h1", "h2", "h3", "h4", "h5", "h6", "a", "table", "thead", "tbody", "tr", "th", "td", "del",
}
ALLOWED_ATTRIBUTES = {"a": {"href", "class", "data-n", "title"}, "ol": {"start"}}
# Only links a reader may follow: the web, mail, and docchat's own pages (relative URLs).
URL_SCHEMES = {"http", "https", "mailto"}

_CITATION = re.compile(r"\[(\d{1,3})\]")


@cache
def _parser() -> MarkdownIt:
    # "html": False escapes any raw HTML the model writes, so it shows as text.
    return MarkdownIt("commonmark", {"html": False, "linkify": False}).enable(
        ["table", "strikethrough"])


def render_markdown(text: str, citation_links: Mapping[int, str] | None = None) -> str:
    """Sanitized HTML for `text`; `[n]` becomes a link to citation_links[n] where there is one."""
    html = _parser().render(text)
    if citation_links:
        html = _link_citations(html, citation_links)
    return nh3.clean(html, tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES,
                     url_schemes=URL_SCHEMES, link_rel="noopener noreferrer")


def _link_citations(html: str, links: Mapping[int, str]) -> str:
    def link(match: re.Match[str]) -> str:
        n = int(match.group(1))
        href = links.get(n)
        if href is None:
            return match.group(0)
        return (f'<a class="cite" data-n="{n}" href="{escape(href, quote=True)}" '
                f'title="Show source {n}">[{n}]</a>')

    return _CITATION.sub(link, html)
