"""One stored upload to indexed chunks: parse (sandboxed), chunk, embed, index. Idempotent."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Protocol

import numpy as np

from ingest.chunking import chunk_document
from ingest.documents import IngestError
from ingest.sandbox import parse_isolated
from retrieval.search.embeddings import Embedder
from retrieval.search.spaces import VectorSpaces
from retrieval.storage.store import WithStore, chunk_id_range

log = logging.getLogger(__name__)


class Parts(WithStore, Protocol):
    """What indexing and a rebuild work with (retrieval.runtime.Runtime has them all)."""

    @property
    def spaces(self) -> VectorSpaces: ...


# Chunks embedded between two progress updates.
_PROGRESS_BATCH = 256


def index_document(runtime: Parts, document_id: str) -> None:
    """Bring a document to `indexed` or `failed`; running it twice indexes it once.

    Order matters for crash safety: chunk rows are committed first, then vectors are added
    under the index lock, then the document is marked indexed. A rerun after a crash at any
    point removes what the previous attempt left and starts over.
    """
    store, settings = runtime.store, runtime.settings
    logged = {"document_id": document_id}  # a field of each log record (retrieval/core/logs.py)
    record = store.get_document(document_id)
    if record is None:
        raise LookupError(f"no document {document_id}")
    if record.status == "indexed":
        log.info("document %s is already indexed; nothing to do", document_id, extra=logged)
        return
    store.mark_processing(document_id, 0.05)
    try:
        document = parse_isolated(
            Path(record.stored_path), record.stored_kind, document_id, record.filename,
            max_pages=settings.max_pages, time_limit=settings.parse_time_limit,
            memory_mb=settings.parse_memory_mb,
        )
    except IngestError as exc:
        log.info("document %s failed: %s", document_id, exc.code, extra=logged)
        store.mark_failed(document_id, exc.code, exc.message)
        return
    store.mark_parsed(
        document_id, document.kind,
        pages=len(document.pages) if document.kind == "pdf" else None,
        turns=len(document.turns) if document.kind == "meeting" else None,
        empty_pages=document.empty_pages,
    )
    store.mark_progress(document_id, 0.3)
    space = runtime.spaces.active()
    chunk_tokens, overlap_tokens = settings.chunk_sizes(document.kind)
    chunks = chunk_document(
        document, space.embedder.count_tokens, chunk_tokens, overlap_tokens,
        space.embedder.max_tokens,
    )
    store.mark_progress(document_id, 0.4)
    texts = [c.text for c in chunks]
    vectors = _embed_with_progress(runtime, space.embedder, document_id, texts, 0.4, 0.9)
    try:
        ids = store.replace_chunks(record, chunks)
    except LookupError:
        log.info("document %s was deleted while it was processed", document_id, extra=logged)
        return
    with runtime.spaces.writing() as (current, writer):
        if current.model != space.model:  # a rebuild switched embedding models meanwhile
            vectors = current.embedder.embed(texts)
        writer.remove_range(*chunk_id_range(record.seq))
        # Deleted while embedding: its vectors must not outlive it.
        if store.get_document(document_id) is not None:
            writer.add(ids, vectors)
    store.mark_indexed(document_id, chunks=len(chunks))
    log.info("document %s indexed: %s, %d chunks", document_id, document.kind, len(chunks),
             extra=logged)


def _embed_with_progress(
    runtime: Parts, embedder: Embedder, document_id: str, texts: list[str], start: float,
    end: float,
) -> np.ndarray:
    """(len(texts), dim) float32; progress moves from `start` to `end` as batches finish."""
    parts = []
    for first in range(0, len(texts), _PROGRESS_BATCH):
        parts.append(embedder.embed(texts[first:first + _PROGRESS_BATCH]))
        done = min(first + _PROGRESS_BATCH, len(texts)) / len(texts)
        runtime.store.mark_progress(document_id, start + (end - start) * done)
    if not parts:
        return embedder.embed([])
    return np.concatenate(parts)


def delete_document(runtime: Parts, document_id: str) -> bool:
    """Remove a document's vectors, chunk rows, record and stored file; False if unknown."""
    record = runtime.store.get_document(document_id)
    if record is None:
        return False
    with runtime.spaces.writing() as (_, writer):
        writer.remove_range(*chunk_id_range(record.seq))
        runtime.store.delete_document(document_id)
    Path(record.stored_path).unlink(missing_ok=True)
    log.info("document %s deleted", document_id, extra={"document_id": document_id})
    return True
