"""Celery tasks: thin wrappers that take ids and call the work in `retrieval`."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from celery import Task, shared_task
from celery.exceptions import SoftTimeLimitExceeded
from celery.signals import celeryd_after_setup, worker_init, worker_process_init, worker_ready

from ingest.errors import DocchatError
from retrieval.llm.client import ContextOverflow, LLMUnavailable
from retrieval.meetings import request as meeting_request
from retrieval.meetings.request import MeetingRequest
from retrieval.runtime import Runtime
from retrieval.search import batches, rebuild
from retrieval.search.devices import cuda_problem_in_child
from retrieval.search.embeddings import NonFiniteEmbeddings, cuda_refusal
from retrieval.storage.awaiting import AwaitingVectors
from retrieval.storage.jobs import Job
from retrieval.tables import request as table_request
from retrieval.tables.database import database_path, save_table
from retrieval.tables.request import TableRequest
from workers import cores
from workers.celery_app import (
    EMBED_TASK,
    MAX_RETRY_DELAY,
    SLACK_ANSWER_TASK,
    SLACK_DELIVERY_TASK,
    SLACK_SUMMARY_TASK,
    SLACK_WEBHOOK_TASK,
    TABLE_COLUMNS_TASK,
    TABLE_TASK,
    runtime_for,
)
from workers.recovery import resume_rebuild
from workers.slack import (
    SlackRejected,
    SlackUnavailable,
    SlackUrlRefused,
    answer_reply,
    mask_url,
    meeting_job_reply,
    post_json,
)
from workers.slack_blocks import error_message

# A rebuild re-embeds every chunk: hours on a CPU for millions. It checkpoints and resumes, so
# the limit only stops a runaway.
REBUILD_TIME_LIMIT = 7 * 24 * 3600

# Transient failures, and only those, are tried again: the LLM server restarting
# (LLMUnavailable) and SQLite locked by another process past its wait (DatabaseBusy). The
# pauses double from 10 seconds up to MAX_RETRY_DELAY, each a random share of that so that
# tasks that failed together do not come back together: six retries over at most 10 minutes of
# waiting, which leaves a Slack reply's own delivery retries (14 minutes) inside the 30 minutes
# its response_url stays valid. A bad file or a bad request is never retried: it fails at once
# with its reason.
TRANSIENT_RETRIES = 6
BACKOFF: dict[str, Any] = {"max_retries": TRANSIENT_RETRIES, "retry_backoff": 10,
                           "retry_backoff_max": MAX_RETRY_DELAY, "retry_jitter": True}

log = logging.getLogger(__name__)


class DatabaseBusy(Exception):
    """SQLite stayed locked by another process past its wait (retrieval.storage.store.connect):
    a busy moment, worth another try. The message is for the person who asked."""


@contextmanager
def _locked_database_is_transient() -> Iterator[None]:
    """SQLite's "database is locked" becomes DatabaseBusy, which the tasks retry; any other
    SQLite error (a missing table, a full disk) stays what it is."""
    try:
        yield
    except sqlite3.OperationalError as exc:
        # Python 3.11+ carries SQLite's result code; the low byte is the primary code.
        if getattr(exc, "sqlite_errorcode", 0) & 0xFF not in (sqlite3.SQLITE_BUSY,
                                                               sqlite3.SQLITE_LOCKED):
            raise
        raise DatabaseBusy(
            f"docchat's database stayed busy ({exc}). Try again in a few minutes; if it keeps "
            "happening, tell your administrator.") from exc


def _is_last_try(task: Task) -> bool:
    return bool(task.request.retries >= (task.max_retries or 0))


def _log_retry(task: Task, what: str, exc: Exception) -> None:
    log.warning("%s: %s; trying again later (try %d of %d, task %s)", what, exc,
                task.request.retries + 1, (task.max_retries or 0) + 1, task.request.id)


@shared_task(bind=True, name="workers.tasks.ingest_document", acks_late=True,
             autoretry_for=(DatabaseBusy,), **BACKOFF)
def ingest_document(self: Task, document_id: str) -> str:
    """Parse and chunk one uploaded document, then embed and index it with others waiting, or
    leave it waiting for a later upload's task (retrieval.search.batches) with a safety net
    queued; safe to run twice."""
    runtime = runtime_for(self.app)
    claim = _claim(self)
    outcome = _embedding_work(self, runtime, claim, document_id, lambda: (
        batches.index_or_leave_waiting(runtime, document_id, claim, _queue_helpers)))
    if outcome.waiting:
        _send(embed_waiting, [document_id], countdown=batches.WAIT_LIMIT_S)
    if outcome.indexed:
        _queue_index_switch_when_due(runtime)
    record = runtime.store.get_document(document_id)
    return record.status if record else "missing"


@shared_task(bind=True, name=EMBED_TASK, acks_late=True, autoretry_for=(DatabaseBusy,),
             **BACKOFF)
def embed_waiting(self: Task, document_id: str | None = None) -> str:
    """A document's safety net (`document_id`): embed it if it still waits and no live task
    holds it, and come back later while one does. A helper (None): embed a share of what
    waits once no upload is queued."""
    runtime = runtime_for(self.app)
    claim = _claim(self)
    outcome = _embedding_work(self, runtime, claim, document_id, lambda: (
        batches.embed_waiting(runtime, document_id, claim, _queue_helpers)))
    if outcome.indexed:
        _queue_index_switch_when_due(runtime)
    if document_id is not None and AwaitingVectors(runtime.store).wait_of(document_id):
        _send(embed_waiting, [document_id], countdown=batches.WAIT_LIMIT_S)
        return "waiting"
    return f"indexed {len(outcome.indexed)}"


def _claim(task: Task) -> str:
    """The name a task holds documents under; a retry of the task has the same."""
    return f"task:{task.request.id}"


def _queue_helpers(count: int) -> None:
    for _ in range(count):
        _send(embed_waiting, [None])


def _send(task: Task, args: list[Any], countdown: float | None = None) -> None:
    """Queue a task; a queue that cannot take it is logged: the documents concerned wait,
    processing, until `docchat serve` queues every unfinished upload again at its start."""
    try:
        task.apply_async(args=args, countdown=countdown)
    except Exception as exc:  # kombu raises its own and the transport's errors
        log.error("could not queue %s%r: %s", task.name, args, exc)


def _embedding_work(task: Task, runtime: Runtime, claim: str, own: str | None,
                    work: Callable[[], batches.Outcome]) -> batches.Outcome:
    """Run an ingest or embedding task's `work`. A failure ends the task's own document with
    its reason; the other documents the task held are let go when they may well succeed
    without it (time ran out, the database stayed busy: their safety nets take them up), and
    fail with the same reason when the failure would be theirs too."""
    awaiting = AwaitingVectors(runtime.store)
    logged = {"document_id": own} if own else {}
    what = f"document {own}" if own else "documents waiting for vectors"

    def release() -> None:
        try:
            awaiting.release(claim)
        except sqlite3.Error as exc:  # they wait until the claim's lease ends
            log.error("%s: could not let go of the documents held: %s", what, exc)

    def end_all(code: str, message: str) -> None:
        held = awaiting.held_by(claim)
        for document_id in dict.fromkeys([*([own] if own else []), *held]):
            runtime.store.mark_failed(document_id, code, message)

    try:
        with _locked_database_is_transient():
            return work()
    except SoftTimeLimitExceeded:
        release()
        limit = runtime.settings.task_time_limit
        if own:
            runtime.store.mark_failed(
                own, "processing_timeout",
                f"Processing took longer than {limit} seconds and was stopped. Split the file "
                "into parts and upload them, or ask your administrator to raise "
                "DOCCHAT_TASK_TIME_LIMIT.",
            )
        log.warning("%s timed out (task %s)", what, task.request.id, extra=logged)
    except DatabaseBusy as exc:
        release()
        if not _is_last_try(task):
            _log_retry(task, what, exc)
            raise
        if own:
            runtime.store.mark_failed(own, "database_busy", str(exc))
        raise
    except NonFiniteEmbeddings as exc:  # the server's setting, not the file: no retry helps
        log.error("%s not indexed: %s (task %s)", what, exc, task.request.id, extra=logged)
        end_all(
            "embedding_not_finite",
            "The embedding model produced invalid numbers for this file, so it was not indexed. "
            "This comes from a server setting, not from your file: ask your administrator to "
            "set DOCCHAT_EMBEDDING_PRECISION=fp32, then upload the file again.",
        )
    except Exception:
        log.exception("%s failed unexpectedly (task %s)", what, task.request.id, extra=logged)
        end_all(
            "internal_error",
            "docchat hit an internal error while processing this file. Upload it again; if it "
            "keeps failing, send the server log to your administrator.",
        )
        raise
    return batches.Outcome()


@shared_task(bind=True, name="workers.tasks.rebuild_index", acks_late=True,
             soft_time_limit=REBUILD_TIME_LIMIT, time_limit=REBUILD_TIME_LIMIT + 60,
             autoretry_for=(DatabaseBusy,), **BACKOFF)
def rebuild_index(self: Task) -> str:
    """Rebuild the index for the configured embedding model; search serves the old one until
    the new one is complete. Safe to run twice: a second one finds it busy or current, and a
    retry resumes from the last checkpoint."""
    runtime = runtime_for(self.app)
    with _locked_database_is_transient():
        result = rebuild.rebuild_index(runtime)
        _queue_index_switch_when_due(runtime)  # the new model's index starts flat
    return result


@shared_task(bind=True, name="workers.tasks.switch_index_type", acks_late=True,
             soft_time_limit=REBUILD_TIME_LIMIT, time_limit=REBUILD_TIME_LIMIT + 60,
             autoretry_for=(DatabaseBusy,), **BACKOFF)
def switch_index_type(self: Task) -> str:
    """DOCCHAT_INDEX_TYPE=auto: rebuild an index grown past DOCCHAT_APPROXIMATE_FROM as the
    approximate type; searches use the current one until the switch. Safe to run twice: a
    second one finds it busy or current. Minutes at a million vectors, so it has the rebuild's
    time limit; one killed with its worker is queued again when a worker starts."""
    with _locked_database_is_transient():
        return rebuild.switch_index_type(runtime_for(self.app))


def _queue_index_switch_when_due(runtime: Runtime) -> None:
    """Queue the type switch when `auto` finds the index due, so that the task that noticed
    (an upload) finishes now instead of after the minutes the switch takes."""
    if rebuild.index_switch_due(runtime):
        log.info("the index is past DOCCHAT_APPROXIMATE_FROM=%d vectors: a background switch "
                 "to an approximate index is queued", runtime.settings.approximate_from)
        switch_index_type.delay()


@shared_task(bind=True, name="workers.tasks.run_meeting_job", acks_late=True,
             autoretry_for=(LLMUnavailable, DatabaseBusy), **BACKOFF)
def run_meeting_job(self: Task, job_id: str) -> str:
    """A meeting summary or commitments request that takes long; safe to run twice (a job that
    is done stays done, an interrupted one starts over)."""
    job = _finish_meeting_job(self, job_id)
    return job.status if job else "missing"


def _finish_meeting_job(task: Task, job_id: str) -> Job | None:
    """Run the meeting job unless it has finished already; the job as it ends."""
    def work(runtime: Runtime, job: Job) -> dict[str, Any]:
        # Each step (a part summarized, the parts combined, commitments found) is stored as it
        # starts, with its label: the page polling the job shows it.
        result = meeting_request.run(
            runtime, MeetingRequest.from_json(job.request),
            progress=lambda done, label: runtime.jobs.mark_running(job_id, done, label))
        return result.model_dump(mode="json")

    return _finish_job(task, job_id, "meeting", work, "Split the meeting")


@shared_task(bind=True, name=TABLE_TASK, acks_late=True,
             autoretry_for=(LLMUnavailable, DatabaseBusy), **BACKOFF)
def run_table_job(self: Task, job_id: str) -> str:
    """A table from documents or pasted records; safe to run twice (a job that is done stays
    done, an interrupted one starts over). The finished table also goes into the workspace's
    tables file, where exports and the SQL box read it."""
    def work(runtime: Runtime, job: Job) -> dict[str, Any]:
        request = TableRequest.from_json({**job.request, "job_id": job.id})
        table = table_request.run(
            runtime, request,
            progress=lambda done, label: runtime.jobs.mark_running(job_id, done, label))
        save_table(database_path(runtime.settings.data_dir, job.workspace), table)
        return {"table": table.to_json()}

    job = _finish_job(self, job_id, "table", work, "Make the table from fewer documents")
    return job.status if job else "missing"


@shared_task(bind=True, name=TABLE_COLUMNS_TASK, acks_late=True,
             autoretry_for=(LLMUnavailable, DatabaseBusy), **BACKOFF)
def propose_table_columns(self: Task, job_id: str) -> str:
    """Columns for a table, proposed by the model from a sample of its scope."""
    def work(runtime: Runtime, job: Job) -> dict[str, Any]:
        runtime.jobs.mark_running(job_id, 0.0, "Reading a sample…")
        columns = table_request.columns_for(runtime, TableRequest.from_json(job.request))
        return {"columns": [column.to_json() for column in columns]}

    job = _finish_job(self, job_id, "table columns", work, "Choose fewer documents")
    return job.status if job else "missing"


def _finish_job(task: Task, job_id: str, what: str,
                work: Callable[[Runtime, Job], dict[str, Any]], smaller: str) -> Job | None:
    """Run a job's `work` unless the job has finished already, and store its result or its
    error; the job as it ends. A transient failure is raised for the task to try again (the job
    stays running), unless this was the last try: then the job fails with it. `smaller` says
    how to make a job that ran out of time smaller."""
    runtime = runtime_for(task.app)
    jobs = runtime.jobs
    with _locked_database_is_transient():
        job = jobs.get(job_id)
        if job is None or job.status in ("done", "failed"):
            return job
        jobs.mark_running(job_id)
    try:
        with _locked_database_is_transient():
            result = work(runtime, job)
    except DocchatError as exc:  # a scope that cannot be read, a model that gave nothing usable
        jobs.mark_failed(job_id, exc.code, exc.message)
    except (LLMUnavailable, DatabaseBusy) as exc:
        if not _is_last_try(task):
            _log_retry(task, f"{what} job {job_id}", exc)
            raise
        code = "llm_unavailable" if isinstance(exc, LLMUnavailable) else "database_busy"
        jobs.mark_failed(job_id, code, str(exc))
    except ContextOverflow as exc:
        jobs.mark_failed(job_id, "context_overflow", str(exc))
    except SoftTimeLimitExceeded:
        jobs.mark_failed(job_id, "processing_timeout",
                         f"The job took longer than {runtime.settings.task_time_limit} seconds "
                         f"and was stopped. {smaller}, or raise DOCCHAT_TASK_TIME_LIMIT.")
    except Exception:
        log.exception("%s job %s failed unexpectedly (task %s)", what, job_id, task.request.id,
                      extra={"job_id": job_id})
        jobs.mark_failed(job_id, "internal_error",
                         f"docchat hit an internal error on this {what} job. Try again; if it "
                         "keeps failing, send the server log to your administrator.")
        raise
    else:
        jobs.mark_done(job_id, result)
    return jobs.get(job_id)


# Slack: the work runs first, then its message is delivered by a task of its own, so that a
# delivery retried while Slack is down never redoes the work.

@shared_task(bind=True, name=SLACK_SUMMARY_TASK, acks_late=True,
             autoretry_for=(LLMUnavailable, DatabaseBusy), **BACKOFF)
def summarize_for_slack(self: Task, job_id: str, response_url: str) -> str:
    """/summarize: run the meeting job, then answer the command with its summary and
    commitments, or with why there are none."""
    try:
        _finish_meeting_job(self, job_id)
    finally:
        # A job that fails unexpectedly is marked failed before the error goes on to the
        # worker's log: the person who asked hears of it too. One that will be tried again
        # is still running: nothing is posted yet.
        message = meeting_job_reply(runtime_for(self.app), job_id, response_type="ephemeral")
        if message is not None:
            deliver_to_slack.delay(response_url, message.to_json())
    return "queued" if message is not None else "missing"


@shared_task(bind=True, name=SLACK_ANSWER_TASK, acks_late=True,
             autoretry_for=(LLMUnavailable, DatabaseBusy), **BACKOFF)
def answer_for_slack(self: Task, question: str, collection: str | None,
                     response_url: str) -> str:
    """/ask: answer from the documents (of one collection, when named), with citations."""
    try:
        with _locked_database_is_transient():
            message = answer_reply(runtime_for(self.app), question, collection, "ephemeral")
    except (LLMUnavailable, DatabaseBusy) as exc:
        if not _is_last_try(self):
            _log_retry(self, "a Slack question", exc)
            raise
        message = error_message(str(exc), "ephemeral")
    except Exception:
        log.exception("a Slack question failed unexpectedly (task %s)", self.request.id)
        deliver_to_slack.delay(response_url, error_message(
            "docchat hit an internal error on this question. Try again; if it keeps failing, "
            "send the server log to your administrator.", "ephemeral").to_json())
        raise
    deliver_to_slack.delay(response_url, message.to_json())
    return "queued"


@shared_task(bind=True, name=SLACK_WEBHOOK_TASK, acks_late=True,
             autoretry_for=(LLMUnavailable, DatabaseBusy), **BACKOFF)
def post_meeting_to_slack(self: Task, job_id: str, collection: str) -> str:
    """Summarize an uploaded meeting (a job) and post it to its collection's Slack channel
    through the incoming webhook set for the collection when the summary is ready. A failed
    job is not posted: its error stays on the job for whoever asked."""
    runtime = runtime_for(self.app)
    job = _finish_meeting_job(self, job_id)
    if job is None or job.status != "done":
        return job.status if job else "missing"
    webhook = runtime.webhooks.slack_webhook(job.workspace, collection)
    if webhook is None:
        log.warning("meeting job %s: collection %r has no Slack webhook any more; the summary "
                    "was not posted", job_id, collection, extra={"job_id": job_id})
        return "no_webhook"
    message = meeting_job_reply(runtime, job_id, footer=f"collection {collection}")
    assert message is not None
    deliver_to_slack.delay(webhook, message.to_json())
    return "queued"


# Backoff 1, 2, 4 ... seconds, capped at 5 minutes, each wait a random share of that: eleven
# tries over 14 minutes at most, inside the 30 minutes a response_url stays valid.
SLACK_DELIVERY_RETRIES = 10


@shared_task(bind=True, name=SLACK_DELIVERY_TASK, acks_late=True,
             autoretry_for=(SlackUnavailable,), max_retries=SLACK_DELIVERY_RETRIES,
             retry_backoff=True, retry_backoff_max=MAX_RETRY_DELAY, retry_jitter=True)
def deliver_to_slack(self: Task, url: str, message: dict[str, Any]) -> str:
    """POST a message to a Slack URL; retried while Slack answers 5xx or 429 or cannot be
    reached, given up (and logged) on a 4xx, a URL that is not allowed, or too many tries."""
    hosts = runtime_for(self.app).settings.slack_hosts
    try:
        post_json(url, message, hosts)
    except SlackUnavailable as exc:
        if self.request.retries >= SLACK_DELIVERY_RETRIES:
            log.error("gave up posting to Slack at %s after %d tries: %s", mask_url(url),
                      self.request.retries + 1, exc)
        else:
            log.warning("posting to Slack at %s failed (try %d), retrying: %s", mask_url(url),
                        self.request.retries + 1, exc)
        raise
    except (SlackRejected, SlackUrlRefused) as exc:
        log.error("not posted to Slack at %s: %s", mask_url(url), exc)
        return "rejected"
    return "delivered"


@worker_ready.connect
def _resume_rebuild_on_start(sender: Any = None, **_: Any) -> None:
    """A worker started with a new embedding model (or after a killed rebuild) resumes it."""
    app = getattr(sender, "app", None)
    settings = getattr(app, "docchat_settings", None)
    if settings is not None and resume_rebuild(settings):
        log.info("the embedding model changed: an index rebuild is queued")
    elif settings is not None and settings.index_type == "auto":
        # The task itself decides whether the index is due (this process does not load it):
        # a switch killed with its worker, or a threshold lowered, is taken up again.
        switch_index_type.delay()


@worker_init.connect
def _remember_concurrency(sender: Any = None, **_: Any) -> None:
    cores.remember_concurrency(int(getattr(sender, "concurrency", 0) or 0))


# The exit status of a worker that refuses to start for want of a working GPU (sysexits.h's
# EX_CONFIG: a configuration the machine cannot honour).
EXIT_NO_CUDA = 78


@celeryd_after_setup.connect
def _refuse_without_cuda(sender: Any = None, instance: Any = None, **_: Any) -> None:
    """A worker told to embed on cuda (DOCCHAT_EMBEDDING_DEVICE=cuda) where CUDA does not work
    stops here, after logging is set up and before its pool and consumer start: it would
    otherwise take uploads from the queue it shares with working workers and fail each one as
    an internal error. CUDA is tried in a child process: this one forks the pool, and a
    process that initialized CUDA cannot hand it to its children."""
    settings = getattr(getattr(instance, "app", None), "docchat_settings", None)
    if settings is None or not settings.embedding_device.startswith("cuda"):
        return
    problem = cuda_problem_in_child()
    if problem is None:
        log.info("CUDA works: embedding on %s", settings.embedding_device)
        return
    log.critical("this worker stops without taking a task. %s",
                 cuda_refusal(settings.embedding_device, problem))
    raise SystemExit(EXIT_NO_CUDA)


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
