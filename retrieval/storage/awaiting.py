"""Documents whose chunk rows are stored and whose vectors are still to come, and the claims of
the tasks that embed them (the table `awaiting_vectors`, made with the store's schema; the store
ends a document's wait whenever it sets its status).

A claim is a task's name for itself, held for a lease: a claim older than the lease belongs to a
task that is dead for certain (its worker's hard time limit is shorter), and the documents it
held are free to claim again; so are those held under the claimer's own name, by an earlier try
of the same task."""

from __future__ import annotations

import time
from dataclasses import dataclass

from retrieval.storage.store import Store, update_document

# Waits that `claim` may take at a moment: of a document being processed, held by nobody, by
# `claim` itself, or under a claim older than the lease (parameters: claim, now - lease).
_CLAIMABLE = ("FROM awaiting_vectors a JOIN documents d ON d.id = a.document_id"
              " WHERE d.status = 'processing'"
              " AND (a.claim IS NULL OR a.claim = ? OR a.claimed_at < ?)")


@dataclass(frozen=True)
class Waiting:
    """What waits, at one moment: uploads not started yet, and texts (chunks) of documents that
    await vectors and that no live claim holds."""

    queued: int
    texts: int


@dataclass(frozen=True)
class Wait:
    """One document's wait: its texts, and who holds it since when (None: nobody)."""

    texts: int
    claim: str | None
    claimed_at: float | None

    def held_by_another(self, claim: str, lease: float) -> bool:
        if self.claim is None or self.claim == claim or self.claimed_at is None:
            return False
        return self.claimed_at >= time.time() - lease


class AwaitingVectors:
    """The wait for vectors of the store's documents."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def add(self, document_id: str, texts: int) -> None:
        """The document (being processed, its chunk rows stored) now awaits vectors for `texts`
        chunks, held by no one."""
        with self.store._connect() as db:
            db.execute("INSERT OR REPLACE INTO awaiting_vectors (document_id, texts, since)"
                       " VALUES (?, ?, ?)", (document_id, texts, time.time()))

    def wait_of(self, document_id: str) -> Wait | None:
        with self.store._connect() as db:
            row = db.execute("SELECT texts, claim, claimed_at FROM awaiting_vectors"
                             " WHERE document_id = ?", (document_id,)).fetchone()
        return Wait(row["texts"], row["claim"], row["claimed_at"]) if row else None

    def waiting(self, claim: str, lease: float) -> Waiting:
        """Uploads queued, and texts awaiting vectors that `claim` could take now."""
        with self.store._connect() as db:
            queued = db.execute("SELECT COUNT(*) FROM documents WHERE status = 'queued'"
                                ).fetchone()[0]
            texts = db.execute(f"SELECT COALESCE(SUM(a.texts), 0) {_CLAIMABLE}",
                               (claim, time.time() - lease)).fetchone()[0]
        return Waiting(int(queued), int(texts))

    def claim(self, claim: str, lease: float, max_texts: int, first: str | None = None,
              only: bool = False) -> list[str]:
        """Claim documents that await vectors and that no live claim holds, `first` (if it
        waits) and then the longest waiting, until the next one would take the texts past
        `max_texts` (one document at least, however many texts it has); their ids. `only`:
        `first` alone, if it can be claimed."""
        now = time.time()
        with self.store._connect() as db:
            db.execute("BEGIN IMMEDIATE")  # no other claimer between the read and the write
            rows = db.execute(
                f"SELECT a.document_id, a.texts {_CLAIMABLE}"
                f"{' AND a.document_id = ?' if only else ''}"
                " ORDER BY a.document_id = ? DESC, a.since, a.document_id",
                (claim, now - lease, *([first] if only else []), first)).fetchall()
            chosen: list[str] = []
            total = 0
            for row in rows:
                if chosen and total + row["texts"] > max_texts:
                    break
                chosen.append(row["document_id"])
                total += row["texts"]
            db.executemany("UPDATE awaiting_vectors SET claim = ?, claimed_at = ?"
                           " WHERE document_id = ?", [(claim, now, d) for d in chosen])
        return chosen

    def holds(self, document_id: str, claim: str) -> bool:
        """Whether `claim` still holds the document's wait (not ended, reset or taken over)."""
        wait = self.wait_of(document_id)
        return wait is not None and wait.claim == claim

    def held_by(self, claim: str) -> list[str]:
        """The documents `claim` holds that still await vectors."""
        with self.store._connect() as db:
            rows = db.execute("SELECT document_id FROM awaiting_vectors WHERE claim = ?"
                              " ORDER BY since, document_id", (claim,)).fetchall()
        return [row[0] for row in rows]

    def release(self, claim: str) -> list[str]:
        """Let go of every document `claim` holds (they wait on, free to claim); their ids."""
        held = self.held_by(claim)
        with self.store._connect() as db:
            db.execute("UPDATE awaiting_vectors SET claim = NULL, claimed_at = NULL"
                       " WHERE claim = ?", (claim,))
        return held

    def finish(self, document_id: str, claim: str, chunks: int) -> bool:
        """Mark the document indexed if `claim` still holds its wait, in one transaction;
        False (nothing changed) if the wait was ended, reset or taken over meanwhile."""
        with self.store._connect() as db:
            ended = db.execute("DELETE FROM awaiting_vectors WHERE document_id = ? AND claim = ?",
                               (document_id, claim)).rowcount
            if not ended:
                return False
            update_document(db, document_id, status="indexed", progress=1.0, chunks=chunks,
                            error_code=None, error_message=None)
        return True
