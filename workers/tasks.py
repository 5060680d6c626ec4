"""Celery tasks: thin wrappers that take ids and call the work in `retrieval`."""

from __future__ import annotations

import logging
from typing import Any

from celery import Task, shared_task
from celery.exceptions import SoftTimeLimitExceeded
from celery.signals import worker_init, worker_process_init, worker_ready

from retrieval import meeting_requests, rebuild
from retrieval.indexing import index_document
from retrieval.llm import ContextOverflow, LLMUnavailable
from retrieval.meeting_requests import MeetingInputError, MeetingRequest
from workers import cores
from workers.celery_app import runtime_for
from workers.recovery import resume_rebuild

# A rebuild re-embeds every chunk: hours on a CPU for millions. It checkpoints and resumes, so
# the limit only stops a runaway.
REBUILD_TIME_LIMIT = 7 * 24 * 3600

log = logging.getLogger(__name__)


@shared_task(bind=True, name="workers.tasks.ingest_document", acks_late=True)
def ingest_document(self: Task, document_id: str) -> str:
    """Parse, chunk, embed and index one uploaded document; safe to run twice."""
    runtime = runtime_for(self.app)
    try:
        index_document(runtime, document_id)
    except SoftTimeLimitExceeded:
        limit = runtime.settings.task_time_limit
        runtime.store.mark_failed(
            document_id, "processing_timeout",
            f"Processing took longer than {limit} seconds and was stopped. Split the file into "
            "parts and upload them, or ask your administrator to raise "
            "DOCCHAT_TASK_TIME_LIMIT.",
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


@shared_task(bind=True, name="workers.tasks.rebuild_index", acks_late=True,
             soft_time_limit=REBUILD_TIME_LIMIT, time_limit=REBUILD_TIME_LIMIT + 60)
def rebuild_index(self: Task) -> str:
    """Rebuild the index for the configured embedding model; search serves the old one until
    the new one is complete. Safe to run twice: a second one finds it busy or current."""
    return rebuild.rebuild_index(runtime_for(self.app))


@shared_task(bind=True, name="workers.tasks.run_meeting_job", acks_late=True)
def run_meeting_job(self: Task, job_id: str) -> str:
    """A meeting summary or commitments request that takes long; safe to run twice (a job that
    is done stays done, an interrupted one starts over)."""
    runtime = runtime_for(self.app)
    jobs = runtime.jobs
    job = jobs.get(job_id)
    if job is None or job.status in ("done", "failed"):
        return job.status if job else "missing"
    jobs.mark_running(job_id)
    request = MeetingRequest.from_json(job.request)
    try:
        result = meeting_requests.run(runtime, request,
                                      progress=lambda done: jobs.mark_running(job_id, done))
    except MeetingInputError as exc:
        jobs.mark_failed(job_id, exc.code, exc.message)
        return "failed"
    except LLMUnavailable as exc:
        jobs.mark_failed(job_id, "llm_unavailable", str(exc))
        return "failed"
    except ContextOverflow as exc:
        jobs.mark_failed(job_id, "context_overflow", str(exc))
        return "failed"
    except SoftTimeLimitExceeded:
        jobs.mark_failed(job_id, "processing_timeout",
                         f"The job took longer than {runtime.settings.task_time_limit} seconds "
                         "and was stopped. Split the meeting, or raise DOCCHAT_TASK_TIME_LIMIT.")
        return "failed"
    except Exception:
        log.exception("meeting job %s failed unexpectedly (task %s)", job_id, self.request.id)
        jobs.mark_failed(job_id, "internal_error",
                         "docchat hit an internal error on this meeting. Try again; if it keeps "
                         "failing, send the server log to your administrator.")
        raise
    jobs.mark_done(job_id, result)
    return "done"


@worker_ready.connect
def _resume_rebuild_on_start(sender: Any = None, **_: Any) -> None:
    """A worker started with a new embedding model (or after a killed rebuild) resumes it."""
    app = getattr(sender, "app", None)
    settings = getattr(app, "docchat_settings", None)
    if settings is not None and resume_rebuild(settings):
        log.info("the embedding model changed: an index rebuild is queued")


@worker_init.connect
def _remember_concurrency(sender: Any = None, **_: Any) -> None:
    cores.remember_concurrency(int(getattr(sender, "concurrency", 0) or 0))


@worker_process_init.connect
def _prepare_process(**_: Any) -> None:
    """Each pool process takes its share of the cores and loads the embedding model now, so
    that the first upload does not wait for it."""
    threads = cores.share_cores()
    if threads:
        log.info("this worker process embeds with %d torch threads", threads)
    import workers

    try:
        runtime_for(workers.app).spaces.active().embedder.embed(["warm up"])
    except Exception:  # the first task reports it to the user; the process must live on
        log.exception("the embedding model could not be loaded")
