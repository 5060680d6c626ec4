"""Vectors of texts already embedded, kept in docchat's SQLite file by embedding model and the
SHA-256 of the workspace and the text, so that a re-upload, a re-index or a report's repeated
parts are embedded once (LangChain's CacheBackedEmbeddings, in docchat's own store). Each
workspace finds only its own texts: a cache shared across teams would let one team learn, from
how fast its upload is indexed, whether another holds a text. Deleting a document deletes its
vectors. Bounded in size: the least recently used rows go first."""

from __future__ import annotations

import hashlib
import sqlite3
import time
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from retrieval.storage.store import SQLiteTables, connect

_SCHEMA = """
-- One vector per embedding model, precision, dimension and text: `text_hash` is the SHA-256 of
-- the workspace and the exact string the model was given (text_hash()), `vector` dim float32
-- little-endian. `used_at`
-- (seconds since the epoch, refreshed at most every TOUCH_SECONDS) orders eviction.
CREATE TABLE IF NOT EXISTS embedding_cache (
    id INTEGER PRIMARY KEY,
    model TEXT NOT NULL,
    precision TEXT NOT NULL,
    dim INTEGER NOT NULL,
    text_hash BLOB NOT NULL,
    vector BLOB NOT NULL,
    used_at REAL NOT NULL,
    UNIQUE (model, precision, dim, text_hash)
);
CREATE INDEX IF NOT EXISTS embedding_cache_by_use ON embedding_cache(used_at);
-- Running totals: texts found and texts embedded since the database was made (GET /metrics),
-- and the bytes the rows take, which the size bound is checked against without a scan.
CREATE TABLE IF NOT EXISTS embedding_cache_totals (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    hits INTEGER NOT NULL DEFAULT 0,
    misses INTEGER NOT NULL DEFAULT 0,
    bytes INTEGER NOT NULL DEFAULT 0
);
INSERT OR IGNORE INTO embedding_cache_totals (id) VALUES (1);
"""

# What a row takes beside its vector, counted against the bound: the key (in the row and again
# in its unique index), used_at and its index, SQLite's per-row and per-cell headers.
ROW_OVERHEAD_BYTES = 160
# A row's used_at is refreshed only when older than this, so a lookup that hits recently used
# rows writes nothing but the hit count.
TOUCH_SECONDS = 3600.0
# Rows deleted per transaction when over the bound, and how far below it eviction goes, so
# that it runs once per tenth of the bound added, not at every insert.
EVICT_BATCH = 1000
EVICT_TO = 0.9
# Rows named per SQL statement (SQLite's limit on parameters is far above it).
_PER_QUERY = 500


@dataclass(frozen=True)
class EmbedderKey:
    """What makes two vectors of one text the same: the embedding model setting ('' = the
    bundled one), the precision it computes in (fp16 and fp32 vectors differ), its dimension."""

    model: str
    precision: str
    dim: int

    @property
    def row_bytes(self) -> int:
        return 4 * self.dim + ROW_OVERHEAD_BYTES


@dataclass(frozen=True)
class CacheTotals:
    hits: int  # texts whose vector came from the cache
    misses: int  # texts embedded and added
    bytes: int  # what the rows take, as counted against the bound


def text_hash(text: str, workspace: str) -> bytes:
    """SHA-256 of the workspace and the exact text: the text is not normalized, since any
    change to the string the model reads (case, spaces) can change its vector; the workspace
    keeps each team's vectors to its own uploads."""
    return hashlib.sha256(workspace.encode("utf-8", "surrogatepass") + b"\0"
                          + text.encode("utf-8", "surrogatepass")).digest()


def _vector_bytes(vector: np.ndarray) -> bytes:
    return np.ascontiguousarray(vector, dtype="<f4").tobytes()


