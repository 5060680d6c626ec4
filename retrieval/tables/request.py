"""A request for a table: its scope (documents, a collection, or pasted text) checked in the
caller's workspace, read into sources, and the work done for it."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from ingest.errors import DocchatError
from ingest.sandbox import parse_isolated
from ingest.text import decode_text
from retrieval.llm.client import ChatModel
from retrieval.storage.store import DocumentFilter, DocumentRecord, WithStore
from retrieval.tables.extraction import extract_table, propose_columns
from retrieval.tables.model import Column, RowMode, Source, Table
from retrieval.tables.sources import document_source, pasted_source

log = logging.getLogger(__name__)

MAX_COLUMNS = 30
# Of a job's progress, the share that opening the documents takes; the model has the rest.
OPENING_SHARE = 0.1

Progress = Callable[[float, str], None]


def _no_progress(done: float, label: str) -> None:
    """Progress for callers that show none."""


class Parts(WithStore, Protocol):
    """What table work uses (retrieval.runtime.Runtime has them all)."""

    @property
    def chat(self) -> ChatModel: ...


class TableInputError(DocchatError):
    """A table request docchat cannot work on, said in plain words."""


@dataclass(frozen=True)
class TableRequest:
    """Exactly one of `document_ids`, `collection` and `text` names the scope."""

    columns: tuple[Column, ...] = ()
    rows: RowMode = "one"
    document_ids: tuple[str, ...] | None = None
    collection: str | None = None
    text: str | None = None
    title: str = ""
    workspace: str = "default"
    job_id: str = ""

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["columns"] = [c.to_json() for c in self.columns]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TableRequest:
        values = dict(data)
        values["columns"] = tuple(Column.from_json(c) for c in data.get("columns") or ())
        if values.get("document_ids") is not None:
            values["document_ids"] = tuple(values["document_ids"])
        return cls(**values)


def sql_name(job_id: str) -> str:
    """The table's name in the workspace's SQLite file."""
    return f"t_{job_id[:8]}"


def scope_documents(parts: Parts, request: TableRequest) -> list[DocumentRecord]:
    """The documents the request names, in the caller's workspace and ready to read; [] for
    pasted text. TableInputError when a document is unknown (another team's looks the same),
    not yet indexed, or the scope holds none or too many."""
    settings = parts.settings
    store = parts.store
    if request.text is not None:
        if not request.text.strip():
            raise TableInputError(400, "empty_scope", "The pasted text is empty.")
        if len(request.text) > settings.table_max_text_chars:
            raise TableInputError(413, "too_large", (
                f"The pasted text is longer than {settings.table_max_text_chars:,} characters: "
                "split it, or upload it as a file and make the table from the document."))
        return []
    if request.collection is not None:
        records = store.list_documents(DocumentFilter(request.workspace, request.collection,
                                                      "indexed"))
        if not records:
            raise TableInputError(404, "empty_scope", (
                f"The collection '{request.collection}' holds no indexed documents."))
        records.reverse()  # upload order
    else:
        ids = list(dict.fromkeys(request.document_ids or ()))
        if not ids:
            raise TableInputError(400, "empty_scope", "Name at least one document.")
        records = []
        for document_id in ids:
            record = store.document_in(request.workspace, document_id)
            if record is None:
                raise TableInputError(404, "not_found", f"No document with id {document_id}.")
            if record.status == "failed":
                raise TableInputError(409, "document_failed", (
                    f"{record.filename} could not be processed: remove it from the table's "
                    "documents."))
            if record.status != "indexed":
                raise TableInputError(409, "not_indexed", (
                    f"{record.filename} is still being processed: try again when it is "
                    "indexed."))
            records.append(record)
    if len(records) > settings.table_max_documents:
        raise TableInputError(400, "too_many_documents", (
            f"The table would read {len(records)} documents; at most "
            f"{settings.table_max_documents} go into one table (DOCCHAT_TABLE_MAX_DOCUMENTS)."))
    return records


def load_sources(parts: Parts, request: TableRequest,
                 progress: Progress = _no_progress) -> list[Source]:
    """The request's sources: the pasted text's lines, or each document read from its file."""
    records = scope_documents(parts, request)
    if request.text is not None:
        return [pasted_source(request.text, request.title or "Pasted text")]
    sources = []
    for number, record in enumerate(records, start=1):
        progress(OPENING_SHARE * (number - 1) / len(records),
                 f"Opening document {number} of {len(records)}…")
        sources.append(read_document(parts, record))
    return sources


def read_document(parts: Parts, record: DocumentRecord) -> Source:
    """The stored file parsed again (its pages, lines or turns, whole, as ingest reads them)."""
    settings = parts.settings
    path = Path(record.stored_path)
    if not path.is_file():
        log.warning("table document %s: its stored file %s is missing", record.id, path)
        raise TableInputError(410, "file_missing", f"The file of {record.filename} is no longer "
                                                   "stored; upload it again.")
    raw_text = decode_text(path.read_bytes()) if record.stored_kind == "text" else None
    document = parse_isolated(
        path, record.stored_kind, record.id, record.filename, max_pages=settings.max_pages,
        time_limit=settings.parse_time_limit, memory_mb=settings.parse_memory_mb)
    return document_source(document, raw_text)


def run(parts: Parts, request: TableRequest, progress: Progress = _no_progress) -> Table:
    """The table the request asks for, named for its job."""
    if not request.columns:
        raise TableInputError(400, "bad_request", "Name at least one column.")
    sources = load_sources(parts, request, progress)
    if not any(source.units for source in sources):
        raise TableInputError(422, "empty_scope", "The documents hold no text to read.")

    def told(done: int, total: int, label: str) -> None:
        progress(OPENING_SHARE + (1 - OPENING_SHARE) * done / max(total, 1), label)

    table = extract_table(sources, request.columns, request.rows, parts.chat, progress=told)
    return replace(table, id=request.job_id, title=request.title or default_title(
        request, sources), sql_name=sql_name(request.job_id))


def columns_for(parts: Parts, request: TableRequest, limit: int = 8) -> list[Column]:
    """Columns the model proposes from a sample of the request's scope."""
    sources = load_sources(parts, request)
    proposed = propose_columns(sources, parts.chat, rows=request.rows, limit=limit)
    if not proposed:
        raise TableInputError(422, "model_output_unusable", (
            "The language model proposed no usable columns for this text: name the columns "
            "yourself."))
    return proposed


def default_title(request: TableRequest, sources: list[Source]) -> str:
    if request.text is not None:
        return "Pasted records"
    if request.collection is not None:
        return f"Collection {request.collection}"
    if len(sources) == 1:
        return sources[0].title
    return f"{len(sources)} documents"
