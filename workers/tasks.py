"""Celery tasks: thin wrappers that take ids and call the work in `retrieval`."""

from __future__ import annotations

import logging

from celery import Task, shared_task
from celery.exceptions import SoftTimeLimitExceeded

from retrieval.indexing import index_document
from workers.celery_app import runtime_for

log = logging.getLogger(__name__)


@shared_task(bind=True, name="workers.tasks.ingest_document", acks_late=True)
def ingest_document(self: Task, document_id: str) -> str:
    """Parse, chunk, embed and index one uploaded document; safe to run twice."""
    runtime = runtime_for(self.app)
    try:
        index_document(runtime, document_id)
    except SoftTimeLimitExceeded:
        limit = runtime.settings.parse_time_limit
        runtime.store.mark_failed(
            document_id, "parse_timeout",
            f"Processing took longer than {limit} seconds and was stopped. The file may be "
            "damaged or unusually complex: try re-exporting it, or split it into parts.",
        )
        log.warning("document %s timed out (task %s)", document_id, self.request.id)
    except Exception:
        log.exception("document %s failed unexpectedly (task %s)", document_id, self.request.id)
        runtime.store.mark_failed(
            document_id, "internal_error",
            "docchat hit an internal error while processing this file. Upload it again; if it "
            "keeps failing, send the server log to your administrator.",
        )
        raise
    record = runtime.store.get_document(document_id)
    return record.status if record else "missing"
