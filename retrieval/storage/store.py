"""SQLite beside the index: documents with their status, and chunk texts keyed by vector id."""

from __future__ import annotations

import json
import random
import re
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol, get_args

from ingest.documents import Chunk
from retrieval.core.settings import Settings

_INDEXES = """
DROP INDEX IF EXISTS documents_by_hash;
CREATE INDEX IF NOT EXISTS documents_by_workspace ON documents(workspace, collection, sha256);
"""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL UNIQUE,
    filename TEXT NOT NULL,
    stored_path TEXT NOT NULL,
    size_bytes INTEGER NOT NULL,
    status TEXT NOT NULL,
    progress REAL NOT NULL DEFAULT 0,
    pages INTEGER,
    chunks INTEGER,
    error_code TEXT,
    error_message TEXT,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    stored_kind TEXT NOT NULL DEFAULT 'pdf',
    kind TEXT,
    collection TEXT NOT NULL DEFAULT 'default',
    sha256 TEXT,
    turns INTEGER,
    empty_pages TEXT,
    workspace TEXT NOT NULL DEFAULT 'default',
    ocr_pages TEXT
);
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY,
    document_id TEXT NOT NULL REFERENCES documents(id),
    ordinal INTEGER NOT NULL,
    page INTEGER,
    text TEXT NOT NULL,
    speakers TEXT,
    turn_start INTEGER,
    turn_end INTEGER,
    start_time TEXT,
    end_time TEXT
);
CREATE INDEX IF NOT EXISTS chunks_by_document ON chunks(document_id);
-- Bumped whenever the set of searchable chunks changes; readers rebuild derived indexes.
CREATE TABLE IF NOT EXISTS generation (id INTEGER PRIMARY KEY CHECK (id = 1), value INTEGER);
INSERT OR IGNORE INTO generation (id, value) VALUES (1, 0);
-- The same, per workspace: one team's upload does not make another's derived indexes (BM25,
-- what its filters allow) stale.
CREATE TABLE IF NOT EXISTS workspace_generation (
    workspace TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
-- Documents parsed and chunked whose vectors are still to come (retrieval.search.batches): a
-- worker that finds enough texts waiting, or no upload left in the queue, claims a batch and
-- embeds it in one call. `claim` names the task embedding it since `claimed_at`.
CREATE TABLE IF NOT EXISTS awaiting_vectors (
    document_id TEXT PRIMARY KEY,
    texts INTEGER NOT NULL,
    since REAL NOT NULL,
    claim TEXT,
    claimed_at REAL
);
-- The embedding model whose index serves searches ('' = the bundled one), and a rebuild for
-- another model under way (target NULL: none).
CREATE TABLE IF NOT EXISTS vector_space (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    model TEXT NOT NULL,
    target TEXT,
    done INTEGER NOT NULL DEFAULT 0,
    total INTEGER NOT NULL DEFAULT 0,
    started_at REAL,
    error TEXT
);
"""

# A collection's name, the same rule for uploads, filters and Slack: 1-64 letters, digits,
# spaces, '.', '_' or '-'.
COLLECTION_NAME = re.compile(r"^\w[\w .-]{0,63}$")
COLLECTION_RULE = "A collection name is 1-64 letters, digits, spaces, '.', '_' or '-'."


def is_collection_name(name: str) -> bool:
    return bool(COLLECTION_NAME.match(name))


DocumentStatus = Literal["queued", "processing", "indexed", "failed"]
STATUSES: tuple[str, ...] = get_args(DocumentStatus)

# A chunk's id (also its vector id in FAISS) is its document's sequence number shifted left by
# this many bits, plus the chunk's ordinal. Ids are therefore a pure function of the document,
# so a rerun after a crash can remove exactly what an earlier attempt added, and nothing else.
CHUNK_ID_BITS = 24
MAX_CHUNKS_PER_DOCUMENT = 1 << CHUNK_ID_BITS
# A document's sequence number is drawn at random below this (not counted up), so the chunk
# ids a search returns say nothing about how many documents other teams have; chunk ids stay
# below 2**52, exact as JavaScript numbers.
SEQ_SPACE = 1 << 28


def chunk_id_range(seq: int) -> tuple[int, int]:
    """[first, end) of the chunk ids that belong to the document with sequence number `seq`."""
    return seq << CHUNK_ID_BITS, (seq + 1) << CHUNK_ID_BITS


@dataclass(frozen=True)
class DocumentRecord:
    id: str
    seq: int
    filename: str
    stored_path: str
    size_bytes: int
    status: str
    progress: float
    pages: int | None
    chunks: int | None
    error_code: str | None
    error_message: str | None
    created_at: float
    updated_at: float
    stored_kind: str = "pdf"  # how the upload is stored: pdf, docx or text
    kind: str | None = None  # what it turned out to be once parsed: pdf, text or meeting
    collection: str = "default"
    sha256: str | None = None
    turns: int | None = None
    empty_pages: str | None = None  # JSON list of page numbers without a text layer
    workspace: str = "default"  # the team it belongs to
    # JSON [{"page", "confidence"}]: the pages whose text OCR read (the rest: the text layer)
    ocr_pages: str | None = None

    def to_json(self) -> dict[str, object]:
        error = None
        if self.error_code:
            error = {"code": self.error_code, "message": self.error_message}
        return {
            "id": self.id,
            "filename": self.filename,
            "collection": self.collection,
            "kind": self.kind,
            "status": self.status,
            "progress": self.progress,
            "pages": self.pages,
            "turns": self.turns,
            "empty_pages": json.loads(self.empty_pages) if self.empty_pages else [],
            "ocr_pages": json.loads(self.ocr_pages) if self.ocr_pages else [],
            "chunks": self.chunks,
            "size_bytes": self.size_bytes,
            "error": error,
            "created_at": self.created_at,
        }


@dataclass(frozen=True)
class DocumentFilter:
    """Which documents a listing shows: always one workspace's; None means no restriction on
    that field."""

    workspace: str
    collection: str | None = None
    status: str | None = None  # one of STATUSES

    def sql(self) -> tuple[str, list[object]]:
        """A WHERE clause over documents, and its parameters."""
        clauses: list[str] = ["workspace = ?"]
        params: list[object] = [self.workspace]
        for column, value in (("collection", self.collection), ("status", self.status)):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        return " AND ".join(clauses), params


@dataclass(frozen=True)
class CollectionCounts:
    name: str
    by_status: dict[str, int]  # every status in STATUSES, 0 when none

    @property
    def documents(self) -> int:
        return sum(self.by_status.values())

    def to_json(self) -> dict[str, object]:
        return {"name": self.name, "documents": self.documents, "by_status": self.by_status}


@dataclass(frozen=True)
class ChunkFilter:
    """Which chunks a search may return: always one workspace's (isolation lives here, not in
    the callers); None means no restriction on that field."""

    workspace: str
    collections: tuple[str, ...] | None = None
    document_ids: tuple[str, ...] | None = None
    kinds: tuple[str, ...] | None = None  # pdf, text, meeting
    speakers: tuple[str, ...] | None = None  # chunk has at least one of them
    created_from: float | None = None  # document upload time, seconds since the epoch
    created_to: float | None = None

    @property
    def workspace_only(self) -> bool:
        """True when nothing but the workspace narrows the search."""
        return all(getattr(self, name) is None for name in self.__dataclass_fields__
                   if name != "workspace")

    def sql(self) -> tuple[str, list[object]]:
        """A WHERE fragment over chunks c JOIN documents d, and its parameters."""
        clauses: list[str] = ["d.status = 'indexed'", "d.workspace = ?"]
        params: list[object] = [self.workspace]
        for column, values in (("d.collection", self.collections), ("d.id", self.document_ids),
                               ("d.kind", self.kinds)):
            if values is not None:
                clauses.append(f"{column} IN ({','.join('?' * len(values))})")
                params.extend(values)
        if self.speakers is not None:
            marks = ",".join("?" * len(self.speakers))
            clauses.append(f"EXISTS (SELECT 1 FROM json_each(c.speakers) WHERE value IN ({marks}))")
            params.extend(self.speakers)
        if self.created_from is not None:
            clauses.append("d.created_at >= ?")
            params.append(self.created_from)
        if self.created_to is not None:
            clauses.append("d.created_at <= ?")
            params.append(self.created_to)
        return " AND ".join(clauses), params


@dataclass(frozen=True)
class StoredChunk:
    id: int
    document_id: str
    filename: str
    ordinal: int
    page: int | None
    text: str
    speakers: tuple[str, ...] = ()
    turn_start: int | None = None
    turn_end: int | None = None
    start_time: str | None = None
    end_time: str | None = None
    workspace: str = "default"


@dataclass(frozen=True)
class RebuildState:
    target: str  # the embedding model the new index is built with ('' = bundled)
    done: int  # chunks embedded so far
    total: int
    started_at: float | None
    error: str | None  # why the last attempt stopped, if it failed

    def to_json(self) -> dict[str, object]:
        return {"model": self.target or "bundled", "done": self.done, "total": self.total,
                "started_at": self.started_at, "error": self.error}


def add_column(db: sqlite3.Connection, table: str, column: str, declaration: str) -> None:
    """Add a column that a database made by an older docchat lacks."""
    present = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
    if column not in present:
        db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {declaration}")


@contextmanager
def connect(path: Path, timeout: float = 30) -> Iterator[sqlite3.Connection]:
    """A connection to docchat's SQLite file: rows by name, committed on success, rolled back
    on error, closed after; a write waits up to `timeout` seconds for another one's lock."""
    db = sqlite3.connect(path, timeout=timeout)
    db.row_factory = sqlite3.Row
    try:
        with db:
            yield db
    finally:
        db.close()


