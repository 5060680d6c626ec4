"""Counts over the stored documents for operators (GET /metrics, GET /readyz), read straight
from SQLite in one query: no model or index is loaded, nothing is written."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from retrieval.storage.store import STATUSES


@dataclass(frozen=True)
class LibraryStats:
    by_status: dict[str, int]  # documents, for every status in STATUSES (0 when none)
    indexed_pages: int  # pages of the indexed PDFs

    @property
    def documents(self) -> int:
        return sum(self.by_status.values())


def library_stats(database_path: Path, timeout: float = 2.0) -> LibraryStats:
    """Raises sqlite3.Error when the database cannot be read (missing, locked, damaged)."""
    db = sqlite3.connect(f"file:{database_path}?mode=ro", uri=True, timeout=timeout)
    try:
        rows = db.execute(
            "SELECT status, COUNT(*), COALESCE(SUM(CASE WHEN status = 'indexed' THEN pages END), 0)"
            " FROM documents GROUP BY status").fetchall()
    finally:
        db.close()
    by_status = dict.fromkeys(STATUSES, 0)
    pages = 0
    for status, count, status_pages in rows:
        by_status[status] = int(count)
        pages += int(status_pages)
    return LibraryStats(by_status, pages)
