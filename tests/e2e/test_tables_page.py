"""The tables page in a real browser (Debian's chromium) against the real app and a Celery
worker, with a scripted model: messy pasted records become a table of normalized values whose
cells open their quotes, a value the text does not hold is marked "not verified" and left
empty, the CSV export holds the rows; the SQL box reads the finished tables and refuses writes
in plain words; "Propose columns" fills the column editor.

The model's replies are canned (tests/scripted_llm.py); what is checked is what docchat does
with them: the quotes found in the pasted text, the values read by type, the page that shows
them. Screenshots land in test-artifacts/screenshots/tables-*.png."""

from __future__ import annotations

import csv
import json
import re
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page, expect

from retrieval.core.settings import Settings
from tests.conftest import text_pdf, upload_bytes, wait_indexed
from tests.e2e import test_browser as browser_tests
from tests.e2e.test_browser import UNLABELLED_CONTROLS, VIEWPORTS, screenshot, watched_page
from tests.e2e.test_meetings_page import AXE, BLOCKING, RUN_AXE
from tests.processes import Worker, http_server
from tests.scripted_llm import MODEL, ChatRequest, ScriptedLLM
from web import create_app

pytestmark = pytest.mark.e2e

browser = browser_tests.browser  # the one chromium of the browser tests

RESULT_MS = 60_000  # one request to the scripted model; two cores shared with the worker
NO_OVERFLOW = "document.documentElement.scrollWidth <= window.innerWidth"

# Records as people paste them: separators, number and date formats differ from line to line.
RECORDS = """Supplier deliveries, spring 2026
ACME Corp; invoice INV-114; 1,250 kg; delivered 3 March 2026; paid
Borealis GmbH — 980.5 kg — delivered 2026-03-15 — unpaid
Cortex Ltd, weight two tonnes, delivered 15.04.2026, overdue
"""
COLUMNS = [
    {"name": "Supplier", "type": "text", "description": "The company that delivered"},
    {"name": "Weight", "type": "number", "description": "Net weight delivered"},
    {"name": "Delivered", "type": "date", "description": "Day of delivery"},
    {"name": "Status", "type": "enum", "description": "Payment status",
     "values": ["paid", "unpaid", "overdue"]},
    {"name": "Invoice", "type": "text", "description": "Invoice number"},
]
# What the scripted model reads from each record, by line: (value, quote) per column. Cortex's
# weight is the model's invention (the line says "two tonnes"): its quote is not in the text.
READ = {
    2: {"Supplier": ("ACME Corp", "ACME Corp"), "Weight": (1250, "1,250 kg"),
        "Delivered": ("2026-03-03", "delivered 3 March 2026"), "Status": ("paid", "paid"),
        "Invoice": ("INV-114", "invoice INV-114")},
    3: {"Supplier": ("Borealis GmbH", "Borealis GmbH"), "Weight": (980.5, "980.5 kg"),
        "Delivered": ("2026-03-15", "delivered 2026-03-15"), "Status": ("unpaid", "unpaid"),
        "Invoice": (None, "")},
    4: {"Supplier": ("Cortex Ltd", "Cortex Ltd"), "Weight": (2000, "weight 2,000 kg"),
        "Delivered": ("2026-04-15", "delivered 15.04.2026"), "Status": ("overdue", "overdue"),
        "Invoice": (None, "")},
}
TITLE = "Deliveries"
# The table as the page shows it: normalized values, then the source.
SHOWN = [
    ["ACME Corp", "1250 kg", "2026-03-03", "paid", "INV-114", TITLE],
    ["Borealis GmbH", "980.5 kg", "2026-03-15", "unpaid", "—", TITLE],
    ["Cortex Ltd", "not verified {reason}", "2026-04-15", "overdue", "—", TITLE],
]
AGREEMENT = text_pdf([
    ["Service agreement between Northwind Ltd and Contoso GmbH.",
     "Payment terms: invoices are due within 45 days."],
    ["The hardware warranty period is 24 months from the delivery date."],
])
AGREEMENT_READ = {"Warranty": (24, "The hardware warranty period is 24 months"),
                  "Payment days": (45, "invoices are due within 45 days")}