class SQLiteTables:
    """Tables in docchat's SQLite file, created when missing; safe to share between processes
    (WAL). `_upgrade` brings a database made by an older docchat up to date."""

    SCHEMA = ""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(self.SCHEMA)
            self._upgrade(db)

    def _upgrade(self, db: sqlite3.Connection) -> None:
        """Nothing to upgrade unless a subclass says so."""

    def _connect(self) -> AbstractContextManager[sqlite3.Connection]:
        return connect(self.path)


class Store(SQLiteTables):
    """Documents and chunks."""

    SCHEMA = _SCHEMA

    def _upgrade(self, db: sqlite3.Connection) -> None:
        # Databases from before workspaces: every document was the one team's.
        add_column(db, "documents", "workspace", "TEXT NOT NULL DEFAULT 'default'")
        add_column(db, "documents", "ocr_pages", "TEXT")  # before scanned pages were read
        db.executescript(_INDEXES)

    def add_document(self, document_id: str, filename: str, stored_path: Path, size_bytes: int,
                     *, workspace: str, stored_kind: str = "pdf", collection: str = "default",
                     sha256: str | None = None) -> DocumentRecord:
        now = time.time()
        draw = random.SystemRandom()
        with self._connect() as db:
            for _ in range(16):
                seq = draw.randrange(1, SEQ_SPACE)
                if db.execute("SELECT 1 FROM documents WHERE seq = ?", (seq,)).fetchone():
                    continue  # taken: draw again
                db.execute(
                    "INSERT INTO documents (id, seq, filename, stored_path, size_bytes, status,"
                    " progress, created_at, updated_at, stored_kind, collection, sha256,"
                    " workspace) VALUES (?, ?, ?, ?, ?, 'queued', 0, ?, ?, ?, ?, ?, ?)",
                    (document_id, seq, filename, str(stored_path), size_bytes, now, now,
                     stored_kind, collection, sha256, workspace),
                )
                break
            else:
                raise RuntimeError("no free document sequence number after 16 draws")
        record = self.get_document(document_id)
        assert record is not None
        return record

    def get_document(self, document_id: str) -> DocumentRecord | None:
        with self._connect() as db:
            row = db.execute("SELECT * FROM documents WHERE id = ?", (document_id,)).fetchone()
        return DocumentRecord(**dict(row)) if row else None

    def document_in(self, workspace: str, document_id: str) -> DocumentRecord | None:
        """The document, if it belongs to `workspace`: how every request names a document."""
        with self._connect() as db:
            row = db.execute("SELECT * FROM documents WHERE id = ? AND workspace = ?",
                             (document_id, workspace)).fetchone()
        return DocumentRecord(**dict(row)) if row else None

    def find_duplicate(self, workspace: str, collection: str, sha256: str,
                       ) -> DocumentRecord | None:
        """An earlier upload of the same bytes to the collection that did not fail."""
        with self._connect() as db:
            row = db.execute(
                "SELECT * FROM documents WHERE workspace = ? AND collection = ? AND sha256 = ?"
                " AND status != 'failed' ORDER BY created_at LIMIT 1",
                (workspace, collection, sha256),
            ).fetchone()
        return DocumentRecord(**dict(row)) if row else None

    def list_documents(self, where: DocumentFilter, limit: int | None = None,
                       offset: int = 0) -> list[DocumentRecord]:
        """Documents newest first (ties by upload order, so pages never overlap); `limit`
        None means all of them."""
        clause, params = where.sql()
        with self._connect() as db:
            rows = db.execute(
                f"SELECT * FROM documents WHERE {clause} ORDER BY created_at DESC, rowid DESC"
                " LIMIT ? OFFSET ?", [*params, -1 if limit is None else limit, offset],
            ).fetchall()
        return [DocumentRecord(**dict(row)) for row in rows]

    def unfinished_documents(self) -> list[DocumentRecord]:
        """Every workspace's documents that are queued or being processed."""
        with self._connect() as db:
            rows = db.execute("SELECT * FROM documents WHERE status IN ('queued', 'processing')"
                              " ORDER BY rowid").fetchall()
        return [DocumentRecord(**dict(row)) for row in rows]

    def count_documents(self, where: DocumentFilter) -> int:
        clause, params = where.sql()
        with self._connect() as db:
            return int(db.execute(f"SELECT COUNT(*) FROM documents WHERE {clause}",
                                  params).fetchone()[0])

    def collections(self, workspace: str) -> list[CollectionCounts]:
        """Every collection of the workspace that holds a document, by name, with its
        documents by status."""
        with self._connect() as db:
            rows = db.execute("SELECT collection, status, COUNT(*) FROM documents"
                              " WHERE workspace = ? GROUP BY collection, status"
                              " ORDER BY collection", (workspace,)).fetchall()
        found: dict[str, dict[str, int]] = {}
        for name, status, count in rows:
            found.setdefault(name, dict.fromkeys(STATUSES, 0))[status] = count
        return [CollectionCounts(name, by_status) for name, by_status in found.items()]

    def mark_processing(self, document_id: str, progress: float) -> None:
        self._update(document_id, status="processing", progress=progress,
                     error_code=None, error_message=None)

    def requeue(self, document_id: str) -> None:
        """Back to `queued`, for re-indexing: the ingest task then starts it over."""
        self._update(document_id, status="queued", progress=0.0, error_code=None,
                     error_message=None)

    def mark_progress(self, document_id: str, progress: float) -> None:
        self._update(document_id, progress=progress)

    def mark_parsed(self, document_id: str, kind: str, pages: int | None, turns: int | None,
                    empty_pages: list[int], ocr_pages: dict[int, float] | None = None) -> None:
        """What the parse found; `ocr_pages`: the confidence of each page OCR read, by number."""
        read = [{"page": page, "confidence": round(confidence, 3)}
                for page, confidence in sorted((ocr_pages or {}).items())]
        self._update(document_id, kind=kind, pages=pages, turns=turns,
                     empty_pages=json.dumps(empty_pages) if empty_pages else None,
                     ocr_pages=json.dumps(read) if read else None)

    def mark_indexed(self, document_id: str, chunks: int) -> None:
        # Bumps the generations even when it was indexed already (a re-index in place).
        self._update(document_id, status="indexed", progress=1.0, chunks=chunks,
                     error_code=None, error_message=None)

    def delete_document(self, document_id: str) -> DocumentRecord | None:
        """Remove the document and its chunk rows; returns what was removed."""
        record = self.get_document(document_id)
        if record is None:
            return None
        with self._connect() as db:
            db.execute("DELETE FROM chunks WHERE document_id = ?", (document_id,))
            db.execute("DELETE FROM awaiting_vectors WHERE document_id = ?", (document_id,))
            db.execute("DELETE FROM documents WHERE id = ?", (document_id,))
            _bump_generations(db, record.workspace)
        return record

    def generation(self) -> int:
        """Changes whenever the searchable chunks of any workspace change, and when a document
        starts or ends processing (its vectors may be in the index before it is indexed)."""
        with self._connect() as db:
            return int(db.execute("SELECT value FROM generation").fetchone()[0])

    def generations(self, workspace: str) -> tuple[int, int]:
        """(`generation()`, the workspace's own): the second changes only when the workspace's
        searchable chunks do (a document of it indexed, re-indexed, taken out or deleted)."""
        with self._connect() as db:
            row = db.execute(
                "SELECT g.value, COALESCE(w.value, 0) FROM generation g LEFT JOIN"
                " workspace_generation w ON w.workspace = ? WHERE g.id = 1", (workspace,),
            ).fetchone()
        return int(row[0]), int(row[1])

    def workspace_generation(self, workspace: str) -> int:
        return self.generations(workspace)[1]

    def searchable_chunks(self, workspace: str) -> tuple[list[int], list[str]]:
        """Ids and texts of every chunk of the workspace's indexed documents, by id."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT c.id, c.text FROM chunks c JOIN documents d ON d.id = c.document_id"
                " WHERE d.status = 'indexed' AND d.workspace = ? ORDER BY c.id", (workspace,)
            ).fetchall()
        return [row[0] for row in rows], [row[1] for row in rows]

    def all_chunk_ids(self) -> list[int]:
        """Every chunk row, whatever its document's status, by id."""
        with self._connect() as db:
            return [row[0] for row in db.execute("SELECT id FROM chunks ORDER BY id")]

    def chunk_texts(self, ids: Sequence[int]) -> dict[int, tuple[str, str]]:
        """(workspace, text) of the chunk rows among `ids` that still exist."""
        if not ids:
            return {}
        with self._connect() as db:
            rows = db.execute(
                "SELECT c.id, d.workspace, c.text FROM chunks c JOIN documents d"
                f" ON d.id = c.document_id WHERE c.id IN ({','.join('?' * len(ids))})",
                list(ids)).fetchall()
        return {row[0]: (row[1], row[2]) for row in rows}

    # ---- which embedding model serves searches, and a rebuild for another one ----

    def active_model(self, default: str) -> str:
        """The embedding model the searchable index was built with; a new store takes
        `default` (the configured model), since it has nothing to rebuild."""
        with self._connect() as db:
            db.execute("INSERT OR IGNORE INTO vector_space (id, model) VALUES (1, ?)", (default,))
            return str(db.execute("SELECT model FROM vector_space").fetchone()[0])

    def rebuild_state(self) -> RebuildState | None:
        """The rebuild under way or last failed, if any."""
        with self._connect() as db:
            row = db.execute("SELECT target, done, total, started_at, error FROM vector_space"
                             " WHERE target IS NOT NULL").fetchone()
        return RebuildState(**dict(row)) if row else None

    def begin_rebuild(self, target: str, done: int, total: int) -> None:
        with self._connect() as db:
            db.execute("UPDATE vector_space SET target = ?, done = ?, total = ?,"
                       " started_at = ?, error = NULL", (target, done, total, time.time()))

    def rebuild_progress(self, done: int) -> None:
        with self._connect() as db:
            db.execute("UPDATE vector_space SET done = ?", (done,))

    def fail_rebuild(self, target: str, message: str) -> None:
        with self._connect() as db:
            db.execute("UPDATE vector_space SET target = ?, error = ?", (target, message))

    def switch_model(self, model: str) -> None:
        """Searches use `model`'s index from now on; no rebuild is under way any more."""
        with self._connect() as db:
            db.execute("UPDATE vector_space SET model = ?, target = NULL, done = 0, total = 0,"
                       " started_at = NULL, error = NULL", (model,))

    def holds_only(self, workspace: str) -> bool:
        """True when every indexed document is the workspace's (one team, or a test): its
        searches need no per-chunk filter."""
        with self._connect() as db:
            row = db.execute("SELECT 1 FROM documents WHERE workspace != ? AND status IN"
                             " ('indexed', 'processing') LIMIT 1", (workspace,)).fetchone()
        return row is None

    def documents_matching(self, where: ChunkFilter, limit: int) -> list[str]:
        """Up to `limit` ids of the documents that hold chunks `where` allows, in upload
        order."""
        clause, params = where.sql()
        with self._connect() as db:
            rows = db.execute(
                "SELECT d.id FROM documents d WHERE EXISTS (SELECT 1 FROM chunks c"
                f" WHERE c.document_id = d.id AND {clause}) ORDER BY d.rowid LIMIT ?",
                [*params, limit],
            ).fetchall()
        return [row[0] for row in rows]

    def chunk_ids_matching(self, where: ChunkFilter) -> list[int]:
        clause, params = where.sql()
        with self._connect() as db:
            rows = db.execute(
                "SELECT c.id FROM chunks c JOIN documents d ON d.id = c.document_id"
                f" WHERE {clause} ORDER BY c.id", params,
            ).fetchall()
        return [row[0] for row in rows]

    def neighbours(self, chunk: StoredChunk) -> dict[int, StoredChunk]:
        """The chunks right before and after `chunk` in its document, by ordinal."""
        return {c.ordinal: c for c in self._chunks_where(
            "c.document_id = ? AND c.ordinal IN (?, ?)",
            [chunk.document_id, chunk.ordinal - 1, chunk.ordinal + 1]).values()}

    def chunks_in_range(self, document_id: str, first: int, last: int) -> list[StoredChunk]:
        """The document's chunks with ordinals first..last, in order."""
        found = self._chunks_where("c.document_id = ? AND c.ordinal BETWEEN ? AND ?",
                                   [document_id, first, last])
        return sorted(found.values(), key=lambda c: c.ordinal)

    def mark_failed(self, document_id: str, code: str, message: str) -> None:
        self._update(document_id, status="failed", error_code=code, error_message=message)

    def _update(self, document_id: str, **columns: object) -> None:
        """Set columns of a document (see `update_document`)."""
        with self._connect() as db:
            update_document(db, document_id, **columns)

    def replace_chunks(self, document: DocumentRecord, chunks: Sequence[Chunk]) -> list[int]:
        """Replace the document's chunk rows with these; returns their ids, in order."""
        if len(chunks) > MAX_CHUNKS_PER_DOCUMENT:
            raise ValueError(f"{len(chunks)} chunks exceed {MAX_CHUNKS_PER_DOCUMENT}")
        first, _ = chunk_id_range(document.seq)
        ids = [first + i for i in range(len(chunks))]
        with self._connect() as db:
            exists = db.execute("SELECT 1 FROM documents WHERE id = ?", (document.id,))
            if exists.fetchone() is None:
                raise LookupError(f"document {document.id} was deleted")
            db.execute("DELETE FROM chunks WHERE document_id = ?", (document.id,))
            db.executemany(
                "INSERT INTO chunks (id, document_id, ordinal, page, text, speakers, turn_start,"
                " turn_end, start_time, end_time) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(chunk_id, document.id, c.ordinal, c.page, c.text,
                  json.dumps(list(c.speakers)) if c.speakers else None,
                  c.turn_start, c.turn_end, c.start, c.end)
                 for chunk_id, c in zip(ids, chunks, strict=True)],
            )
        return ids

    def chunk_texts_of(self, document_id: str) -> tuple[list[int], list[str]]:
        """The document's chunk rows whatever its status (one awaiting vectors): their ids and
        texts, in order."""
        with self._connect() as db:
            rows = db.execute("SELECT id, text FROM chunks WHERE document_id = ? ORDER BY id",
                              (document_id,)).fetchall()
        return [row[0] for row in rows], [row[1] for row in rows]

    def chunks_by_id(self, ids: Iterable[int]) -> dict[int, StoredChunk]:
        wanted = list(ids)
        if not wanted:
            return {}
        return self._chunks_where(f"c.id IN ({','.join('?' * len(wanted))})", wanted)

    def _chunks_where(self, clause: str, params: Sequence[object]) -> dict[int, StoredChunk]:
        with self._connect() as db:
            rows = db.execute(
                "SELECT c.id, c.document_id, d.filename, c.ordinal, c.page, c.text, c.speakers,"
                " c.turn_start, c.turn_end, c.start_time, c.end_time, d.workspace FROM chunks c"
                f" JOIN documents d ON d.id = c.document_id WHERE {clause}"
                " AND d.status = 'indexed'",
                params,
            ).fetchall()
        return {row["id"]: _stored_chunk(dict(row)) for row in rows}


