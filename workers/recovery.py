"""Put unfinished work back on the queue, so no accepted upload (and no index rebuild) is
stranded by a crash or a restart."""

from __future__ import annotations

from retrieval.core.settings import Settings
from retrieval.storage.jobs import JobStore
from retrieval.storage.store import Store
from workers.celery_app import (
    INGEST_TASK,
    MEETING_TASK,
    REBUILD_TASK,
    TABLE_COLUMNS_TASK,
    TABLE_TASK,
    create_celery,
)

# The task that runs a job of each kind (every other kind is a meeting's).
JOB_TASKS = {"table": TABLE_TASK, "table_columns": TABLE_COLUMNS_TASK}


def requeue_unfinished(settings: Settings) -> int:
    """Send an ingest task for every queued or processing document, and a task for every
    unfinished job (a meeting's or a table's); the tasks are idempotent, so one still in the
    queue runs once."""
    store = Store(settings.database_path)
    unfinished = store.unfinished_documents()
    job_store = JobStore(settings.database_path)
    jobs = job_store.unfinished()
    if not unfinished and not jobs:
        return 0
    celery = create_celery(settings)
    for document in unfinished:
        celery.send_task(INGEST_TASK, args=[document.id])
    for job_id in jobs:
        job = job_store.get(job_id)
        kind = job.kind if job is not None else ""
        celery.send_task(JOB_TASKS.get(kind, MEETING_TASK), args=[job_id])
    return len(unfinished) + len(jobs)


def resume_rebuild(settings: Settings) -> bool:
    """Queue an index rebuild when the configured embedding model is not the one the index was
    built with (it changed, or a rebuild was interrupted); True if one was queued."""
    store = Store(settings.database_path)
    if store.active_model(settings.embedding_model) == settings.embedding_model:
        return False
    create_celery(settings).send_task(REBUILD_TASK)
    return True
