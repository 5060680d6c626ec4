"""What operators watch the workers by: their logs in DOCCHAT_LOG_FORMAT with the running task's
id and name on every record (retrieval/core/logs.py), and Celery's task events for Flower when
DOCCHAT_TASK_EVENTS asks for them."""

from __future__ import annotations

import logging
from typing import Any

from celery import Celery
from celery._state import get_current_task
from celery.signals import setup_logging

from retrieval.core.logs import configure_logging
from retrieval.core.settings import Settings

log = logging.getLogger(__name__)

_log_format = "text"


class TaskContext(logging.Filter):
    """Adds `task_id` and `task_name` to records logged while a task runs (unless the call set
    them already)."""

    def filter(self, record: logging.LogRecord) -> bool:
        task = get_current_task()
        if task is not None and task.request.id is not None:
            if getattr(record, "task_id", None) is None:
                record.task_id = task.request.id
            if getattr(record, "task_name", None) is None:
                record.task_name = task.name
        return True


def install(app: Celery, settings: Settings) -> None:
    """Called by create_celery: the worker built from `app` logs as `settings` say, and sends
    task events when they are on."""
    global _log_format
    _log_format = settings.log_format
    if not settings.task_events:
        return
    if settings.embedded_broker:
        log.warning("DOCCHAT_TASK_EVENTS needs Redis: the embedded broker cannot broadcast "
                    "events, so none are sent")
        return
    # Task events: received, started, succeeded, failed ... (what Flower shows), plus "sent"
    # from the web app when it queues a task.
    app.conf.worker_send_task_events = True
    app.conf.task_send_sent_event = True


@setup_logging.connect
def _configure_worker_logging(loglevel: Any = None, logfile: str | None = None, **_: Any,
                              ) -> None:
    """Celery leaves logging to this receiver instead of setting up its own (`--loglevel` and
    `--logfile` still apply); pool processes inherit it."""
    configure_logging(_log_format, loglevel or logging.INFO, [TaskContext()], logfile)