PROPOSAL = {"columns": [
    {"name": "Supplier", "type": "text", "description": "Who delivered", "values": []},
    {"name": "Weight", "type": "number", "description": "Net weight in kg", "values": []},
    {"name": "Delivered", "type": "date", "description": "Day of delivery", "values": []},
    {"name": "Status", "type": "enum", "description": "Payment status",
     "values": ["paid", "unpaid", "overdue"]},
]}


def asks_for_records(request: ChatRequest) -> bool:
    return request.system.startswith("You turn records into the rows of a table")


def asks_for_one_row(request: ChatRequest) -> bool:
    return request.system.startswith("You fill in one row of a table")


def asks_for_columns(request: ChatRequest) -> bool:
    return request.system.startswith("You design a table")


def records_reply(request: ChatRequest) -> str:
    """The records of READ whose lines the request holds ("[2] ACME Corp; …"), as rows."""
    lines = {int(n) for n in re.findall(r"^\[(\d+)\] ", request.last, re.M)}
    rows = []
    for line in sorted(lines & READ.keys()):
        row: dict[str, Any] = {"line": line}
        for name, (value, quote) in READ[line].items():
            row[name] = {"value": value, "quote": quote}
        rows.append(row)
    return json.dumps({"rows": rows})


def one_row_reply(request: ChatRequest) -> str:
    """AGREEMENT's row: the columns the request's schema asks for, each with its quote."""
    schema = (request.response_format or {}).get("json_schema", {}).get("schema", {})
    return json.dumps({name: {"value": AGREEMENT_READ[name][0], "quote": AGREEMENT_READ[name][1]}
                       if name in AGREEMENT_READ else {"value": None, "quote": ""}
                       for name in schema.get("properties", {})})


@pytest.fixture(scope="module")
def llm() -> Iterator[ScriptedLLM]:
    with ScriptedLLM() as server:
        server.when(asks_for_records, records_reply)
        server.when(asks_for_one_row, one_row_reply)
        server.when(asks_for_columns, json.dumps(PROPOSAL))
        yield server


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, redis_url: str,
           llm: ScriptedLLM) -> Iterator[tuple[Flask, str]]:
    """The app, its URL, and a worker of their own that asks the scripted model."""
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("tables-page"), redis_url=redis_url,
        queue=f"docchat-tables-{uuid.uuid4().hex[:8]}", llm_base_url=llm.url, llm_model=MODEL,
        parse_time_limit=120, rate_limit_per_minute=0, worker_concurrency=1)
    worker = Worker(settings, "tables")
    # The worker comes up (and loads its embedding model) while the browser opens the page and
    # fills in the form: a job waits for it in the queue.
    with ThreadPoolExecutor(1) as pool:
        started = pool.submit(worker.start)
        app = create_app(settings)
        try:
            with http_server(app) as url:
                yield app, url
        finally:
            try:
                started.result()  # a worker that never came up says why here
            finally:
                worker.stop()


@pytest.fixture()
def page(browser: Browser, served: tuple[Flask, str]) -> Iterator[Page]:
    with watched_page(browser, served[1], viewport=VIEWPORTS["desktop"],
                      accept_downloads=True) as opened:
        yield opened


@pytest.fixture(scope="module")
def finished_table(served: tuple[Flask, str]) -> dict[str, Any]:
    """RECORDS made into a table through the API: the SQL box's material."""
    client = served[0].test_client()
    response = client.post("/api/tables", json={
        "title": "Deliveries for SQL", "scope": {"text": RECORDS}, "columns": COLUMNS,
        "rows": "many"})
    assert response.status_code == 202, response.get_json()
    job_url = response.get_json()["job_url"]
    deadline = time.monotonic() + RESULT_MS / 1000
    while time.monotonic() < deadline:
        job = client.get(job_url).get_json()
        if job["status"] in ("done", "failed"):
            break
        time.sleep(0.2)
    assert job["status"] == "done", job
    table: dict[str, Any] = job["result"]["table"]
    return table


