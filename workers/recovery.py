"""Put unfinished work back on the queue, so no accepted upload (and no index rebuild) is
stranded by a crash or a restart."""

from __future__ import annotations

from retrieval.settings import Settings
from retrieval.store import Store
from workers.celery_app import INGEST_TASK, REBUILD_TASK, create_celery


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


def resume_rebuild(settings: Settings) -> bool:
    """Queue an index rebuild when the configured embedding model is not the one the index was
    built with (it changed, or a rebuild was interrupted); True if one was queued."""
    store = Store(settings.database_path)
    if store.active_model(settings.embedding_model) == settings.embedding_model:
        return False
    create_celery(settings).send_task(REBUILD_TASK)
    return True
