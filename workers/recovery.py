"""Put unfinished documents back on the queue, so no accepted upload is stranded by a crash."""

from __future__ import annotations

from retrieval.settings import Settings
from retrieval.store import Store
from workers.celery_app import INGEST_TASK, create_celery


def requeue_unfinished(settings: Settings) -> int:
    """Send an ingest task for every queued or processing document; the task is idempotent,
    so a document whose task is still in the queue is simply indexed once."""
    store = Store(settings.database_path)
    unfinished = [d for d in store.list_documents() if d.status in ("queued", "processing")]
    if not unfinished:
        return 0
    celery = create_celery(settings)
    for document in unfinished:
        celery.send_task(INGEST_TASK, args=[document.id])
    return len(unfinished)