def axe_problems(page: Page) -> list[str]:
    if not AXE.exists():
        pytest.fail(f"axe-core is not installed ({AXE} is missing): run `npm ci`.")
    if not page.evaluate("typeof window.axe === 'object'"):
        page.evaluate(AXE.read_text(encoding="utf-8"))
    problems: list[str] = page.evaluate(RUN_AXE, list(BLOCKING))
    return problems


def shown_table(page: Page) -> dict[str, Any]:
    """The finished table behind the result shown (its id is in the export links)."""
    href = page.locator("#export-csv").get_attribute("href") or ""
    found = re.fullmatch(r"/api/tables/(\w+)/export\?format=csv", href)
    assert found, href
    job: dict[str, Any] = page.request.get(f"/api/jobs/{found.group(1)}").json()
    table: dict[str, Any] = job["result"]["table"]
    return table


def fill_column(page: Page, number: int, column: dict[str, Any]) -> None:
    """Column `number` (from 1) of the editor, typed in as a person would."""
    row = page.locator("#columns > li").nth(number - 1)
    row.get_by_label("Name").fill(column["name"])
    row.get_by_label("Type").select_option(column["type"])
    row.get_by_label("What goes in it").fill(column["description"])
    values = row.get_by_label("Allowed values (comma separated)")
    if column["type"] == "enum":
        expect(values).to_be_visible()
        values.fill(", ".join(column["values"]))
    else:
        expect(values).to_be_hidden()


def grid(page: Page, selector: str) -> list[list[str]]:
    """The cells' visible text, row by row, read at one moment."""
    cells: list[list[str]] = page.locator(f"{selector} tbody").evaluate(
        "body => [...body.rows].map((row) => [...row.cells].map((cell) => cell.innerText))")
    return [[" ".join(text.split()) for text in row] for row in cells]


