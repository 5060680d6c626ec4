"""One stored upload to indexed chunks: parse (sandboxed), chunk, embed, index. Idempotent.
The chunks of several documents are embedded together (`embed_documents`)."""

from __future__ import annotations

import logging
import sqlite3
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from ingest.chunking import chunk_document
from ingest.documents import IngestError
from ingest.sandbox import parse_isolated
from retrieval.search.spaces import VectorSpace, VectorSpaces
from retrieval.storage.awaiting import AwaitingVectors
from retrieval.storage.embedding_cache import EmbedderKey, EmbeddingCache, text_hash
from retrieval.storage.store import WithStore, chunk_id_range

log = logging.getLogger(__name__)


class Parts(WithStore, Protocol):
    """What indexing and a rebuild work with (retrieval.runtime.Runtime has them all)."""

    @property
    def spaces(self) -> VectorSpaces: ...
    @property
    def embedding_cache(self) -> EmbeddingCache | None: ...


# Chunks embedded between two progress updates.
_PROGRESS_BATCH = 512


def index_document(runtime: Parts, document_id: str) -> None:
    """Bring a document to `indexed` or `failed`; running it twice indexes it once.

    Order matters for crash safety: chunk rows are committed first (not searchable while the
    document is processing), then vectors are added under the index lock and the document is
    marked indexed. A rerun after a crash at any point removes what the previous attempt left
    and starts over. The worker embeds several documents together instead
    (retrieval.search.batches); this is the one-document path.
    """
    if prepare_document(runtime, document_id) is None:
        return
    claim = f"index:{uuid.uuid4().hex}"
    # A lease of 0: the caller that has just prepared the document takes it whoever claimed it
    # meanwhile; the one it took it from then finds it no longer holds it and passes it by.
    held = AwaitingVectors(runtime.store).claim(claim, 0.0, 0, first=document_id, only=True)
    if held:
        embed_documents(runtime, held, claim)


def prepare_document(runtime: Parts, document_id: str) -> int | None:
    """Parse and chunk a document and store its chunk rows: it then awaits vectors for that
    many chunks (the number returned), held by nobody. None when nothing is left to embed: it
    is indexed already, it failed (its reason stored), or it was deleted meanwhile."""
    store, settings = runtime.store, runtime.settings
    logged = {"document_id": document_id}  # a field of each log record (retrieval/core/logs.py)
    record = store.get_document(document_id)
    if record is None:
        raise LookupError(f"no document {document_id}")
    if record.status == "indexed":
        log.info("document %s is already indexed; nothing to do", document_id, extra=logged)
        return None
    store.mark_processing(document_id, 0.05)  # ends an earlier attempt's wait for vectors
    try:
        document = parse_isolated(
            Path(record.stored_path), record.stored_kind, document_id, record.filename,
            max_pages=settings.max_pages, time_limit=settings.parse_time_limit,
            memory_mb=settings.parse_memory_mb, ocr=settings.ocr_options,
        )
    except IngestError as exc:
        log.info("document %s failed: %s", document_id, exc.code, extra=logged)
        store.mark_failed(document_id, exc.code, exc.message)
        return None
    store.mark_parsed(
        document_id, document.kind,
        pages=len(document.pages) if document.kind == "pdf" else None,
        turns=len(document.turns) if document.kind == "meeting" else None,
        empty_pages=document.empty_pages,
        ocr_pages={p.number: p.confidence or 0.0 for p in document.pages if p.origin == "ocr"},
    )
    store.mark_progress(document_id, 0.3)
    embedder = runtime.spaces.active().embedder
    chunk_tokens, overlap_tokens = settings.chunk_sizes(document.kind)
    chunks = chunk_document(document, embedder.count_tokens, chunk_tokens, overlap_tokens,
                            embedder.max_tokens)
    try:
        store.replace_chunks(record, chunks)
    except LookupError:
        log.info("document %s was deleted while it was processed", document_id, extra=logged)
        return None
    store.mark_progress(document_id, 0.4)
    AwaitingVectors(store).add(document_id, len(chunks))
    return len(chunks)


def embed_documents(runtime: Parts, document_ids: list[str], claim: str) -> list[str]:
    """Embed the chunks of documents that `claim` holds (each awaiting vectors) in one pass
    through the cache and the model, add their vectors to the index and mark them indexed;
    the ids indexed. A document deleted, queued again or taken over meanwhile is passed by:
    its vectors do not enter the index, or whoever has it now replaces them."""
    store, awaiting = runtime.store, AwaitingVectors(runtime.store)
    records = [r for r in map(store.get_document, document_ids) if r is not None]
    rows = {r.id: store.chunk_texts_of(r.id) for r in records}
    items = [(text, r.workspace) for r in records for text in rows[r.id][1]]
    space = runtime.spaces.active()
    cache, tally = usable_cache(runtime), EmbedTally()
    vectors = _embed_with_progress(runtime, cache, space, [r.id for r in records], items, tally)
    indexed = []
    with runtime.spaces.writing() as (current, writer):
        if current.model != space.model:  # a rebuild switched embedding models meanwhile
            vectors = embed_items(cache, current, items, tally)
        first = 0
        for record in records:
            ids = rows[record.id][0]
            part, first = vectors[first:first + len(ids)], first + len(ids)
            # Deleted (or started over) while embedding: its vectors must not outlive it.
            if not awaiting.holds(record.id, claim):
                continue
            writer.remove_range(*chunk_id_range(record.seq))
            writer.add(ids, part)
            if awaiting.finish(record.id, claim, chunks=len(ids)):
                indexed.append(record)
    for record in indexed:
        log.info("document %s indexed: %s, %d chunks; %d of %d chunks embedded, %d from the "
                 "cache (a batch of %d documents)", record.id, record.kind or "?",
                 len(rows[record.id][0]), tally.embedded, len(items), tally.cached,
                 len(records), extra={"document_id": record.id})
    return [record.id for record in indexed]