class EmbeddingCache(SQLiteTables):
    """The cache table of the SQLite file at `path`, holding about `max_bytes`. Several worker
    processes share it (WAL); a write waits at most `busy_seconds` for another's lock, since a
    cache that waits longer is slower than embedding. Errors are sqlite3.Error: callers log
    them and embed without the cache."""

    SCHEMA = _SCHEMA

    def __init__(self, path: Path, max_bytes: int, busy_seconds: float = 2.0) -> None:
        self.max_bytes = max_bytes
        self.busy_seconds = busy_seconds
        super().__init__(path)

    def _connect(self) -> AbstractContextManager[sqlite3.Connection]:
        return connect(self.path, timeout=self.busy_seconds)

    def lookup(self, key: EmbedderKey, hashes: Sequence[bytes]) -> dict[bytes, np.ndarray]:
        """The vectors held for these text hashes, (dim,) float32 each, counted as hits. A row
        whose vector is not `dim` floats (damaged) is left out, so that text is embedded again
        and the row rewritten."""
        found: dict[bytes, np.ndarray] = {}
        stale: list[bytes] = []
        now = time.time()
        size = 4 * key.dim
        with self._connect() as db:
            for first in range(0, len(hashes), _PER_QUERY):
                part = hashes[first:first + _PER_QUERY]
                rows = db.execute(
                    "SELECT text_hash, vector, used_at FROM embedding_cache WHERE model = ?"
                    " AND precision = ? AND dim = ?"
                    f" AND text_hash IN ({','.join('?' * len(part))})",
                    [key.model, key.precision, key.dim, *part]).fetchall()
                for digest, vector, used_at in rows:
                    if not isinstance(vector, bytes) or len(vector) != size:
                        continue
                    found[digest] = np.frombuffer(vector, dtype="<f4").astype(np.float32)
                    if used_at < now - TOUCH_SECONDS:
                        stale.append(digest)
            if stale:
                db.executemany(
                    "UPDATE embedding_cache SET used_at = ? WHERE model = ? AND precision = ?"
                    " AND dim = ? AND text_hash = ?",
                    [(now, key.model, key.precision, key.dim, digest) for digest in stale])
            if found:
                db.execute("UPDATE embedding_cache_totals SET hits = hits + ?", (len(found),))
        return found

    def add(self, key: EmbedderKey, hashes: Sequence[bytes], vectors: np.ndarray) -> None:
        """Keep `vectors` ((n, dim) float32) of the texts with these hashes, counted as misses,
        then evict the least recently used rows if the cache is over its bound. A row another
        process added meanwhile stays; a damaged one is rewritten."""
        if len(hashes) != len(vectors) or (len(vectors) and vectors.shape[1] != key.dim):
            raise ValueError(f"{len(hashes)} hashes for vectors of shape {vectors.shape}, "
                             f"expected (n, {key.dim})")
        now = time.time()
        rows = [(key.model, key.precision, key.dim, digest, _vector_bytes(vector), now)
                for digest, vector in zip(hashes, vectors, strict=True)]
        with self._connect() as db:
            added = db.executemany(
                "INSERT INTO embedding_cache (model, precision, dim, text_hash, vector, used_at)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (model, precision, dim, text_hash)"
                " DO UPDATE SET vector = excluded.vector, used_at = excluded.used_at"
                " WHERE length(embedding_cache.vector) != 4 * embedding_cache.dim",
                rows).rowcount
            # A rewritten damaged row is counted again: a little early eviction, put right by
            # the recount in keep_only().
            db.execute("UPDATE embedding_cache_totals SET misses = misses + ?,"
                       " bytes = bytes + ?", (len(rows), max(added, 0) * key.row_bytes))
            total = int(db.execute("SELECT bytes FROM embedding_cache_totals").fetchone()[0])
        if total > self.max_bytes:
            self._evict(int(self.max_bytes * EVICT_TO))

    def _evict(self, target: int) -> None:
        """Delete the least recently used rows, a batch per transaction (so that other
        processes' writes wait little), until the rows take at most `target` bytes."""
        while True:
            with self._connect() as db:
                db.execute("BEGIN IMMEDIATE")  # the rows chosen are the rows deleted
                total = int(db.execute("SELECT bytes FROM embedding_cache_totals")
                            .fetchone()[0])
                if total <= target:
                    return
                rows = db.execute("SELECT id, dim FROM embedding_cache ORDER BY used_at"
                                  " LIMIT ?", (EVICT_BATCH,)).fetchall()
                if not rows:
                    db.execute("UPDATE embedding_cache_totals SET bytes = 0")
                    return
                doomed, freed = [], 0
                for row_id, dim in rows:
                    if total - freed <= target:
                        break
                    doomed.append((row_id,))
                    freed += 4 * dim + ROW_OVERHEAD_BYTES
                db.executemany("DELETE FROM embedding_cache WHERE id = ?", doomed)
                db.execute("UPDATE embedding_cache_totals SET bytes = MAX(bytes - ?, 0)",
                           (freed,))

    def forget(self, hashes: Sequence[bytes]) -> int:
        """Delete the vectors of these text hashes, of every model (a deleted document's: its
        vectors must not outlive it); how many rows went."""
        gone = 0
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            for first in range(0, len(hashes), _PER_QUERY):
                part = list(hashes[first:first + _PER_QUERY])
                where = f"text_hash IN ({','.join('?' * len(part))})"
                freed = int(db.execute(f"SELECT COALESCE(SUM(4 * dim + ?), 0) FROM"
                                       f" embedding_cache WHERE {where}",
                                       [ROW_OVERHEAD_BYTES, *part]).fetchone()[0])
                gone += db.execute(f"DELETE FROM embedding_cache WHERE {where}", part).rowcount
                db.execute("UPDATE embedding_cache_totals SET bytes = MAX(bytes - ?, 0)",
                           (freed,))
        return gone

    def keep_only(self, model: str) -> int:
        """Delete the vectors of every embedding model but `model` (after a rebuild switched
        to it, nothing reads them any more) and recount the bytes; how many rows went."""
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            gone = db.execute("DELETE FROM embedding_cache WHERE model != ?", (model,)).rowcount
            db.execute("UPDATE embedding_cache_totals SET bytes = (SELECT COALESCE(SUM(dim), 0)"
                       " * 4 + COUNT(*) * ? FROM embedding_cache)", (ROW_OVERHEAD_BYTES,))
        return int(gone)

    def totals(self) -> CacheTotals:
        with self._connect() as db:
            row = db.execute("SELECT hits, misses, bytes FROM embedding_cache_totals").fetchone()
        return CacheTotals(int(row[0]), int(row[1]), int(row[2]))


def cache_totals(database_path: Path, timeout: float = 2.0) -> CacheTotals:
    """The totals, read-only, for GET /metrics: zeros before any worker made the table.
    Raises sqlite3.Error when the database cannot be read."""
    db = sqlite3.connect(f"file:{database_path}?mode=ro", uri=True, timeout=timeout)
    try:
        made = db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table'"
                          " AND name = 'embedding_cache_totals'").fetchone()
        row = db.execute("SELECT hits, misses, bytes FROM embedding_cache_totals"
                         ).fetchone() if made else None
    finally:
        db.close()
    return CacheTotals(*(int(v) for v in row)) if row else CacheTotals(0, 0, 0)