def test_pasted_records_become_a_table_whose_cells_open_their_quotes(page: Page) -> None:
    page.goto("/tables")
    expect(page.locator("#table-status")).to_have_attribute("aria-live", "polite")
    page.get_by_label("Pasted text").check()
    page.get_by_label("Paste records, a list or notes").fill(RECORDS)
    page.get_by_label("Many rows per document (records)").check()
    fill_column(page, 1, COLUMNS[0])
    for number, column in enumerate(COLUMNS[1:], start=2):
        page.get_by_role("button", name="Add a column").click()
        # The new column's name field has the cursor: typing goes straight into it.
        expect(page.locator("#columns > li").nth(number - 1).get_by_label("Name")).to_be_focused()
        fill_column(page, number, column)
    page.fill("#table-title", TITLE)
    page.get_by_role("button", name="Make the table").click()

    result = page.locator("#table-result")
    expect(result).to_be_visible(timeout=RESULT_MS)
    expect(page.locator("#table-status")).to_have_text("Done: 3 rows.")
    expect(page.locator("#table-progress-bar")).to_be_hidden()
    headers = page.locator("#result-table thead th").all_inner_texts()
    assert headers == [c["name"] for c in COLUMNS] + ["Source"]
    table = shown_table(page)
    reason = table["rows"][2]["cells"]["Weight"]["reason"]  # the API's words, shown as they are
    assert reason and table["rows"][2]["cells"]["Weight"]["status"] == "unverified"
    assert grid(page, "#result-table") == [[text.format(reason=reason) for text in row]
                                           for row in SHOWN]
    assert table["stats"] == {"rows": 3, "cells": 15, "filled": 12, "verified": 12,
                              "unverified": 1, "missing": 2}
    expect(page.locator("#table-summary")).to_have_text(
        "3 rows · 12 of 15 cells filled · 12 verified")

    # A click on a value shows the words it was read from, and where they are.
    weight = page.get_by_role("button", name="1250 kg")
    expect(weight).to_have_attribute("aria-expanded", "false")
    weight.click()
    expect(weight).to_have_attribute("aria-expanded", "true")
    evidence = page.locator("#" + (weight.get_attribute("aria-controls") or "missing"))
    expect(evidence).to_be_visible()
    expect(evidence.locator("blockquote")).to_have_text("1,250 kg")
    expect(evidence).to_contain_text("Written as “1,250 kg”")
    expect(evidence).to_contain_text(f"{TITLE}, line 2")
    expect(evidence.locator("a")).to_have_count(0)  # pasted text is kept nowhere to open
    # ... and so does Enter on a focused value, for the keyboard.
    date = page.get_by_role("button", name="2026-04-15")
    date.focus()
    page.keyboard.press("Enter")
    expect(date).to_have_attribute("aria-expanded", "true")
    expect(page.locator("#" + (date.get_attribute("aria-controls") or "missing"))
           .locator("blockquote")).to_have_text("delivered 15.04.2026")
    # The invented weight is marked in words, not by colour alone, and nothing is filled in.
    unverified = page.locator('#result-table td[data-status="unverified"]')
    expect(unverified).to_have_count(1)
    expect(unverified.locator(".not-verified")).to_have_text("not verified")
    expect(unverified.locator("button")).to_have_count(0)
    expect(page.locator('#result-table td[data-status="missing"]')).to_have_count(2)
    screenshot(page, "tables-result")

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Export CSV").click()
    download = download_info.value
    exported = list(csv.reader(Path(download.path()).read_text(encoding="utf-8").splitlines()))
    assert exported[0][:4] == ["source", "Supplier", "Supplier quote", "Supplier line"]
    by_name = [dict(zip(exported[0], row, strict=True)) for row in exported[1:]]
    assert [r["Supplier"] for r in by_name] == ["ACME Corp", "Borealis GmbH", "Cortex Ltd"]
    assert [r["Weight"] for r in by_name] == ["1250", "980.5", ""]
    assert [r["Delivered"] for r in by_name] == ["2026-03-03", "2026-03-15", "2026-04-15"]
    assert by_name[0]["Weight quote"] == "1,250 kg" and by_name[0]["Weight line"] == "2"
    for fmt, label in (("xlsx", "Export XLSX"), ("sqlite", "Export SQLite")):
        href = page.get_by_role("link", name=label).get_attribute("href") or ""
        assert href.endswith(f"/export?format={fmt}") and page.request.get(href).ok, href

    # The finished page, at a laptop's size and a phone's: labelled, fits, passes axe.
    assert page.evaluate(UNLABELLED_CONTROLS) == []
    assert axe_problems(page) == []
    page.set_viewport_size(VIEWPORTS["phone"])
    assert page.evaluate(NO_OVERFLOW), page.evaluate("document.documentElement.scrollWidth")
    expect(page.locator("#result-table tbody td").first).to_have_attribute("data-label",
                                                                           "Supplier")
    assert axe_problems(page) == []
    screenshot(page, "tables-phone")


def test_sql_box_reads_finished_tables_and_refuses_writes(
        page: Page, finished_table: dict[str, Any]) -> None:
    name = finished_table["sql_name"]
    page.goto("/tables")
    listed = page.locator(f'#sql-tables li[data-sql-name="{name}"]')
    expect(listed).to_contain_text("Deliveries for SQL (3 rows)")
    expect(listed.locator(".sql-columns")).to_have_text(
        "Columns: source, supplier, weight, delivered, status, invoice")
    listed.get_by_role("button", name="Query it").click()
    box = page.get_by_label("SQL query")
    expect(box).to_be_focused()
    expect(box).to_have_value(f"SELECT * FROM {name} LIMIT 20")

    box.fill(f"SELECT supplier, weight, weight_quote FROM {name} "
             "WHERE weight IS NOT NULL ORDER BY weight DESC")
    page.get_by_role("button", name="Run query").click()
    expect(page.locator("#sql-status")).to_have_text("2 rows.")
    assert page.locator("#sql-result thead th").all_inner_texts() == [
        "supplier", "weight", "weight_quote"]
    assert grid(page, "#sql-result") == [["ACME Corp", "1250", "1,250 kg"],
                                         ["Borealis GmbH", "980.5", "980.5 kg"]]

    for write in (f"DROP TABLE {name}", f"INSERT INTO {name} (supplier) VALUES ('Mallory')"):
        box.fill(write)
        page.get_by_role("button", name="Run query").click()
        error = page.locator("#sql-error")
        expect(error).to_be_visible()
        expect(error).to_contain_text("Only SELECT queries")
        expect(error).to_contain_text("(code: sql_not_allowed)")
        expect(error).not_to_contain_text("authoriz")  # SQLite's own words stay in the server
        expect(page.locator("#sql-scroll")).to_be_hidden()
    box.fill(f"SELEC supplier FROM {name}")
    page.get_by_role("button", name="Run query").click()
    expect(page.locator("#sql-error")).to_contain_text("(code: sql_invalid)")

    # Nothing was written: the table is whole.
    box.fill(f"SELECT count(*) AS n FROM {name}")
    page.get_by_role("button", name="Run query").click()
    expect(page.locator("#sql-status")).to_have_text("1 row.")
    expect(page.locator("#sql-error")).to_be_hidden()
    assert grid(page, "#sql-result") == [["3"]]
    screenshot(page, "tables-sql")


