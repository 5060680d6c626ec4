"""The tasks' retry policy, run eagerly (Celery retries at once instead of after the backoff):
transient failures (the LLM server down, SQLite locked) are tried again a bounded number of
times and then end with a clear reason; a bad file or any other error is never retried."""

from __future__ import annotations

import fcntl
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from celery.utils.time import get_exponential_backoff_interval

from retrieval.core.settings import Settings
from retrieval.llm.client import LLMUnavailable
from retrieval.meetings.request import MeetingRequest
from retrieval.meetings.results import MeetingResult
from retrieval.runtime import Runtime
from retrieval.search import batches
from retrieval.search.batches import Outcome
from tests.conftest import store_upload
from workers import create_celery
from workers.celery_app import (
    EMBED_TASK,
    HARD_LIMIT_GRACE,
    INGEST_TASK,
    MAX_RETRY_DELAY,
    MEETING_TASK,
    REBUILD_TASK,
    SLACK_ANSWER_TASK,
    SLACK_DELIVERY_TASK,
    SLACK_SUMMARY_TASK,
    SLACK_WEBHOOK_TASK,
    WORKER_START_SECONDS,
    visibility_timeout,
)
from workers.tasks import TRANSIENT_RETRIES, DatabaseBusy

SLACK_URL_LIFETIME = 30 * 60  # a response_url takes messages for 30 minutes


@pytest.fixture()
def celery(tmp_path: Path):  # type: ignore[no-untyped-def]
    import workers.tasks  # noqa: F401 - registers the tasks

    return create_celery(Settings(data_dir=tmp_path / "data"))


@pytest.fixture()
def runtime(celery) -> Runtime:  # type: ignore[no-untyped-def]
    from workers.celery_app import runtime_for

    return runtime_for(celery)


def locked_error(tmp_path: Path) -> sqlite3.OperationalError:
    """A real "database is locked", as SQLite raises it when another process holds the lock."""
    path = tmp_path / "locked.sqlite"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        sqlite3.connect(path, timeout=0).execute("SELECT 1 FROM sqlite_master")
    except sqlite3.OperationalError as exc:
        return exc
    finally:
        holder.close()
    raise AssertionError("the database was not locked")


def worst_case_waits(task: Any) -> float:
    """Seconds a task waits in all before its last try, with the longest backoff each time."""
    return sum(get_exponential_backoff_interval(int(task.retry_backoff), retries,
                                                task.retry_backoff_max, full_jitter=False)
               for retries in range(task.max_retries))


def test_a_pool_process_has_time_to_load_its_models_before_celery_gives_up_on_it() -> None:
    """Celery kills a pool process that has not said it is up within 4 s; ours load torch and
    the embedding model first (workers.tasks._prepare_process), a CUDA context too on a GPU."""
    app = create_celery(Settings(redis_url="redis://127.0.0.1:1/0"))
    assert app.conf.worker_proc_alive_timeout == WORKER_START_SECONDS >= 60


def test_a_worker_holds_a_task_in_hand_only_where_no_other_worker_reads(tmp_path) -> None:
    """Redis is shared by every worker: a task held by a busy one would wait while another
    idles. The embedded broker is polled and only the serve command's worker reads it: with a
    task in hand, a process that finished one starts the next without waiting for a poll."""
    shared = create_celery(Settings(redis_url="redis://127.0.0.1:1/0"))
    embedded = create_celery(Settings(data_dir=tmp_path / "data"))
    assert shared.conf.worker_prefetch_multiplier == 1
    assert embedded.conf.worker_prefetch_multiplier == 2


@pytest.mark.parametrize("task_time_limit", [30, 3600, 24 * 3600])
def test_redis_never_hands_a_running_task_to_a_second_worker(task_time_limit: int) -> None:
    settings = Settings(redis_url="redis://127.0.0.1:1/0", task_time_limit=task_time_limit)
    app = create_celery(settings)
    timeout = app.conf.broker_transport_options["visibility_timeout"]
    assert timeout == visibility_timeout(settings)
    # The longest a live worker holds a task unacknowledged: a retry's pause, then the run up
    # to its hard time limit.
    assert app.conf.task_time_limit == task_time_limit + HARD_LIMIT_GRACE
    assert timeout > MAX_RETRY_DELAY + app.conf.task_time_limit


