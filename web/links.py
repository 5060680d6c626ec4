"""Links from API results to docchat's pages: where a citation or a search hit can be read."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from retrieval.answers.answer import Answer
from retrieval.search.hybrid import Hit
from web.markdown import render_markdown


def passage_href(hit: Hit, n: int | None = None, quote: str = "") -> str:
    """The passage view of a hit: the PDF page beside the cited text, or the transcript
    scrolled to the turns; with a citation's quote (the sentence or row that supports the
    claim), the PDF page marks that quote rather than the whole passage."""
    query: dict[str, object] = {"first": hit.first_ordinal, "last": hit.last_ordinal}
    if hit.page is not None:
        query["page"] = hit.page
    if hit.turn_start is not None:
        query["turns"] = f"{hit.turn_start}-{hit.turn_end}"
    if n is not None:
        query["n"] = n
    if quote and hit.page is not None and quote.strip() != hit.text.strip():
        query["quote"] = quote
    return f"/passage/{hit.document_id}?{urlencode(query)}"


def answer_json(answer: Answer) -> dict[str, Any]:
    """The answer as the API returns it, with each citation's passage link and the answer as
    sanitized HTML whose [n] markers link to those passages."""
    data: dict[str, Any] = answer.to_json()
    links = {c.n: passage_href(c.hit, c.n, c.quote) for c in answer.citations}
    data["citations"] = [{**c.to_json(), "href": links[c.n]} for c in answer.citations]
    data["html"] = render_markdown(answer.answer, links)
    return data


def hit_json(hit: Hit) -> dict[str, Any]:
    return {**hit.to_json(), "href": passage_href(hit)}