def test_propose_columns_fills_the_editor_for_the_reader_to_edit(page: Page) -> None:
    page.goto("/tables")
    page.get_by_label("Pasted text").check()
    page.get_by_label("Paste records, a list or notes").fill(RECORDS)
    page.get_by_label("Many rows per document (records)").check()
    # Nothing named yet: the page says what to do and puts the cursor there.
    page.get_by_role("button", name="Make the table").click()
    expect(page.locator("#table-error")).to_have_text("Column 1 needs a name.")
    expect(page.locator("#columns > li").first.get_by_label("Name")).to_be_focused()
    page.get_by_role("button", name="Propose columns").click()
    expect(page.locator("#table-error")).to_be_hidden()
    status = page.locator("#table-status")
    expect(status).to_have_text("4 columns proposed: edit them, then make the table.",
                                timeout=RESULT_MS)
    rows = page.locator("#columns > li")
    expect(rows).to_have_count(len(PROPOSAL["columns"]))
    for row, column in zip(rows.all(), PROPOSAL["columns"], strict=True):
        expect(row.get_by_label("Name")).to_have_value(column["name"])
        expect(row.get_by_label("Type")).to_have_value(column["type"])
        expect(row.get_by_label("What goes in it")).to_have_value(column["description"])
        values = row.get_by_label("Allowed values (comma separated)")
        if column["type"] == "enum":
            expect(values).to_have_value("paid, unpaid, overdue")
        else:
            expect(values).to_be_hidden()
    # The proposal is the reader's to edit: a column removed, the cursor kept in the editor.
    rows.nth(1).get_by_role("button", name="Remove column 2").click()
    expect(rows).to_have_count(3)
    expect(rows.nth(1).get_by_label("Name")).to_have_value("Delivered")
    expect(rows.nth(1).get_by_label("Name")).to_be_focused()
    expect(rows.nth(1).locator("legend")).to_have_text("Column 2")


@pytest.fixture(scope="module")
def agreement(served: tuple[Flask, str]) -> str:
    """A two-page PDF in the library, indexed: its id."""
    client = served[0].test_client()
    document_id = upload_bytes(client, AGREEMENT, "service agreement.pdf", "contracts")
    wait_indexed(client, document_id)
    return document_id


def test_a_documents_cell_opens_its_page_with_the_quote_marked(page: Page, agreement: str) -> None:
    page.goto("/tables")
    page.get_by_role("radio", name="Documents").check()
    page.get_by_role("checkbox", name="service agreement.pdf").check()
    fill_column(page, 1, {"name": "Warranty", "type": "number", "description": "Months"})
    page.get_by_role("button", name="Make the table").click()
    expect(page.locator("#table-result")).to_be_visible(timeout=RESULT_MS)
    assert grid(page, "#result-table") == [["24", "service agreement.pdf"]]

    page.get_by_role("button", name="24", exact=True).click()  # not "Query it: t_…24…"
    link = page.get_by_role("link", name="Open in the document")
    quote = "The hardware warranty period is 24 months"
    expect(link).to_have_attribute("href", f"/passage/{agreement}?page=2&quote="
                                           + quote.replace(" ", "+"))
    expect(link.locator("xpath=..")).to_contain_text("service agreement.pdf, page 2")
    link.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("service agreement.pdf, page 2")
    expect(page.locator("blockquote.cited.quote")).to_have_text(quote)