def _embed_with_progress(runtime: Parts, cache: EmbeddingCache | None, space: VectorSpace,
                         document_ids: list[str], items: list[tuple[str, str]],
                         tally: EmbedTally, start: float = 0.4, end: float = 0.9,
                         ) -> np.ndarray:
    """(len(items), dim) float32 for (text, workspace) items; the documents' progress moves
    from `start` to `end` as batches finish."""
    parts = []
    for first in range(0, len(items), _PROGRESS_BATCH):
        parts.append(embed_items(cache, space, items[first:first + _PROGRESS_BATCH], tally))
        done = min(first + _PROGRESS_BATCH, len(items)) / len(items)
        for document_id in document_ids:
            runtime.store.mark_progress(document_id, start + (end - start) * done)
    if not parts:
        return space.embedder.embed([])
    return np.concatenate(parts)


@dataclass
class EmbedTally:
    """Texts of a document (or a rebuild) embedded now, and those whose vector came from the
    cache (a text repeated within one batch is embedded once and counted once)."""

    embedded: int = 0
    cached: int = 0


def usable_cache(runtime: Parts) -> EmbeddingCache | None:
    """The embedding cache, or None when it is off or its tables cannot be reached (logged):
    indexing then embeds everything, as without a cache."""
    try:
        return runtime.embedding_cache
    except sqlite3.Error as exc:
        log.warning("embedding cache unavailable, embedding without it: %s", exc)
        return None


def embed_texts(cache: EmbeddingCache | None, space: VectorSpace, texts: list[str],
                tally: EmbedTally, workspace: str) -> np.ndarray:
    """(len(texts), dim) float32 vectors of `space`'s model for texts of one workspace (see
    `embed_items`)."""
    return embed_items(cache, space, [(text, workspace) for text in texts], tally)


def embed_items(cache: EmbeddingCache | None, space: VectorSpace,
                items: list[tuple[str, str]], tally: EmbedTally) -> np.ndarray:
    """(len(items), dim) float32 vectors of `space`'s model for (text, workspace) items: each
    distinct item's from the cache when it holds one for that text in that workspace, else
    embedded now (a text missing in two workspaces once) and added. A cache that cannot be read
    or written is logged and passed by; the vectors are the same either way."""
    embedder = space.embedder
    if cache is None or not items:
        tally.embedded += len(items)
        return embedder.embed([text for text, _ in items])
    distinct = list(dict.fromkeys(items))
    hashes = [text_hash(text, workspace) for text, workspace in distinct]
    key = EmbedderKey(space.model, embedder.precision, embedder.dim)
    try:
        found = cache.lookup(key, hashes)
    except sqlite3.Error as exc:
        log.warning("embedding cache unreadable, embedding %d texts without it: %s",
                    len(distinct), exc)
        found = {}
    missing = [i for i, digest in enumerate(hashes) if digest not in found]
    tally.cached += len(distinct) - len(missing)
    tally.embedded += len(missing)
    if missing:
        texts = list(dict.fromkeys(distinct[i][0] for i in missing))
        fresh = dict(zip(texts, embedder.embed(texts), strict=True))
        vectors = np.stack([fresh[distinct[i][0]] for i in missing])
        try:
            cache.add(key, [hashes[i] for i in missing], vectors)
        except sqlite3.Error as exc:
            log.warning("embedding cache not written (%d vectors): %s", len(missing), exc)
        found.update(zip((hashes[i] for i in missing), vectors, strict=True))
    by_item = {item: found[digest] for item, digest in zip(distinct, hashes, strict=True)}
    return np.stack([by_item[item] for item in items])


def _forget_vectors(runtime: Parts, workspace: str, texts: set[str]) -> None:
    """Delete a deleted document's cached vectors (another document of the workspace with the
    same text is embedded again at its next re-index, nothing worse)."""
    cache = usable_cache(runtime)
    if cache is None or not texts:
        return
    try:
        cache.forget([text_hash(text, workspace) for text in texts])
    except sqlite3.Error as exc:  # logged loudly: the vectors stay until evicted
        log.error("the deleted document's cached vectors could not be deleted: %s", exc)


def delete_document(runtime: Parts, document_id: str) -> bool:
    """Remove a document's vectors, chunk rows, record and stored file; False if unknown."""
    record = runtime.store.get_document(document_id)
    if record is None:
        return False
    texts = {c.text for c in runtime.store.chunks_in_range(document_id, 0, 2**62)}
    with runtime.spaces.writing() as (_, writer):
        writer.remove_range(*chunk_id_range(record.seq))
        runtime.store.delete_document(document_id)
    Path(record.stored_path).unlink(missing_ok=True)
    _forget_vectors(runtime, record.workspace, texts)
    log.info("document %s deleted", document_id, extra={"document_id": document_id})
    return True