def test_a_rebuild_delivered_again_while_one_runs_returns_busy(celery, runtime) -> None:
    """The rebuild may outlive the visibility timeout; its second delivery must be harmless."""
    runtime.settings.data_dir.mkdir(parents=True, exist_ok=True)
    with open(runtime.settings.rebuild_lock_path, "a+") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        assert celery.tasks[REBUILD_TASK].apply().get() == "busy"


def test_transient_errors_only_are_retried_and_within_bounds(celery) -> None:
    tasks = celery.tasks
    assert tasks[INGEST_TASK].autoretry_for == (DatabaseBusy,)
    assert tasks[EMBED_TASK].autoretry_for == (DatabaseBusy,)
    for name in (MEETING_TASK, SLACK_SUMMARY_TASK, SLACK_ANSWER_TASK, SLACK_WEBHOOK_TASK):
        assert set(tasks[name].autoretry_for) == {LLMUnavailable, DatabaseBusy}, name
    for name in (INGEST_TASK, EMBED_TASK, MEETING_TASK, SLACK_SUMMARY_TASK, SLACK_ANSWER_TASK,
                 SLACK_WEBHOOK_TASK, REBUILD_TASK, SLACK_DELIVERY_TASK):
        task = tasks[name]
        assert task.max_retries is not None and task.retry_jitter, name
        assert task.retry_backoff_max <= MAX_RETRY_DELAY, name
    # A Slack reply is worked on, then delivered: both retry schedules fit the URL's lifetime.
    summary, delivery = tasks[SLACK_SUMMARY_TASK], tasks[SLACK_DELIVERY_TASK]
    assert worst_case_waits(summary) + worst_case_waits(delivery) < SLACK_URL_LIFETIME - 5 * 60


def test_ingest_tries_again_while_the_database_is_locked(celery, runtime, tmp_path,
                                                         monkeypatch, ntsb_pdf) -> None:
    record = store_upload(runtime, ntsb_pdf)
    error, calls = locked_error(tmp_path), []

    def index_document(rt: Runtime, document_id: str, *_: Any) -> Outcome:
        calls.append(document_id)
        if len(calls) < 3:
            raise error
        rt.store.mark_indexed(document_id, chunks=7)
        return Outcome(indexed=(document_id,))

    monkeypatch.setattr(batches, "index_or_leave_waiting", index_document)
    assert celery.tasks[INGEST_TASK].apply(args=[record.id]).get() == "indexed"
    assert len(calls) == 3


def test_ingest_fails_with_a_reason_when_the_database_stays_locked(
        celery, runtime, tmp_path, monkeypatch, ntsb_pdf) -> None:
    record = store_upload(runtime, ntsb_pdf)
    error, calls = locked_error(tmp_path), []

    def index_document(rt: Runtime, document_id: str, *_: Any) -> Outcome:
        calls.append(document_id)
        raise error

    monkeypatch.setattr(batches, "index_or_leave_waiting", index_document)
    result = celery.tasks[INGEST_TASK].apply(args=[record.id])
    assert result.failed() and isinstance(result.result, DatabaseBusy)
    assert len(calls) == TRANSIENT_RETRIES + 1
    failed = runtime.store.get_document(record.id)
    assert failed.status == "failed" and failed.error_code == "database_busy"
    assert "database stayed busy" in failed.error_message
    assert "Try again in a few minutes" in failed.error_message


def test_other_database_errors_are_not_retried(celery, runtime, monkeypatch,
                                               ntsb_pdf) -> None:
    record = store_upload(runtime, ntsb_pdf)
    calls = []

    def index_document(rt: Runtime, document_id: str, *_: Any) -> Outcome:
        calls.append(document_id)
        sqlite3.connect(":memory:").execute("SELECT * FROM no_such_table")
        return Outcome()

    monkeypatch.setattr(batches, "index_or_leave_waiting", index_document)
    result = celery.tasks[INGEST_TASK].apply(args=[record.id])
    assert result.failed() and isinstance(result.result, sqlite3.OperationalError)
    assert len(calls) == 1
    assert runtime.store.get_document(record.id).error_code == "internal_error"


def test_a_bad_file_fails_at_once_with_its_message(celery, runtime, tmp_path, monkeypatch,
                                                   ntsb_pdf) -> None:
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(ntsb_pdf.read_bytes()[:2000])
    record = store_upload(runtime, broken)
    calls = []

    original = batches.index_or_leave_waiting

    def index_document(rt: Runtime, document_id: str, *rest: Any) -> Outcome:
        calls.append(document_id)
        return original(rt, document_id, *rest)

    monkeypatch.setattr(batches, "index_or_leave_waiting", index_document)
    assert celery.tasks[INGEST_TASK].apply(args=[record.id]).get() == "failed"
    assert len(calls) == 1
    failed = runtime.store.get_document(record.id)
    assert failed.error_code in {"unreadable_pdf", "no_text_layer"}
    assert "broken.pdf" in failed.error_message


