"""Table jobs as the worker runs them (Celery tasks applied in this process, retries at once):
a finished table lands in its workspace's tables file, proposed columns come back cleaned, a
scope that cannot be read fails with its reason, and an LLM server that stays down fails the
job with a plain message after the last try."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from retrieval.core.settings import Settings
from retrieval.runtime import Runtime
from retrieval.tables.database import database_path, run_sql
from retrieval.tables.request import TableRequest
from tests.scripted_llm import MODEL, SERVER_ERROR, ScriptedLLM
from workers import create_celery
from workers.celery_app import TABLE_COLUMNS_TASK, TABLE_TASK, runtime_for
from workers.tasks import TRANSIENT_RETRIES

RECORDS = "Tea, 2 boxes, 3.50 EUR\nCoffee, 1 bag, 12 EUR\n"
COLUMNS = [{"name": "Item", "type": "text", "description": "what was bought", "values": []},
           {"name": "Price", "type": "number", "description": "what it cost", "values": []}]


def reply(request) -> str:  # type: ignore[no-untyped-def]
    if "design a table" in request.prompt:
        return json.dumps({"columns": [
            {"name": "Item", "type": "text", "description": "what", "values": []},
            {"name": "Price", "type": "money", "description": "cost", "values": []}]})
    return json.dumps({"rows": [
        {"line": 1, "Item": {"quote": "Tea", "value": "Tea"},
         "Price": {"quote": "3.50 EUR", "value": 3.5}},
        {"line": 2, "Item": {"quote": "Coffee", "value": "Coffee"},
         "Price": {"quote": "12 EUR", "value": 12}}]})


@pytest.fixture()
def llm() -> Iterator[ScriptedLLM]:
    with ScriptedLLM(reply) as server:
        yield server


@pytest.fixture()
def celery(tmp_path: Path, llm: ScriptedLLM):  # type: ignore[no-untyped-def]
    import workers.tasks  # noqa: F401 - registers the tasks

    return create_celery(Settings(data_dir=tmp_path / "data", llm_base_url=llm.url,
                                  llm_model=MODEL))


@pytest.fixture()
def runtime(celery) -> Runtime:  # type: ignore[no-untyped-def]
    return runtime_for(celery)


def add_job(runtime: Runtime, kind: str = "table", **request: object) -> str:
    body = TableRequest.from_json({"columns": COLUMNS, "rows": "many", "text": RECORDS,
                                   "workspace": "red", **request})
    return runtime.jobs.add(kind, body.to_json(), "red").id


def test_a_table_job_stores_its_table_where_the_sql_box_reads_it(celery, runtime) -> None:
    job_id = add_job(runtime)
    assert celery.tasks[TABLE_TASK].apply(args=[job_id]).get() == "done"
    job = runtime.jobs.get(job_id)
    table = job.result["table"]
    assert (table["id"], table["sql_name"], table["title"]) == (job_id, f"t_{job_id[:8]}",
                                                                "Pasted records")
    assert [r["cells"]["Price"]["value"] for r in table["rows"]] == [3.5, 12.0]
    answer = run_sql(database_path(runtime.settings.data_dir, "red"),
                     f"SELECT item, price, price_line FROM {table['sql_name']}", 2)
    assert answer.rows == [["Tea", 3.5, 1], ["Coffee", 12.0, 2]]
    # Run again (a redelivered task): a finished job stays as it is.
    assert celery.tasks[TABLE_TASK].apply(args=[job_id]).get() == "done"


def test_proposed_columns_come_back_cleaned(celery, runtime, llm) -> None:
    job_id = add_job(runtime, "table_columns", columns=[])
    assert celery.tasks[TABLE_COLUMNS_TASK].apply(args=[job_id]).get() == "done"
    assert runtime.jobs.get(job_id).result == {"columns": [
        {"name": "Item", "type": "text", "description": "what", "values": []},
        {"name": "Price", "type": "text", "description": "cost", "values": []}]}
    assert "Tea, 2 boxes" in llm.requests[0].last


def test_a_scope_that_cannot_be_read_fails_with_its_reason(celery, runtime) -> None:
    job_id = add_job(runtime, text=None, document_ids=["f" * 32])
    assert celery.tasks[TABLE_TASK].apply(args=[job_id]).get() == "failed"
    job = runtime.jobs.get(job_id)
    assert (job.error_code, job.error_message) == ("not_found", f"No document with id {'f' * 32}.")


def test_the_llm_server_down_fails_the_job_with_a_plain_message(celery, runtime, llm) -> None:
    llm.when(lambda request: True, SERVER_ERROR)
    job_id = add_job(runtime)
    assert celery.tasks[TABLE_TASK].apply(args=[job_id]).get() == "failed"
    job = runtime.jobs.get(job_id)
    assert job.error_code == "llm_unavailable"
    assert "is not answering" in job.error_message and "Traceback" not in job.error_message
    asked = len(llm.requests)
    assert asked >= TRANSIENT_RETRIES + 1  # every try asked the server


def test_unfinished_table_jobs_go_back_to_their_own_tasks(runtime, monkeypatch) -> None:
    from workers import recovery

    table_job, columns_job = add_job(runtime), add_job(runtime, "table_columns")
    meeting_job = runtime.jobs.add("summarize", {"text": "Anna: hi"}, "red").id
    sent: list[tuple[str, list[str]]] = []

    class Broker:
        def send_task(self, name: str, args: list[str]) -> None:
            sent.append((name, args))

    monkeypatch.setattr(recovery, "create_celery", lambda settings: Broker())
    assert recovery.requeue_unfinished(runtime.settings) == 3
    assert sorted(sent) == sorted([(TABLE_TASK, [table_job]),
                                   (TABLE_COLUMNS_TASK, [columns_job]),
                                   ("workers.tasks.run_meeting_job", [meeting_job])])