def _stored_chunk(row: dict[str, Any]) -> StoredChunk:
    row["speakers"] = tuple(json.loads(row["speakers"])) if row["speakers"] else ()
    return StoredChunk(**row)



class WithStore(Protocol):
    """A process's settings and store, what all work on stored documents takes (the rooms above
    add what else they use; retrieval.runtime.Runtime has it all)."""

    @property
    def settings(self) -> Settings: ...
    @property
    def store(self) -> Store: ...


def update_document(db: sqlite3.Connection, document_id: str, **columns: object) -> None:
    """Set columns of a document; in the same transaction, a status that makes its chunks
    searchable or stops them being so bumps the generations (the store's and the workspace's),
    one that starts or ends processing the store's (progress reports within `processing`
    neither). Any status set ends the document's wait for vectors: a new attempt starts over,
    an indexed, failed or queued document waits for none."""
    assignments = ", ".join(f"{name} = ?" for name in columns)
    before = None
    if "status" in columns:
        before = db.execute("SELECT status, workspace FROM documents WHERE id = ?",
                            (document_id,)).fetchone()
        db.execute("DELETE FROM awaiting_vectors WHERE document_id = ?", (document_id,))
    db.execute(
        f"UPDATE documents SET {assignments}, updated_at = ? WHERE id = ?",
        (*columns.values(), time.time(), document_id),
    )
    if before is None:
        return
    status, was = columns["status"], before[0]
    if status == "indexed" or (status != was and "indexed" in (status, was)):
        _bump_generations(db, before[1])  # the workspace's searchable chunks change
    elif status != was and "processing" in (status, was):
        # Its vectors may enter the index from now on (or have stopped doing so): a store
        # that held one team's documents only may hold another's now.
        db.execute("UPDATE generation SET value = value + 1")


def _bump_generations(db: sqlite3.Connection, workspace: str) -> None:
    db.execute("UPDATE generation SET value = value + 1")
    db.execute("INSERT INTO workspace_generation (workspace, value) VALUES (?, 1)"
               " ON CONFLICT (workspace) DO UPDATE SET value = value + 1", (workspace,))