def add_job(runtime: Runtime) -> str:
    request = MeetingRequest(task="summarize", text="Anna: I will send the contract by Friday.")
    return runtime.jobs.add("summarize", request.to_json(), "default").id


def llm_down_then_up(monkeypatch, failures: int) -> list[int]:  # type: ignore[no-untyped-def]
    """meeting_requests.run fails `failures` times as if the LLM server were down, then works."""
    calls: list[int] = []

    def run(runtime: Runtime, request: MeetingRequest, **_: Any) -> MeetingResult:
        calls.append(1)
        if len(calls) <= failures:
            raise LLMUnavailable("The language model server is not reachable.")
        return MeetingResult(title="sync", summary="Anna sends the contract.", decisions=[],
                             open_questions=[])

    monkeypatch.setattr("retrieval.meetings.request.run", run)
    return calls


def test_a_meeting_job_waits_for_the_llm_server_to_come_back(celery, runtime,
                                                             monkeypatch) -> None:
    calls = llm_down_then_up(monkeypatch, failures=2)
    job_id = add_job(runtime)
    assert celery.tasks[MEETING_TASK].apply(args=[job_id]).get() == "done"
    assert len(calls) == 3
    assert runtime.jobs.get(job_id).result["summary"] == "Anna sends the contract."


def test_a_meeting_job_fails_with_llm_unavailable_after_the_last_try(celery, runtime,
                                                                     monkeypatch) -> None:
    calls = llm_down_then_up(monkeypatch, failures=100)
    job_id = add_job(runtime)
    assert celery.tasks[MEETING_TASK].apply(args=[job_id]).get() == "failed"
    assert len(calls) == TRANSIENT_RETRIES + 1
    job = runtime.jobs.get(job_id)
    assert job.error_code == "llm_unavailable" and "not reachable" in job.error_message


class Deliveries:
    """Stands in for the delivery task: records what would be posted to Slack."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []

    def delay(self, url: str, message: dict[str, Any]) -> None:
        self.sent.append((url, message))


@pytest.mark.parametrize("failures", [2, 100])
def test_a_slack_summary_is_posted_once_whether_the_llm_comes_back_or_not(
        celery, runtime, monkeypatch, failures: int) -> None:
    llm_down_then_up(monkeypatch, failures)
    deliveries = Deliveries()
    monkeypatch.setattr("workers.tasks.deliver_to_slack", deliveries)
    job_id = add_job(runtime)
    url = "https://hooks.slack.com/commands/T1/B2/abc"
    assert celery.tasks[SLACK_SUMMARY_TASK].apply(args=[job_id, url]).get() == "queued"
    ((posted_to, message),) = deliveries.sent
    assert posted_to == url
    expected = "Anna sends the contract." if failures == 2 else "not reachable"
    assert expected in message["text"] or expected in str(message["blocks"])


@pytest.mark.parametrize("failures", [2, 100])
def test_a_slack_question_is_answered_once_whether_the_llm_comes_back_or_not(
        celery, monkeypatch, failures: int) -> None:
    from workers.slack_blocks import error_message

    calls: list[int] = []

    def answer_reply(runtime: Runtime, question: str, *_: Any):  # type: ignore[no-untyped-def]
        calls.append(1)
        if len(calls) <= failures:
            raise LLMUnavailable("The language model server is not reachable.")
        return error_message("an answer")  # any message: what matters is that it is sent

    monkeypatch.setattr("workers.tasks.answer_reply", answer_reply)
    deliveries = Deliveries()
    monkeypatch.setattr("workers.tasks.deliver_to_slack", deliveries)
    url = "https://hooks.slack.com/commands/T1/B2/abc"
    task = celery.tasks[SLACK_ANSWER_TASK]
    assert task.apply(args=["What is due Friday?", None, url]).get() == "queued"
    assert len(calls) == min(failures, TRANSIENT_RETRIES) + 1
    ((_, message),) = deliveries.sent
    assert ("an answer" if failures == 2 else "not reachable") in message["text"]
