"""Comment bodies as safe HTML: Markdown (markdown-it-py, CommonMark, raw HTML off), then
sanitised by nh3 (the Ammonia sanitiser): only harmless tags survive, links get
``rel="noopener noreferrer"``, and no script, style or event handler gets through."""
from __future__ import annotations

from functools import lru_cache

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup

__all__ = ["render_markdown"]

_TAGS = {"p", "br", "strong", "em", "code", "pre", "blockquote", "ul", "ol", "li", "a", "h3", "h4", "hr"}


@lru_cache(maxsize=1)
def _md() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": False, "linkify": False}).disable("image")


@lru_cache(maxsize=8192)
def render_markdown(text: str) -> Markup:
    """Safe HTML for a comment body (cached by body: a thread is read far more often than written)."""
    html = _md().render(text or "")
    return Markup(nh3.clean(html, tags=_TAGS, attributes={"a": {"href", "title"}},
                            url_schemes={"http", "https", "mailto"}, link_rel="noopener noreferrer"))
