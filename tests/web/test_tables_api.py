"""The tables API without a worker: requests refused with plain messages (columns, scopes,
limits), another team's documents and tables answered like none, a table job accepted, and a
finished table listed, exported and queried with read-only SQL."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from retrieval.core.settings import Settings
from retrieval.tables import request as table_request
from retrieval.tables.database import database_path, save_table
from retrieval.tables.request import TableRequest
from tests.conftest import TEST_DATA, store_upload
from tests.scripted_llm import MODEL, ScriptedLLM
from web import create_app

RECORDS = "2024-03-05 ACME Corp paid 1,250.50 USD\n03/07/2024 Globex paid $980\n"
COLUMNS = [{"name": "Date", "type": "date", "description": "when it was paid"},
           {"name": "Customer", "type": "text", "description": "who paid"},
           {"name": "Amount", "type": "number", "description": "how much"}]


def records_reply(request: Any) -> str:
    return json.dumps({"rows": [
        {"line": 1, "Date": {"quote": "2024-03-05", "value": "2024-03-05"},
         "Customer": {"quote": "ACME Corp", "value": "ACME Corp"},
         "Amount": {"quote": "1,250.50 USD", "value": 1250.5}},
        {"line": 2, "Date": {"quote": "03/07/2024", "value": "2024-03-07"},
         "Customer": {"quote": "Globex", "value": "Globex"},
         "Amount": {"quote": "paid $980", "value": 990}}]})


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with ScriptedLLM(records_reply) as llm:
        settings = Settings(data_dir=tmp_path_factory.mktemp("tables"), auth="required",
                            cookie_secure=False, rate_limit_per_minute=0, llm_base_url=llm.url,
                            llm_model=MODEL, table_max_text_chars=2000)
        app = create_app(settings)
        runtime = app.extensions["docchat"]
        keys = {team: {"Authorization": f"Bearer {runtime.accounts.create_api_key(team, 't')[1]}"}
                for team in ("red", "blue")}
        red_doc = store_upload(runtime, TEST_DATA / "notes.md", workspace="red")
        runtime.store.mark_indexed(red_doc.id, 1)
        blue_doc = store_upload(runtime, TEST_DATA / "handbook.md", workspace="blue")
        runtime.store.mark_indexed(blue_doc.id, 1)
        yield {"app": app, "runtime": runtime, "keys": keys, "red_doc": red_doc.id,
               "blue_doc": blue_doc.id}


def post(world: dict[str, Any], path: str, body: object, team: str = "red"):
    return world["app"].test_client().post(path, json=body, headers=world["keys"][team])


def get(world: dict[str, Any], path: str, team: str = "red"):
    return world["app"].test_client().get(path, headers=world["keys"][team])


def refusal(response) -> tuple[int, str, str]:
    error = response.get_json()["error"]
    return response.status_code, error["code"], error["message"]


@pytest.mark.parametrize(("body", "expected"), [
    ({"scope": {"text": RECORDS}, "columns": []}, "'columns' must be a list of 1 to 30 "),
    ({"scope": {"text": RECORDS}, "columns": [{"name": "x"}] * 31}, "'columns' must be a list "),
    ({"scope": {"text": RECORDS}, "columns": [{"name": "Kind", "type": "enum"}]},
     "Column 'Kind' is an enum: list its 'values'."),
    ({"scope": {"text": RECORDS}, "columns": [{"name": "A"}, {"name": "a "}]},
     "Two columns are named 'a': name each column once."),
    ({"scope": {"text": RECORDS, "collection": "default"}, "columns": COLUMNS},
     "The scope takes exactly one of 'document_ids', 'collection' and 'text'."),
    ({"scope": {}, "columns": COLUMNS},
     "The scope takes exactly one of 'document_ids', 'collection' and 'text'."),
    ({"scope": {"text": "  \n "}, "columns": COLUMNS}, "'scope' must be "),
    ({"scope": {"text": RECORDS}, "columns": [{"name": "Date", "type": "time"}]},
     "'columns' must be "),
    ({"scope": {"text": RECORDS}, "columns": COLUMNS, "rows": "all"}, "'rows' takes one, many."),
])
def test_bad_requests_are_refused_with_what_to_fix(world, body, expected) -> None:
    status, code, message = refusal(post(world, "/api/tables", body))
    assert (status, code) == (400, "bad_request") and message.startswith(expected), message


def test_another_teams_document_looks_like_an_unknown_one(world) -> None:
    theirs = refusal(post(world, "/api/tables", {"scope": {"document_ids": [world["blue_doc"]]},
                                                 "columns": COLUMNS}))
    unknown = refusal(post(world, "/api/tables", {"scope": {"document_ids": ["f" * 32]},
                                                  "columns": COLUMNS}))
    assert theirs == (404, "not_found", f"No document with id {world['blue_doc']}.")
    assert unknown == (404, "not_found", f"No document with id {'f' * 32}.")
    empty = refusal(post(world, "/api/tables", {"scope": {"collection": "nothing-here"},
                                                "columns": COLUMNS}))
    assert empty[:2] == (404, "empty_scope") and "nothing-here" in empty[2]


def test_pasted_text_over_the_limit_is_too_large(world) -> None:
    status, code, message = refusal(post(world, "/api/tables", {
        "scope": {"text": "x" * 2001}, "columns": COLUMNS}))
    assert (status, code) == (413, "too_large") and "2,000 characters" in message


def test_a_table_request_is_a_job_only_its_team_can_poll(world) -> None:
    response = post(world, "/api/tables", {"scope": {"document_ids": [world["red_doc"]]},
                                           "columns": COLUMNS, "title": "Notes"})
    assert response.status_code == 202, response.get_json()
    accepted = response.get_json()
    job = accepted["job"]
    assert (job["kind"], job["status"], accepted["job_url"]) == (
        "table", "queued", f"/api/jobs/{job['id']}")
    assert get(world, accepted["job_url"]).get_json()["kind"] == "table"
    assert get(world, accepted["job_url"], "blue").status_code == 404
    stored = world["runtime"].jobs.get(job["id"]).request
    assert stored["workspace"] == "red" and stored["document_ids"] == [world["red_doc"]]
    columns = post(world, "/api/tables/columns", {"scope": {"text": RECORDS}, "rows": "many"})
    assert columns.status_code == 202 and columns.get_json()["job"]["kind"] == "table_columns"


@pytest.fixture(scope="module")
def finished(world) -> dict[str, Any]:
    """A table made as the worker makes it (retrieval.tables.request.run), stored as done."""
    runtime = world["runtime"]
    job = runtime.jobs.add("table", {}, "red")
    request = TableRequest.from_json({"columns": COLUMNS, "rows": "many", "text": RECORDS,
                                      "workspace": "red", "title": "Payments"})
    table = table_request.run(runtime, replace(request, job_id=job.id))
    save_table(database_path(runtime.settings.data_dir, "red"), table)
    runtime.jobs.mark_done(job.id, {"table": table.to_json()})
    return {"id": job.id, "sql_name": table.sql_name}


def test_a_finished_table_has_verified_cells_and_marks_the_rest(world, finished) -> None:
    job = get(world, f"/api/jobs/{finished['id']}").get_json()
    table = job["result"]["table"]
    assert (table["title"], table["sql_name"]) == ("Payments", f"t_{finished['id'][:8]}")
    first, second = table["rows"]
    assert first["cells"]["Amount"] == {"value": 1250.5, "text": "1,250.50 USD", "unit": "USD",
                                        "quote": "1,250.50 USD", "page": None, "line": 1,
                                        "status": "ok", "reason": ""}
    assert second["cells"]["Date"]["value"] == "2024-03-07"
    # The model said 990; the quote says $980: the cell stays empty, marked, with the reason.
    assert second["cells"]["Amount"]["status"] == "unverified"
    assert second["cells"]["Amount"]["value"] is None
    assert table["stats"] == {"rows": 2, "cells": 6, "filled": 5, "verified": 5,
                              "unverified": 1, "missing": 0}


def test_finished_tables_are_listed_for_their_team_only(world, finished) -> None:
    listed = get(world, "/api/tables").get_json()["tables"]
    assert [(t["id"], t["title"], t["rows"], t["sql_columns"]) for t in listed] == [
        (finished["id"], "Payments", 2, ["date", "customer", "amount"])]
    assert [c["name"] for c in listed[0]["columns"]] == ["Date", "Customer", "Amount"]
    assert get(world, "/api/tables", "blue").get_json() == {"tables": []}


def test_exports_carry_the_evidence(world, finished) -> None:
    path = f"/api/tables/{finished['id']}/export"
    rows = list(csv.reader(io.StringIO(get(world, path).get_data(as_text=True))))
    assert rows[0] == ["source", "Date", "Date quote", "Date line", "Customer", "Customer quote",
                       "Customer line", "Amount", "Amount quote", "Amount line"]
    assert rows[1] == ["Payments", "2024-03-05", "2024-03-05", "1", "ACME Corp", "ACME Corp",
                       "1", "1250.5", "1,250.50 USD", "1"]
    assert rows[2][7:] == ["", "", ""]
    xlsx = get(world, path + "?format=xlsx")
    assert xlsx.status_code == 200 and xlsx.data[:2] == b"PK"
    assert "attachment" in xlsx.headers["Content-Disposition"]
    exported = world["runtime"].settings.data_dir / "export.sqlite3"
    exported.write_bytes(get(world, path + "?format=sqlite").data)
    with sqlite3.connect(exported) as db:
        assert db.execute(f"SELECT customer FROM {finished['sql_name']}").fetchall() == [
            ("ACME Corp",), ("Globex",)]
    assert get(world, path, "blue").status_code == 404
    assert refusal(get(world, path + "?format=pdf"))[:2] == (400, "bad_request")


def test_the_sql_box_reads_its_teams_tables_and_nothing_else(world, finished) -> None:
    name = finished["sql_name"]
    answer = post(world, "/api/tables/sql", {"sql": f"SELECT customer, amount FROM {name} "
                                                    "ORDER BY customer"})
    assert answer.status_code == 200
    assert answer.get_json() == {"columns": ["customer", "amount"],
                                 "rows": [["ACME Corp", 1250.5], ["Globex", None]],
                                 "truncated": False}
    assert refusal(post(world, "/api/tables/sql", {"sql": f"DELETE FROM {name}"}))[:2] == (
        400, "sql_not_allowed")
    assert refusal(post(world, "/api/tables/sql", {"sql": "ATTACH ':memory:' AS x"}))[:2] == (
        400, "sql_not_allowed")
    theirs = refusal(post(world, "/api/tables/sql", {"sql": f"SELECT * FROM {name}"}, "blue"))
    assert theirs[:2] == (400, "sql_invalid") and "no such table" in theirs[2]
    assert refusal(post(world, "/api/tables/sql", {"sql": " "}))[:2] == (400, "bad_request")
