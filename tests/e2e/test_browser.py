"""The pages in a real browser (Debian's chromium driven by Playwright) against the real app,
Celery worker, index and LLM server: uploads with progress bars, library, streamed answers with
citations that open the cited page, search, meetings with CSV export, failures with reasons.

A screenshot of every page lands in test-artifacts/screenshots/ (git-ignored)."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import re
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.conftest import text_pdf
from tests.processes import http_server
from web import create_app

pytestmark = pytest.mark.e2e

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking"]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
# Chromium logs every 4xx answer; refusals the tests provoke on purpose are not page errors.
EXPECTED_REFUSAL = re.compile(r"status of (400|409|413|415|422) ")
INDEXING_MS = 240_000  # two cores shared by the worker, the LLM server and the browser
ANSWER_MS = 180_000

WARRANTY_PDF = text_pdf([
    ["Service agreement between Northwind Ltd and Contoso GmbH.",
     "Payment terms: invoices are due within 45 days."],
    ["The hardware warranty period is 24 months from the delivery date.",
     "Warranty claims are sent to claims@northwind.example within 30 days."],
])
SPEC_PDF = text_pdf([["Turbine blade inspection schedule: every 400 flight hours."]])
BROKEN_PDF = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 9 0 R >>\nendobj\ntrailer\n<<>>\n"
RUSSIAN_NOTES = ("Гарантийный срок на оборудование составляет двенадцать месяцев.\n"
                 "Оплата производится в рублях по курсу Центрального банка.\n")
MEETING_NOTES = """Weekly sync, 2026-03-09
Anna: Welcome everyone. The launch is planned for April.
Boris: I will send the signed contract to Anna by Friday.
Anna: Thanks. Clara, can you review the pricing page?
Clara: Yes, I'll review the pricing page before Wednesday.
"""


@pytest.fixture(scope="module")
def live_url(app) -> Iterator[str]:
    with http_server(app) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is not installed (apt-get install chromium; .ci/run "
                    "does it): the browser tests need it.")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS,
                                              headless=True)
        yield launched
        launched.close()


@pytest.fixture()
def page(browser: Browser, live_url: str) -> Iterator[Page]:
    context = browser.new_context(base_url=live_url, accept_downloads=True)
    opened = context.new_page()
    problems: list[str] = []
    opened.on("pageerror", lambda exc: problems.append(f"script error: {exc}"))
    opened.on("console", lambda msg: problems.append(f"console: {msg.text}")
              if msg.type == "error" and not EXPECTED_REFUSAL.search(msg.text) else None)
    yield opened
    context.close()
    assert not problems, problems


def screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def unique(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}"


def pdf_file(name: str, data: bytes) -> dict[str, Any]:
    return {"name": name, "mimeType": "application/pdf", "buffer": data}


def upload(page: Page, collection: str, files: list[dict[str, Any]]) -> None:
    page.goto("/upload")
    page.fill("#collection", collection)
    page.set_input_files("#file-input", files)


def test_two_pdfs_each_get_a_progress_bar_that_ends_indexed(page: Page) -> None:
    upload(page, unique("two"), [pdf_file("warranty.pdf", WARRANTY_PDF),
                                 pdf_file("turbine spec.pdf", SPEC_PDF)])
    rows = page.locator("#uploads li")
    expect(rows).to_have_count(2)
    expect(rows.locator("progress")).to_have_count(2)
    expect(page.locator('#uploads li[data-status="indexed"]')).to_have_count(
        2, timeout=INDEXING_MS)
    for name, pages in (("warranty.pdf", 2), ("turbine spec.pdf", 1)):
        row = rows.filter(has_text=name)
        assert row.locator("progress").evaluate("bar => bar.value") == 1
        expect(row.locator(".meta")).to_contain_text(f"{pages} page")
    screenshot(page, "upload")


def test_failed_uploads_show_their_reason(page: Page, live_url: str) -> None:
    import requests

    collection = unique("broken")
    upload(page, collection, [pdf_file("broken.pdf", BROKEN_PDF),
                              {"name": "photo.png", "mimeType": "image/png",
                               "buffer": b"\x89PNG\r\n\x1a\n" + b"\0" * 64}])
    broken = page.locator("#uploads li", has_text="broken.pdf")
    expect(broken).to_have_attribute("data-status", "failed", timeout=INDEXING_MS)
    document_id = broken.get_attribute("data-document-id")
    reason = requests.get(f"{live_url}/api/documents/{document_id}", timeout=10).json()["error"]
    expect(broken.locator(".error")).to_have_text(reason["message"])
    photo = page.locator("#uploads li", has_text="photo.png")
    expect(photo).to_have_attribute("data-status", "failed")
    expect(photo.locator(".error")).to_contain_text("photo.png is not a type docchat reads")
    screenshot(page, "upload-failed")

    page.goto("/library")
    page.select_option("#filter-collection", collection)
    row = page.locator(f"#doc-{document_id}")
    expect(row.locator(".reason")).to_have_text(reason["message"])
    screenshot(page, "library")


def test_library_filters_deletes_and_escapes_names(page: Page) -> None:
    collection = unique("library")
    hostile = "<img src=x onerror=alert(1)>.txt"
    upload(page, collection, [
        {"name": "договор.txt", "mimeType": "text/plain", "buffer": RUSSIAN_NOTES.encode()},
        {"name": hostile, "mimeType": "text/plain", "buffer": b"Plain notes about nothing."},
    ])
    expect(page.locator('#uploads li[data-status="indexed"]')).to_have_count(
        2, timeout=INDEXING_MS)
    page.goto("/library")
    page.select_option("#filter-collection", collection)
    rows = page.locator("#documents tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.filter(has_text="договор.txt")).to_have_count(1)
    expect(page.locator("#documents td.filename", has_text=hostile)).to_have_count(1)
    assert page.locator("#documents img").count() == 0

    delete = rows.filter(has_text=hostile).locator("button.delete")
    delete.click()
    expect(delete).to_have_text("Really delete?")
    delete.click()
    expect(page.locator("#library-error")).to_be_hidden()
    expect(rows).to_have_count(1, timeout=60_000)  # waits for the index writer's lock
    expect(rows.first).to_contain_text("договор.txt")


@pytest.fixture(scope="module")
def warranty_collection(browser: Browser, live_url: str) -> str:
    collection = unique("chat")
    context = browser.new_context(base_url=live_url)
    page = context.new_page()
    upload(page, collection, [pdf_file("service-agreement.pdf", WARRANTY_PDF)])
    expect(page.locator('#uploads li[data-status="indexed"]')).to_have_count(
        1, timeout=INDEXING_MS)
    context.close()
    return collection


COUNT_STREAMED_TOKENS = """
window.__streamed = 0;
document.addEventListener("DOMContentLoaded", () => {
  new MutationObserver((changes) => {
    for (const change of changes) {
      const node = change.target.nodeType === 1 ? change.target : change.target.parentElement;
      if (node && node.closest(".answer.streaming") && node.textContent) window.__streamed++;
    }
  }).observe(document.body, { subtree: true, childList: true, characterData: true });
});
"""


def test_answer_streams_with_a_citation_that_opens_the_cited_page(
        page: Page, warranty_collection: str) -> None:
    page.add_init_script(COUNT_STREAMED_TOKENS)
    page.goto("/chat")
    page.select_option("#scope-collection", warranty_collection)
    page.fill("#question", "How long is the hardware warranty period?")
    page.click("#ask-button")
    citation = page.locator(".citations a.cite").filter(has_text="page 2").first
    expect(citation).to_be_visible(timeout=ANSWER_MS)
    assert page.evaluate("window.__streamed") >= 2, "the answer did not arrive token by token"
    answer = page.locator(".answer").first
    expect(answer).not_to_be_empty()
    screenshot(page, "chat")

    page.reload()  # the conversation is kept across reloads
    expect(page.locator(".turn .question")).to_have_text(
        "How long is the hardware warranty period?")
    expect(page.locator(".citations a.cite").first).to_be_visible()

    page.locator(".citations a.cite").filter(has_text="page 2").first.click()
    expect(page).to_have_url(re.compile(r"/passage/\w+\?.*page=2"))
    expect(page.locator("#pdf-view")).to_have_attribute("src", re.compile(r"#page=2$"))
    expect(page.locator("#cited-text")).to_contain_text("warranty period is 24 months")
    pdf = page.request.get(page.locator("#pdf-view").get_attribute("src").split("#")[0])
    assert pdf.ok and pdf.headers["content-type"] == "application/pdf"
    assert pdf.body() == WARRANTY_PDF
    page.wait_for_timeout(1000)  # let the PDF viewer draw before the screenshot
    screenshot(page, "passage")


def test_regenerate_rereads_the_same_passages(page: Page, warranty_collection: str) -> None:
    page.goto("/chat")
    page.select_option("#scope-collection", warranty_collection)
    page.fill("#question", "Where are warranty claims sent?")
    with page.expect_response("**/api/ask", timeout=ANSWER_MS) as answered:
        page.click("#ask-button")
    expect(page.locator("button.regenerate")).to_be_visible(timeout=ANSWER_MS)
    # The streamed reply ends with the answer event, which names the passages read. (What
    # the bundled model writes, and so what it cites, varies from one reading to the next.)
    last = answered.value.text().strip().split("\n\n")[-1]
    assert last.startswith("event: answer"), last
    first = json.loads(last.split("\n", 1)[1].removeprefix("data: "))["context"]
    assert first
    with page.expect_request("**/api/ask") as asked:
        page.click("button.regenerate")
    assert asked.value.post_data_json["context"] == first
    expect(page.locator("button.regenerate")).to_be_visible(timeout=ANSWER_MS)


def test_search_highlights_words_and_links_to_the_passage(
        page: Page, warranty_collection: str) -> None:
    page.goto("/search")
    page.fill("#query", "warranty claims")
    page.select_option("#search-collection", warranty_collection)
    page.click("#search-form button[type=submit]")
    first = page.locator("#results .result").first
    expect(first.locator("mark").first).to_have_text("warranty", ignore_case=True)
    expect(first.locator(".result-title")).to_contain_text("service-agreement.pdf, page 2")
    screenshot(page, "search")
    first.locator(".result-title").click()
    expect(page.locator("#cited-text")).to_contain_text("claims@northwind.example")


def test_meeting_summary_shows_commitments_and_exports_csv(page: Page) -> None:
    page.goto("/meetings")
    page.fill("#meeting-text", MEETING_NOTES)
    page.click("#summarize-button")
    expect(page.locator("#meeting-result")).to_be_visible(timeout=ANSWER_MS)
    expect(page.locator("#meeting-summary")).not_to_be_empty()
    with page.expect_download() as download:
        page.click("#export-csv")
    body = Path(download.value.path()).read_text(encoding="utf-8-sig")
    table = list(csv.reader(io.StringIO(body)))
    assert table[0][:3] == ["who", "what", "to_whom"]
    assert len(table) == page.locator("#commitments tbody tr").count() + 1
    title = page.locator("#meeting-title").inner_text()
    assert page.locator("#slack-text").input_value().startswith(f"*{title}*")
    screenshot(page, "meetings")


def test_every_page_renders_without_script_errors(page: Page) -> None:
    for path in ("/chat", "/upload", "/library", "/search", "/meetings", "/api/docs"):
        response = page.goto(path)
        assert response is not None and response.ok, path
        assert response.headers["content-type"].startswith("text/html")
        page.wait_for_load_state("networkidle")
        screenshot(page, "page-" + path.strip("/").replace("/", "-"))


@pytest.fixture(scope="module")
def team_url(settings, worker) -> Iterator[str]:
    """docchat with logins on (plain http on loopback, so cookies without Secure)."""
    app = create_app(dataclasses.replace(settings, auth="required", cookie_secure=False))
    accounts = app.extensions["docchat"].accounts
    if accounts.user_named("browser-user") is None:
        accounts.create_user("browser-user", "a long browser password", "browser-team")
    with http_server(app) as url:
        yield url


def test_team_member_logs_in_uploads_and_sees_only_the_teams_library(
        browser: Browser, team_url: str) -> None:
    context = browser.new_context(base_url=team_url)
    page = context.new_page()
    page.goto("/upload")
    expect(page).to_have_url(re.compile(r"/login\?next=/upload"))
    page.fill("input[name=username]", "browser-user")
    page.fill("input[name=password]", "wrong password!")
    page.click("#login-form button")
    expect(page.locator(".error")).to_have_text("Wrong username or password.")
    page.fill("input[name=username]", "browser-user")
    page.fill("input[name=password]", "a long browser password")
    page.click("#login-form button")
    expect(page).to_have_url(re.compile(r"/upload$"))
    screenshot(page, "login-upload")
    # Uploading sends the session's CSRF token; without it the server would answer 403.
    page.set_input_files("#file-input", [pdf_file("team notes.pdf", SPEC_PDF)])
    expect(page.locator('#uploads li[data-status="indexed"]')).to_have_count(
        1, timeout=INDEXING_MS)
    page.goto("/library")
    expect(page.locator("#documents tbody tr")).to_have_count(1)
    expect(page.locator("header form.account")).to_contain_text("browser-user · browser-team")
    page.click("header form.account button")
    expect(page).to_have_url(re.compile(r"/login$"))
    context.close()
