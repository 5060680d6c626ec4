"""The typed structures that leave `ingest`: documents (pages or turns), chunks, and errors."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from ingest.errors import DocchatError

Kind = Literal["pdf", "text", "meeting"]
# Where a page's text came from: the file's own text (a PDF's text layer, a Word or text file),
# or OCR of the page's image.
Origin = Literal["text_layer", "ocr"]


class IngestError(DocchatError):
    """A file docchat cannot ingest, with a stable code and a message that says what to do;
    422 (a file of a type docchat does not read at all: 415)."""

    def __init__(self, code: str, message: str, status: int = 422) -> None:
        super().__init__(status, code, message)


@dataclass(frozen=True)
class Page:
    number: int  # 1-based, as a reader counts pages
    text: str
    origin: Origin = "text_layer"
    confidence: float | None = None  # OCR's mean word confidence, 0..1; None for text_layer


@dataclass(frozen=True)
class Turn:
    """One speaker's turn in a meeting; `index` is its 0-based position in the transcript."""

    index: int
    speaker: str
    text: str
    start: str | None = None  # timestamp as the source gives it ("00:01:02.500", ISO time)
    end: str | None = None


@dataclass(frozen=True)
class Document:
    document_id: str
    filename: str
    kind: Kind = "pdf"
    pages: list[Page] = field(default_factory=list)  # pdf: one per page; text: one, number 1
    turns: list[Turn] = field(default_factory=list)  # meeting
    empty_pages: list[int] = field(default_factory=list)  # pdf pages without a text layer

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Document:
        return cls(
            document_id=data["document_id"],
            filename=data["filename"],
            kind=data["kind"],
            pages=[Page(**p) for p in data["pages"]],
            turns=[Turn(**t) for t in data["turns"]],
            empty_pages=list(data["empty_pages"]),
        )


@dataclass(frozen=True)
class Chunk:
    document_id: str
    filename: str
    ordinal: int  # position of the chunk within its document
    text: str
    page: int | None = None  # pdf
    speakers: tuple[str, ...] = ()  # meeting
    turn_start: int | None = None  # meeting: first and last turn index, inclusive
    turn_end: int | None = None
    start: str | None = None  # meeting: timestamps of the first and last turn, when known
    end: str | None = None
