"""The Slack incoming-webhook URL each collection's meeting summaries are posted to, kept in the
same SQLite file as the documents (table `collections`)."""

from __future__ import annotations

import time

from retrieval.storage.store import SQLiteTables

_SCHEMA = """
CREATE TABLE IF NOT EXISTS collections (
    workspace TEXT NOT NULL,
    name TEXT NOT NULL,
    slack_webhook TEXT,
    updated_at REAL NOT NULL,
    PRIMARY KEY (workspace, name)
);
"""


class WebhookStore(SQLiteTables):
    """Settings per collection of a workspace (two teams may both have a 'default'); a
    collection without a row has none of them set."""

    SCHEMA = _SCHEMA

    def slack_webhook(self, workspace: str, collection: str) -> str | None:
        """The incoming-webhook URL the collection's summaries go to, if one is set."""
        with self._connect() as db:
            row = db.execute("SELECT slack_webhook FROM collections WHERE workspace = ?"
                             " AND name = ?", (workspace, collection)).fetchone()
        return str(row[0]) if row and row[0] else None

    def set_slack_webhook(self, workspace: str, collection: str, url: str) -> None:
        with self._connect() as db:
            db.execute(
                "INSERT INTO collections (workspace, name, slack_webhook, updated_at)"
                " VALUES (?, ?, ?, ?) ON CONFLICT(workspace, name) DO UPDATE SET"
                " slack_webhook = excluded.slack_webhook, updated_at = excluded.updated_at",
                (workspace, collection, url, time.time()))

    def clear_slack_webhook(self, workspace: str, collection: str) -> bool:
        """Forget the collection's webhook; False if it had none."""
        with self._connect() as db:
            cursor = db.execute(
                "UPDATE collections SET slack_webhook = NULL, updated_at = ?"
                " WHERE workspace = ? AND name = ? AND slack_webhook IS NOT NULL",
                (time.time(), workspace, collection))
            return cursor.rowcount > 0
