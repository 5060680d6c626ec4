"""Celery workers that run ingestion and indexing behind a queue.

`celery -A workers worker` finds the app as `workers.app`, built from DOCCHAT_* variables
on first access rather than at import time.
"""

from __future__ import annotations

from typing import Any

from workers.celery_app import (
    INGEST_TASK,
    MEETING_TASK,
    REBUILD_TASK,
    SLACK_ANSWER_TASK,
    SLACK_SUMMARY_TASK,
    SLACK_WEBHOOK_TASK,
    TABLE_COLUMNS_TASK,
    TABLE_TASK,
    create_celery,
    worker_command,
)

__all__ = ["INGEST_TASK", "MEETING_TASK", "REBUILD_TASK", "SLACK_ANSWER_TASK",
           "SLACK_SUMMARY_TASK", "SLACK_WEBHOOK_TASK", "TABLE_COLUMNS_TASK", "TABLE_TASK",
           "create_celery", "worker_command"]

_app: Any = None


def __getattr__(name: str) -> Any:
    global _app
    if name in ("app", "celery"):
        if _app is None:
            from retrieval.core.settings import Settings

            _app = create_celery(Settings.from_env())
        return _app
    raise AttributeError(name)
