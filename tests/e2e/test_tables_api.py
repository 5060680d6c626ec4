"""A table through the real pieces: two stored PDFs, POST /api/tables queued to a real Celery
worker, which parses them again and asks the model page window by page window, the job polled
through its progress to a table whose cells carry their quotes and pages, then read back with
the SQL box and exported. The model is the scripted server (what a model says is not what this
test checks). The PDFs are recorded as indexed without embedding them: a table reads the
stored files, not the index, and the worker's embedding is tested elsewhere."""

from __future__ import annotations

import csv
import io
import json
import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from retrieval.core.settings import Settings
from tests.conftest import store_upload, text_pdf, wait_until
from tests.processes import Worker
from tests.scripted_llm import MODEL, ChatRequest, ScriptedLLM
from web import create_app

pytestmark = pytest.mark.e2e

REPORTS = {
    "first.pdf": [["Accident report WAU-1", "On January 4, 2008, a Cessna 172N nosed over."],
                  ["The pilot was not injured.", "Fuel on board: 22 gallons."]],
    "second.pdf": [["Accident report HGR-2", "On February 11, 2008, a Piper PA-28 hit trees."],
                   ["The pilot sustained minor injuries.", "Fuel on board: 1,250 gallons."]],
}
COLUMNS = [{"name": "Date", "type": "date", "description": "day of the accident"},
           {"name": "Aircraft", "type": "text", "description": "make and model"},
           {"name": "Fuel", "type": "number", "description": "gallons on board"},
           {"name": "Injuries", "type": "enum", "description": "worst injury",
            "values": ["None", "Minor", "Serious", "Fatal"]}]
ANSWERS = {
    "first.pdf": {"Date": ("2008-01-04", "On January 4, 2008"),
                  "Aircraft": ("Cessna 172N", "a Cessna 172N nosed over"),
                  "Fuel": ("22", "Fuel on board: 22 gallons."),
                  "Injuries": ("None", "The pilot was not injured.")},
    # An invented quote: the cell must stay empty.
    "second.pdf": {"Date": ("2008-02-11", "On February 11, 2008"),
                   "Aircraft": ("Piper PA-28", "a Piper PA-28 hit trees"),
                   "Fuel": ("1250", "Fuel on board: 1,250 gallons."),
                   "Injuries": ("Serious", "The pilot was seriously injured.")},
}


def reply(request: ChatRequest) -> str:
    title = request.last.split(",", 1)[0]
    keys = (request.response_format or {}).get("json_schema", {}).get("schema", {}).get(
        "properties", {})
    answers = ANSWERS.get(title, {})
    return json.dumps({name: {"quote": answers[name][1], "value": answers[name][0]}
                       if name in answers else {"quote": "", "value": None} for name in keys})


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[Any]:
    with ScriptedLLM(reply) as llm:
        settings = Settings(
            data_dir=tmp_path_factory.mktemp("tables-e2e"), redis_url=redis_url,
            queue=f"docchat-tables-{uuid.uuid4().hex[:8]}", llm_base_url=llm.url,
            llm_model=MODEL, parse_time_limit=120, rate_limit_per_minute=0,
            worker_concurrency=1)
        worker = Worker(settings, "tables").start()
        try:
            yield create_app(settings).test_client()
        finally:
            worker.stop()


def test_a_table_of_two_reports_has_verified_cells_sql_and_exports(client) -> None:
    runtime = client.application.extensions["docchat"]
    ids = []
    for name, pages in REPORTS.items():
        path = runtime.settings.data_dir / name
        path.write_bytes(text_pdf(pages))
        record = store_upload(runtime, path)
        runtime.store.mark_indexed(record.id, 1)
        ids.append(record.id)
    response = client.post("/api/tables", json={"title": "Accidents", "rows": "one",
                                                "scope": {"document_ids": ids},
                                                "columns": COLUMNS})
    assert response.status_code == 202, response.get_json()
    job_url = response.get_json()["job_url"]
    labels: set[str] = set()

    def finished() -> dict[str, Any] | None:
        job = client.get(job_url).get_json()
        labels.add(job["progress_label"])
        return job if job["status"] in ("done", "failed") else None

    job = wait_until(finished, 180, 0.2, what="the table job")
    assert job["status"] == "done", job["error"]
    assert labels & {"Opening document 1 of 2…", "Reading document 1 of 2…",
                     "Reading document 2 of 2…", "Done"}
    table = job["result"]["table"]
    first, second = table["rows"]
    assert [r["source"]["title"] for r in table["rows"]] == ["first.pdf", "second.pdf"]
    assert {name: (c["status"], c["value"], c["page"]) for name, c in first["cells"].items()} == {
        "Date": ("ok", "2008-01-04", 1), "Aircraft": ("ok", "Cessna 172N", 1),
        "Fuel": ("ok", 22.0, 2), "Injuries": ("ok", "None", 2)}
    assert second["cells"]["Fuel"]["value"] == 1250.0
    assert second["cells"]["Fuel"]["text"] == "1,250 gallons"
    assert second["cells"]["Injuries"]["status"] == "unverified"
    assert second["cells"]["Injuries"]["value"] is None

    name = table["sql_name"]
    assert re.fullmatch(r"t_[0-9a-f]{8}", name)
    answer = client.post("/api/tables/sql", json={
        "sql": f"SELECT source, date, fuel, injuries, injuries_status FROM {name} ORDER BY date"})
    assert answer.get_json()["rows"] == [
        ["first.pdf", "2008-01-04", 22.0, "None", "ok"],
        ["second.pdf", "2008-02-11", 1250.0, None, "unverified"]]
    listed = client.get("/api/tables").get_json()["tables"]
    assert [t["sql_name"] for t in listed] == [name]
    exported = client.get(f"/api/tables/{table['id']}/export?format=csv").get_data(as_text=True)
    rows = list(csv.reader(io.StringIO(exported)))
    assert rows[1][:4] == ["first.pdf", "2008-01-04", "On January 4, 2008", "1"]
