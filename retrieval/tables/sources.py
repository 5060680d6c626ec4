"""What a table is read from, as numbered units a quote can point to: a PDF's pages, a text's
lines, a meeting's turns ("Speaker: words", numbered from 1)."""

from __future__ import annotations

from collections.abc import Sequence

from ingest.documents import Document
from retrieval.tables.model import Source, SourceUnit

PASTED = "pasted"


def pasted_source(text: str, title: str = "Pasted text") -> Source:
    """One unit per non-empty line, labelled with its line number in the text (1-based)."""
    return Source(PASTED, title, "line", _lines(text))


def pdf_source(document_id: str, title: str, pages: Sequence[str]) -> Source:
    """One unit per page with text; pages[0] is page 1."""
    units = tuple(SourceUnit(number, text) for number, text in enumerate(pages, start=1)
                  if text.strip())
    return Source(document_id, title, "page", units)


def text_source(document_id: str, title: str, text: str) -> Source:
    """A stored text file, line by line."""
    return Source(document_id, title, "line", _lines(text))


def document_source(document: Document, raw_text: str | None = None) -> Source:
    """A parsed document as a source: a meeting by its turns, a text file (whose `raw_text` is
    given) by its lines, anything else by its pages."""
    title = document.filename
    if document.kind == "meeting":
        units = tuple(SourceUnit(turn.index + 1, f"{turn.speaker}: {turn.text}")
                      for turn in document.turns if turn.text.strip())
        return Source(document.document_id, title, "line", units)
    if document.kind == "text" and raw_text is not None:
        return text_source(document.document_id, title, raw_text)
    pages = {page.number: page.text for page in document.pages}
    units = tuple(SourceUnit(number, text) for number, text in sorted(pages.items())
                  if text.strip())
    return Source(document.document_id, title, "page", units)


def _lines(text: str) -> tuple[SourceUnit, ...]:
    return tuple(SourceUnit(number, line.rstrip()) for number, line in
                 enumerate(text.splitlines(), start=1) if line.strip())
