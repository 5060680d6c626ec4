"""The embedding cache: each distinct chunk text is embedded once per model, with the real
SQLite store and the bundled model; a cache that fails never fails an upload."""

from __future__ import annotations

import dataclasses
import logging
import sqlite3

import numpy as np
import pytest

from retrieval.core.settings import Settings
from retrieval.runtime import Runtime
from retrieval.search.indexing import EmbedTally, delete_document, embed_texts, index_document
from retrieval.search.rebuild import rebuild_index
from retrieval.storage.embedding_cache import (
    CacheTotals,
    EmbedderKey,
    EmbeddingCache,
    cache_totals,
    text_hash,
)
from tests.conftest import EVERYTHING, REPO, store_upload
from tests.retrieval.test_rebuild import other_model  # noqa: F401 - a fixture used below

HANDBOOK = REPO / "tests" / "data" / "handbook.md"


class CountingEmbedder:
    """The session's real embedder, recording every text it is asked to embed."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.texts: list[str] = []

    def embed(self, texts: list[str]) -> np.ndarray:
        self.texts.extend(texts)
        return self.inner.embed(texts)

    def __getattr__(self, name: str):
        return getattr(self.inner, name)


@pytest.fixture()
def counting(embedder) -> CountingEmbedder:
    return CountingEmbedder(embedder)


def counted_runtime(tmp_path, counting: CountingEmbedder, **settings) -> Runtime:
    return Runtime(Settings(data_dir=tmp_path / "data", **settings), embedder=counting)


def indexed(runtime: Runtime, path, collection: str) -> str:
    record = store_upload(runtime, path, collection=collection)
    index_document(runtime, record.id)
    assert runtime.store.get_document(record.id).status == "indexed"
    return record.id


def chunk_texts(runtime: Runtime, document_id: str) -> list[str]:
    record = runtime.store.get_document(document_id)
    return [c.text for c in runtime.store.chunks_in_range(document_id, 0, record.chunks - 1)]


def test_the_same_document_in_another_collection_is_embedded_once(
        tmp_path, counting, ntsb_pdf, caplog) -> None:
    runtime = counted_runtime(tmp_path, counting)
    first = indexed(runtime, ntsb_pdf, "reports")
    texts = chunk_texts(runtime, first)
    assert len(counting.texts) == len(set(texts)) > 5  # the first upload embeds each text
    counting.texts.clear()
    with caplog.at_level(logging.INFO, logger="retrieval.search.indexing"):
        second = indexed(runtime, ntsb_pdf, "archive")
    assert counting.texts == []
    assert chunk_texts(runtime, second) == texts
    assert f"0 of {len(texts)} chunks embedded, {len(set(texts))} from the cache" in caplog.text
    assert cache_totals(runtime.settings.database_path).hits == len(set(texts))
    # Both copies are searchable with the cached vectors.
    hits = runtime.retriever.search("the nosewheel dug into soft snow", 10, EVERYTHING)
    assert {h.document_id for h in hits} == {first, second}
    counting.texts.clear()  # the query's embedding
    # A re-index of the same document with the same model embeds nothing either.
    runtime.store.requeue(first)
    index_document(runtime, first)
    assert counting.texts == [] and runtime.store.get_document(first).status == "indexed"


def test_another_workspace_never_gets_a_workspaces_vectors(tmp_path, counting,
                                                          ntsb_pdf) -> None:
    """Shared across teams, how fast an upload is indexed would tell one team whether another
    holds a text."""
    runtime = counted_runtime(tmp_path, counting)
    texts = chunk_texts(runtime, indexed(runtime, ntsb_pdf, "reports"))
    counting.texts.clear()
    record = store_upload(runtime, ntsb_pdf, collection="reports", workspace="other-team")
    index_document(runtime, record.id)
    assert sorted(counting.texts) == sorted(set(texts))
    assert cache_totals(runtime.settings.database_path).hits == 0


def test_deleting_a_document_deletes_its_cached_vectors(tmp_path, counting, ntsb_pdf) -> None:
    runtime = counted_runtime(tmp_path, counting)
    kept = indexed(runtime, HANDBOOK, "a")
    gone = indexed(runtime, ntsb_pdf, "a")
    texts = set(chunk_texts(runtime, gone))
    key = EmbedderKey("", counting.precision, counting.dim)
    held = runtime.embedding_cache.lookup(key, [text_hash(t, "default") for t in texts])
    assert len(held) == len(texts)
    assert delete_document(runtime, gone)
    assert runtime.embedding_cache.lookup(key, [text_hash(t, "default") for t in texts]) == {}
    others = set(chunk_texts(runtime, kept))
    assert len(runtime.embedding_cache.lookup(
        key, [text_hash(t, "default") for t in others])) == len(others)
    assert runtime.embedding_cache.totals().bytes == len(others) * key.row_bytes


def test_a_cached_vector_is_bitwise_the_one_computed(tmp_path, counting, embedder,
                                                     ntsb_pdf) -> None:
    runtime = counted_runtime(tmp_path, counting)
    texts = list(dict.fromkeys(chunk_texts(runtime, indexed(runtime, ntsb_pdf, "a"))))
    assert len(texts) < 256  # one batch of indexing: the same call as here
    fresh = embedder.embed(texts)
    key = EmbedderKey("", embedder.precision, embedder.dim)
    cached = runtime.embedding_cache.lookup(key, [text_hash(t, "default") for t in texts])
    assert len(cached) == len(texts)
    for text, vector in zip(texts, fresh, strict=True):
        stored = cached[text_hash(text, "default")]
        assert stored.dtype == np.float32 and stored.tobytes() == vector.tobytes()


def test_no_other_model_precision_or_size_gets_a_models_vectors(tmp_path) -> None:
    cache = EmbeddingCache(tmp_path / "db.sqlite", 1 << 20)
    key = EmbedderKey("", "fp32", 4)
    digest = text_hash("Probable cause: loss of engine power.", "default")
    cache.add(key, [digest], np.ones((1, 4), dtype=np.float32))
    assert list(cache.lookup(key, [digest])) == [digest]
    for other in (EmbedderKey("/models/e5", "fp32", 4), EmbedderKey("", "fp16", 4),
                  EmbedderKey("", "fp32", 8)):
        assert cache.lookup(other, [digest]) == {}
    # Texts are not normalized: a text that differs only in case or spacing is another text.
    assert cache.lookup(key, [text_hash("probable cause: loss of engine power.", "default")]) == {}
    assert cache.lookup(key, [text_hash("Probable cause: loss of engine power. ", "default")]) == {}


def test_a_rebuild_to_a_new_model_fills_its_own_entries_and_drops_the_old(
        runtime, ntsb_pdf, other_model) -> None:  # noqa: F811 - the fixture imported above
    document = indexed(runtime, ntsb_pdf, "a")
    distinct = len(set(chunk_texts(runtime, document)))
    database = runtime.settings.database_path
    assert cache_totals(database).misses == distinct
    after = Runtime(dataclasses.replace(runtime.settings, embedding_model=other_model))
    assert rebuild_index(after) == "switched"
    totals = cache_totals(database)
    assert (totals.hits, totals.misses) == (0, 2 * distinct)  # the new model missed each text
    with sqlite3.connect(database) as db:
        rows = db.execute("SELECT model, dim, COUNT(*) FROM embedding_cache"
                          " GROUP BY model, dim").fetchall()
    assert rows == [(other_model, 128, distinct)]  # the old model's rows went at the switch
    assert totals.bytes == distinct * EmbedderKey(other_model, "fp32", 128).row_bytes
    # A re-index with the new model now finds every text.
    after.store.requeue(document)
    index_document(after, document)
    assert cache_totals(database).hits == distinct
    hits = after.retriever.search("the nosewheel dug into soft snow", 3, EVERYTHING)
    assert hits[0].document_id == document


def test_the_size_bound_evicts_the_least_recently_used(tmp_path) -> None:
    key = EmbedderKey("", "fp32", 4)
    cache = EmbeddingCache(tmp_path / "db.sqlite", 10 * key.row_bytes)
    digests = [text_hash(f"text {i}", "default") for i in range(10)]
    cache.add(key, digests, np.arange(40, dtype=np.float32).reshape(10, 4))
    with sqlite3.connect(cache.path) as db:  # used in order, two hours ago and before
        db.executemany("UPDATE embedding_cache SET used_at = ? WHERE text_hash = ?",
                       [(1000.0 + i, d) for i, d in enumerate(digests)])
    assert cache.totals().bytes == 10 * key.row_bytes  # at the bound, not over it
    cache.lookup(key, digests[:1])  # the oldest is read again: now the most recent
    newcomers = [text_hash(f"new {i}", "default") for i in range(3)]
    cache.add(key, newcomers, np.zeros((3, 4), dtype=np.float32))
    # 13 rows over a bound of 10: the least recently used go until 9 (90%) are left.
    kept = cache.lookup(key, digests + newcomers)
    assert set(kept) == {digests[0], *digests[5:], *newcomers}
    assert cache.totals().bytes == 9 * key.row_bytes


def test_with_the_cache_off_every_upload_is_embedded(tmp_path, counting, ntsb_pdf) -> None:
    runtime = counted_runtime(tmp_path, counting, embedding_cache_mb=0)
    assert runtime.embedding_cache is None
    first = indexed(runtime, ntsb_pdf, "a")
    once = len(counting.texts)
    assert once == len(chunk_texts(runtime, first))
    indexed(runtime, ntsb_pdf, "b")
    assert len(counting.texts) == 2 * once
    assert cache_totals(runtime.settings.database_path) == CacheTotals(0, 0, 0)


def test_a_damaged_row_is_embedded_again_and_rewritten(tmp_path, counting, ntsb_pdf) -> None:
    runtime = counted_runtime(tmp_path, counting)
    texts = chunk_texts(runtime, indexed(runtime, ntsb_pdf, "a"))
    damaged = texts[:2]
    with sqlite3.connect(runtime.settings.database_path) as db:
        db.executemany("UPDATE embedding_cache SET vector = x'00ff' WHERE text_hash = ?",
                       [(text_hash(t, "default"),) for t in damaged])
    counting.texts.clear()
    indexed(runtime, ntsb_pdf, "b")
    assert counting.texts == damaged
    with sqlite3.connect(runtime.settings.database_path) as db:
        sizes = {length for (length,) in db.execute("SELECT length(vector) FROM embedding_cache")}
    assert sizes == {4 * 384}


def test_a_locked_database_falls_back_to_embedding(tmp_path, runtime, embedder, caplog) -> None:
    cache = EmbeddingCache(runtime.settings.database_path, 1 << 20, busy_seconds=0.1)
    space = runtime.spaces.active()
    held = ["The airplane nosed over.", "Fuel on board: 20 gallons."]
    embed_texts(cache, space, held, EmbedTally(), "default")
    lock = sqlite3.connect(runtime.settings.database_path, isolation_level=None)
    lock.execute("BEGIN IMMEDIATE")  # another process writing, for longer than the cache waits
    try:
        with caplog.at_level(logging.WARNING, logger="retrieval.search.indexing"):
            texts = [*held, "The pilot held a private certificate."]
            tally = EmbedTally()
            vectors = embed_texts(cache, space, texts, tally, "default")
    finally:
        lock.rollback()
        lock.close()
    assert np.array_equal(vectors, embedder.embed(texts))
    assert (tally.embedded, tally.cached) == (3, 0)  # the hits could not be counted: embedded
    assert "embedding cache unreadable" in caplog.text
    assert "embedding cache not written" in caplog.text


def test_an_unreadable_cache_does_not_fail_the_upload(runtime, ntsb_pdf, caplog) -> None:
    cache = runtime.embedding_cache
    with sqlite3.connect(cache.path) as db:
        db.execute("DROP TABLE embedding_cache")
    with caplog.at_level(logging.WARNING, logger="retrieval.search.indexing"):
        document = indexed(runtime, ntsb_pdf, "a")
    assert runtime.store.get_document(document).chunks > 0
    assert "no such table: embedding_cache" in caplog.text
