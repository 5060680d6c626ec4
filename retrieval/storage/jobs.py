"""Long-running requests (meeting summaries of long transcripts) as jobs: what was asked, how
far it got and what it is doing ("Summarizing part 2 of 5…"), and its result or error, in the
same SQLite file as the documents."""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from dataclasses import dataclass
from typing import Any

from retrieval.storage.store import SQLiteTables, add_column

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    progress REAL NOT NULL DEFAULT 0,
    request TEXT NOT NULL,
    result TEXT,
    error_code TEXT,
    error_message TEXT,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
"""

JOB_STATUSES = ("queued", "running", "done", "failed")


@dataclass(frozen=True)
class Job:
    id: str
    kind: str  # "summarize" or "commitments"
    status: str
    progress: float
    request: dict[str, Any]
    result: dict[str, Any] | None
    error_code: str | None
    error_message: str | None
    created_at: float
    updated_at: float
    workspace: str = "default"  # the team that asked; only it may read the job
    progress_label: str = ""  # what it is doing now, for a person waiting on it

    def to_json(self) -> dict[str, object]:
        error = {"code": self.error_code, "message": self.error_message} if (
            self.error_code) else None
        return {"id": self.id, "kind": self.kind, "status": self.status,
                "progress": self.progress, "progress_label": self.progress_label,
                "result": self.result, "error": error,
                "created_at": self.created_at, "updated_at": self.updated_at}


class JobStore(SQLiteTables):
    SCHEMA = _SCHEMA

    def _upgrade(self, db: sqlite3.Connection) -> None:
        add_column(db, "jobs", "workspace", "TEXT NOT NULL DEFAULT 'default'")
        add_column(db, "jobs", "progress_label", "TEXT NOT NULL DEFAULT ''")

    def add(self, kind: str, request: dict[str, Any], workspace: str) -> Job:
        job_id = uuid.uuid4().hex
        now = time.time()
        with self._connect() as db:
            db.execute(
                "INSERT INTO jobs (id, kind, status, request, created_at, updated_at,"
                " workspace) VALUES (?, ?, 'queued', ?, ?, ?, ?)",
                (job_id, kind, json.dumps(request, ensure_ascii=False), now, now, workspace))
        job = self.get(job_id)
        assert job is not None
        return job

    def get(self, job_id: str) -> Job | None:
        with self._connect() as db:
            row = db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            return None
        data = dict(row)
        data["request"] = json.loads(data["request"])
        data["result"] = json.loads(data["result"]) if data["result"] else None
        return Job(**data)

    def finished(self, workspace: str, kind: str) -> list[Job]:
        """The workspace's jobs of this kind that are done, newest first."""
        with self._connect() as db:
            rows = db.execute("SELECT id FROM jobs WHERE workspace = ? AND kind = ? AND"
                              " status = 'done' ORDER BY created_at DESC, rowid DESC",
                              (workspace, kind)).fetchall()
        return [job for job in (self.get(row[0]) for row in rows) if job is not None]

    def unfinished(self) -> list[str]:
        with self._connect() as db:
            rows = db.execute(
                "SELECT id FROM jobs WHERE status IN ('queued', 'running')").fetchall()
        return [row[0] for row in rows]

    def mark_running(self, job_id: str, progress: float = 0.0, label: str = "") -> None:
        """Running, `progress` of the way (0 to 1), doing what `label` says."""
        self._update(job_id, status="running", progress=progress, progress_label=label)

    def mark_done(self, job_id: str, result: dict[str, Any]) -> None:
        self._update(job_id, status="done", progress=1.0, progress_label="Done",
                     result=json.dumps(result, ensure_ascii=False))

    def mark_failed(self, job_id: str, code: str, message: str) -> None:
        self._update(job_id, status="failed", error_code=code, error_message=message)

    def _update(self, job_id: str, **columns: object) -> None:
        assignments = ", ".join(f"{name} = ?" for name in columns)
        with self._connect() as db:
            db.execute(f"UPDATE jobs SET {assignments}, updated_at = ? WHERE id = ?",
                       (*columns.values(), time.time(), job_id))
