"""Work handed to the Celery workers: the one way a view sends a task, and the one answer when
the broker cannot be reached (503 `queue_unavailable`)."""

from __future__ import annotations

import logging
from typing import Any

from flask import current_app
from kombu.exceptions import OperationalError

from web.context import current_runtime
from web.errors import ApiError

log = logging.getLogger(__name__)

QUEUE_DOWN = ("The processing queue is not reachable: check Redis (DOCCHAT_REDIS_URL) and try "
              "again.")


class QueueUnavailable(ApiError):
    """503 `queue_unavailable`: the broker did not take the task."""

    def __init__(self, message: str) -> None:
        super().__init__(503, "queue_unavailable", message)


def enqueue(task_name: str, *args: Any, job_id: str | None = None,
            message: str = QUEUE_DOWN) -> None:
    """Send the task `task_name` with `args` to the workers. When the broker cannot be reached,
    the job `job_id` (if the task works on one) is marked failed, and QueueUnavailable says
    `message`: what became of the request and what to check.

    The task's result is not kept: nothing reads it (the work's outcome is in SQLite), and
    asking for it first subscribes to the result store, which with Redis down fails after about
    20 s with a RuntimeError instead of the broker's OperationalError."""
    try:
        current_app.extensions["docchat.celery"].send_task(task_name, args=list(args),
                                                           ignore_result=True)
    except OperationalError as exc:
        log.error("the processing queue is not reachable: %s not sent (%s)", task_name, exc,
                  extra={"job_id": job_id} if job_id is not None else None)
        if job_id is not None:
            current_runtime().jobs.mark_failed(job_id, "queue_unavailable",
                                               "The queue was not reachable.")
        raise QueueUnavailable(message) from exc
