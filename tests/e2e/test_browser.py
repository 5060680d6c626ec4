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
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.conftest import joined_pdf, scanned_pdf, text_pdf, upload_bytes, wait_indexed
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
SEARCH_MS = 60_000  # the first search in a process loads the embedding model

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


@contextmanager
def watched_page(browser: Browser, live_url: str, **options: Any) -> Iterator[Page]:
    """A page in a fresh browser context; script errors and console errors fail the test."""
    context = browser.new_context(base_url=live_url, **options)
    opened = context.new_page()
    problems: list[str] = []
    opened.on("pageerror", lambda exc: problems.append(f"script error: {exc}"))
    opened.on("console", lambda msg: problems.append(f"console: {msg.text}")
              if msg.type == "error" and not EXPECTED_REFUSAL.search(msg.text) else None)
    try:
        yield opened
    finally:
        context.close()
    assert not problems, problems


@pytest.fixture()
def page(browser: Browser, live_url: str) -> Iterator[Page]:
    with watched_page(browser, live_url, accept_downloads=True) as opened:
        yield opened


# The sizes people use the pages at: a laptop and a phone.
VIEWPORTS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}


@pytest.fixture(params=list(VIEWPORTS))
def viewport(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture()
def sized_page(browser: Browser, live_url: str, viewport: str) -> Iterator[Page]:
    with watched_page(browser, live_url, viewport=VIEWPORTS[viewport]) as opened:
        yield opened


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
    expect(broken.locator(".error")).to_have_text(f"{reason['message']} (code: {reason['code']})")
    photo = page.locator("#uploads li", has_text="photo.png")
    expect(photo).to_have_attribute("data-status", "failed")
    expect(photo.locator(".error")).to_contain_text("photo.png is not a type docchat reads")
    screenshot(page, "upload-failed")

    page.goto("/library")
    page.select_option("#filter-collection", collection)
    row = page.locator(f"#doc-{document_id}")
    expect(row.locator(".reason")).to_have_text(f"{reason['message']} (code: {reason['code']})")
    screenshot(page, "library")


def test_a_partly_scanned_pdf_says_how_many_pages_ocr_read(page: Page) -> None:
    collection = unique("scans")
    memo = joined_pdf(text_pdf([["Memo: the scanned page is the signed minutes."]]),
                      scanned_pdf([["Minutes of the board meeting, 3 March.",
                                    "The budget for the new warehouse was approved."]]))
    upload(page, collection, [pdf_file("signed memo.pdf", memo)])
    row = page.locator("#uploads li", has_text="signed memo.pdf")
    expect(row).to_have_attribute("data-status", "indexed", timeout=INDEXING_MS)
    expect(row.locator(".meta")).to_contain_text("2 pages, 1 read by OCR")
    page.goto("/library")
    page.select_option("#filter-collection", collection)
    # The row by its name: the list reloads for the filter after select_option returns.
    memo_row = page.locator("#documents tr", has_text="signed memo.pdf")
    expect(memo_row.locator("td.size")).to_have_text(
        re.compile(r"^2 pages, 1 read by OCR · \d+ passages?$"))
    expect(page.locator("#documents td.size")).to_have_count(1)
    screenshot(page, "library-ocr")


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
    # pdf.js draws the cited page and marks the cited sentence on it
    expect(page.locator("#pdf-page mark.cited-mark").first).to_be_visible(timeout=60_000)
    expect(page.locator("#pdf-page-label")).to_have_text("Page 2 of 2")
    expect(page.locator("#pdf-page mark.cited-mark").first).to_contain_text(
        "warranty period is 24 months")
    expect(page.locator("#cited-text")).to_contain_text("warranty period is 24 months")
    pdf = page.request.get(page.locator("#pdf-viewer").get_attribute("data-file") or "")
    assert pdf.ok and pdf.headers["content-type"] == "application/pdf"
    assert pdf.body() == WARRANTY_PDF
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


@pytest.fixture(scope="module")
def crowded_library(app) -> Iterator[None]:
    """A library the size teams reach: 84 reports in a dozen collections, plus one PDF held in
    two collections under the same name. Recorded straight in the store as indexed (with no
    passages): the chat page lists them, and questions about them find nothing to read."""
    store = app.extensions["docchat"].store
    added: list[str] = []

    def add(filename: str, collection: str) -> None:
        record = store.add_document(uuid.uuid4().hex, filename, Path("/nonexistent.pdf"), 2048,
                                    workspace="default", collection=collection)
        store.mark_parsed(record.id, "pdf", 4, None, [])
        store.mark_indexed(record.id, 0)
        added.append(record.id)

    for n in range(84):
        add(f"report-{n:02d} quarterly figures.pdf", f"crowd-{n % 12:02d}")
    add("twin-contract.pdf", "crowd-legal")
    add("twin-contract.pdf", "crowd-sales")
    yield
    for document_id in added:
        store.delete_document(document_id)


def assert_question_box_in_view(page: Page) -> None:
    """The question box and its button are inside the window; nothing is wider than it."""
    height = page.evaluate("window.innerHeight")
    for selector in ("#question", "#ask-button"):
        box = page.locator(selector).bounding_box()
        assert box and 0 <= box["y"] and box["y"] + box["height"] <= height, (selector, box)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def viewport_screenshot(page: Page, name: str) -> None:
    """What the window shows, not the whole page: is the question box in it?"""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


def test_chat_question_box_is_in_view_with_85_documents(
        sized_page: Page, viewport: str, crowded_library: None) -> None:
    page = sized_page
    page.goto("/chat")
    scope_line = page.locator("#scope-text")
    expect(scope_line).to_have_text(
        re.compile(r"^Asking: all documents \(\d+, in \d+ collections\)$"))
    assert page.evaluate("window.scrollY") == 0
    assert_question_box_in_view(page)
    examples = page.locator("#example-questions button")
    expect(examples).to_have_count(3)
    viewport_screenshot(page, f"chat-{viewport}")

    # Two copies of one PDF, told apart by their collections.
    page.click("#document-summary")
    page.fill("#document-filter", "twin-contract")
    choices = page.locator(".document-choice")
    expect(choices).to_have_count(2)
    assert sorted(choices.locator(".doc-collection").all_inner_texts()) == [
        "crowd-legal", "crowd-sales"]
    assert page.locator(".collection-group legend").all_inner_texts() == [
        "crowd-legal", "crowd-sales"]
    choices.filter(has_text="crowd-sales").locator("input").check()
    expect(scope_line).to_have_text("Asking: “twin-contract.pdf” in collection “crowd-sales”")
    expect(page.locator("#document-summary")).to_have_text(
        re.compile(r"^Documents: 1 of \d+ ticked$"))

    # A collection: the scope line counts it, the examples come from its documents' titles.
    page.select_option("#scope-collection", "crowd-03")
    expect(scope_line).to_have_text("Asking: all 7 documents in collection “crowd-03”")
    for example in examples.all_inner_texts():
        number = re.search(r"“report (\d\d) quarterly figures”", example)
        assert number and int(number.group(1)) % 12 == 3, example
    page.fill("#document-filter", "")
    page.locator(".document-choice input").nth(0).check()
    page.locator(".document-choice input").nth(1).check()
    expect(scope_line).to_have_text("Asking: 2 documents in collection “crowd-03”")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    viewport_screenshot(page, f"chat-picker-{viewport}")

    # An example is asked as it reads; the question box stays in view below the answer.
    question = examples.first.inner_text()
    examples.first.click()
    expect(page.locator(".turn .question")).to_have_text(question)
    expect(page.locator("#empty-state")).to_be_hidden()
    expect(page.locator("button.regenerate")).to_be_visible(timeout=ANSWER_MS)
    assert_question_box_in_view(page)


# Sixteen answered questions, as the page keeps them in this browser's storage.
LONG_CONVERSATION = json.dumps({"turns": [
    {"question": f"What does clause {n} of the agreement say about payment?",
     "answer": {"answer": "Payment is due within 45 days.", "grounded": True, "citations": [],
                "context": [], "html": "<p>" + "Payment is due within 45 days of the invoice. " * 4
                + "</p>"},
     "error": None} for n in range(16)]})


def test_chat_question_box_stays_in_view_below_a_long_conversation(
        sized_page: Page, viewport: str) -> None:
    page = sized_page
    stored = json.dumps(LONG_CONVERSATION)
    page.add_init_script(f"localStorage.setItem('docchat.chat.v1', {stored})")
    page.goto("/chat")
    expect(page.locator(".turn")).to_have_count(16)
    expect(page.locator("#empty-state")).to_be_hidden()
    assert page.evaluate("document.documentElement.scrollHeight > 1.5 * window.innerHeight")
    assert_question_box_in_view(page)
    viewport_screenshot(page, f"chat-long-{viewport}")
    page.locator(".turn").nth(6).scroll_into_view_if_needed()  # reading an earlier answer
    assert_question_box_in_view(page)


def test_chat_skip_link_label_and_heading(sized_page: Page) -> None:
    page = sized_page
    page.goto("/chat")
    page.keyboard.press("Tab")
    expect(page.locator(".skip-link")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_label("Your question")).to_be_focused()
    expect(page.get_by_role("heading", level=1)).to_have_text("Ask your documents")
    expect(page.get_by_role("complementary", name="Ask about")).to_be_visible()
    expect(page.get_by_role("log", name="Conversation")).to_have_attribute("aria-live", "polite")
    expect(page.get_by_label("Creativity (temperature)")).to_have_attribute(
        "aria-describedby", "temperature-help")


def test_chat_says_when_the_saved_scope_lost_its_document(
        sized_page: Page, viewport: str, app) -> None:
    client = app.test_client()
    collection, name = unique("scope"), f"{viewport} pump notes.txt"
    document_id = upload_bytes(client, f"Pump notes for {name}.\n".encode(), name, collection)
    wait_indexed(client, document_id)
    page = sized_page
    page.goto("/chat")
    page.select_option("#scope-collection", collection)
    page.click("#document-summary")
    page.locator(".document-choice", has_text=name).locator("input").check()
    scope_line = page.locator("#scope-text")
    expect(scope_line).to_have_text(f"Asking: “{name}” in collection “{collection}”")

    assert client.delete(f"/api/documents/{document_id}").status_code == 200
    page.reload()
    problem = page.locator("#scope-problem")
    expect(problem).to_contain_text(
        f"The document you picked, “{name}”, is no longer in the library")
    expect(problem).to_contain_text(f"Collection “{collection}” has no documents left")
    expect(scope_line).to_contain_text("Asking: nothing until you choose")
    expect(page.locator("#ask-button")).to_be_disabled()
    expect(page.locator("#ask-blocked")).to_contain_text("Choose what to ask about first")
    assert_question_box_in_view(page)
    viewport_screenshot(page, f"chat-deleted-scope-{viewport}")

    page.click("#accept-scope")
    expect(problem).to_be_hidden()
    expect(scope_line).to_contain_text("Asking: all documents (")
    expect(page.locator("#ask-button")).to_be_enabled()
    page.reload()  # the choice is kept
    expect(scope_line).to_contain_text("Asking: all documents (")
    expect(problem).to_be_hidden()


def test_a_question_typed_while_an_answer_streams_waits_with_a_reason(
        page: Page, warranty_collection: str) -> None:
    page.goto("/chat")
    page.select_option("#scope-collection", warranty_collection)
    page.fill("#question", "How long is the hardware warranty period?")
    page.click("#ask-button")
    page.fill("#question", "Where are warranty claims sent?")
    expect(page.locator("#ask-button")).to_be_disabled()
    expect(page.locator("#ask-blocked")).to_contain_text("An answer is still being written")
    page.press("#question", "Enter")  # not sent, and not thrown away
    expect(page.locator(".turn")).to_have_count(1)
    expect(page.locator("#question")).to_have_value("Where are warranty claims sent?")

    expect(page.locator("#ask-button")).to_be_enabled(timeout=ANSWER_MS)
    expect(page.locator("#ask-blocked")).to_be_hidden()
    page.click("#ask-button")
    expect(page.locator(".turn .question").nth(1)).to_have_text("Where are warranty claims sent?")
    expect(page.locator("button.regenerate")).to_be_visible(timeout=ANSWER_MS)
    expect(page.locator("button.regenerate")).to_have_count(1)


def test_search_highlights_words_and_links_to_the_passage(
        page: Page, warranty_collection: str) -> None:
    page.goto("/search")
    page.fill("#query", "warranty claims")
    page.select_option("#search-collection", warranty_collection)
    page.click("#search-form button[type=submit]")
    first = page.locator("#results .result").first
    expect(first.locator("mark").first).to_have_text("warranty", ignore_case=True,
                                                      timeout=SEARCH_MS)
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


# ---- upload, library and search, as people use them every day (issue 16) ----

# Every visible control has a label; its name, for a failure message, when it has none.
UNLABELLED_CONTROLS = """() => [...document.querySelectorAll("input, select, textarea")]
  .filter((c) => c.type !== "hidden" && c.getClientRects().length)
  .filter((c) => !(c.labels && c.labels.length) && !c.getAttribute("aria-label")
                 && !c.getAttribute("aria-labelledby"))
  .map((c) => c.id || c.name || c.outerHTML)"""


def assert_fits_and_is_labelled(page: Page, heading: str) -> None:
    """One h1, landmarks, a label on every control, nothing wider than the window."""
    expect(page.get_by_role("heading", level=1)).to_have_text(heading)
    expect(page.get_by_role("banner")).to_have_count(1)
    expect(page.get_by_role("navigation", name="Main")).to_have_count(1)
    expect(page.get_by_role("main")).to_have_count(1)
    assert page.evaluate(UNLABELLED_CONTROLS) == []
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), (
        page.evaluate("document.documentElement.scrollWidth"))


def test_upload_library_and_search_fit_the_window_and_label_everything(
        sized_page: Page, viewport: str, crowded_library: None) -> None:
    page = sized_page
    page.goto("/upload")
    assert_fits_and_is_labelled(page, "Upload documents")
    expect(page.get_by_role("group", name="Drop files here")).to_be_visible()
    screenshot(page, f"upload-{viewport}")

    page.goto("/library")
    expect(page.locator("#documents tbody tr").first).to_be_visible()
    assert_fits_and_is_labelled(page, "Library")
    width = page.evaluate("window.innerWidth")
    for button in page.locator("#documents tbody tr").nth(2).locator("button").all():
        box = button.bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= width, box
    viewport_screenshot(page, f"library-{viewport}")

    page.goto("/search")
    assert_fits_and_is_labelled(page, "Search")
    expect(page.get_by_role("search")).to_be_visible()
    expect(page.get_by_label("Search for")).to_be_visible()
    screenshot(page, f"search-empty-{viewport}")


def test_uploading_the_same_file_again_says_it_is_already_there(
        sized_page: Page, viewport: str) -> None:
    page = sized_page
    name = f"{viewport} duplicate notes.txt"
    notes = {"name": name, "mimeType": "text/plain",
             "buffer": f"Pump maintenance notes for the {viewport} test.\n".encode()}
    upload(page, unique("dupe"), [notes])
    first = page.locator("#uploads li").first
    expect(first).to_have_attribute("data-document-id", re.compile(r"\w+"))
    page.set_input_files("#file-input", [notes])
    rows = page.locator("#uploads li")
    expect(rows).to_have_count(2)
    again = rows.first
    expect(again.locator(".duplicate")).to_have_text("Already in this collection")
    expect(page.locator('#uploads li[data-status="indexed"]')).to_have_count(
        2, timeout=INDEXING_MS)
    assert again.get_attribute("data-document-id") == first.get_attribute("data-document-id")
    expect(again.locator(".meta")).to_contain_text("1 passage")
    expect(again).not_to_contain_text("undefined")
    screenshot(page, f"upload-duplicate-{viewport}")

    # "ask about it" opens the chat scoped to that one document.
    again.get_by_role("link", name="ask about it").click()
    expect(page).to_have_url(re.compile(r"/chat\?document=\w+$"))
    scope_line = page.locator("#scope-text")
    expect(scope_line).to_have_text(re.compile(f"^Asking: “{name}” in collection"))
    page.select_option("#scope-collection", "")  # a reload keeps the reader's own choice
    page.reload()
    expect(scope_line).to_have_text(re.compile(r"^Asking: all documents \("))


def test_a_bad_collection_name_is_explained_in_the_page(sized_page: Page, viewport: str) -> None:
    page = sized_page
    upload(page, "reports/2026", [{"name": "a.txt", "mimeType": "text/plain",
                                   "buffer": b"Some notes."}])
    error = page.locator("#collection-error")
    expect(error).to_contain_text("“reports/2026” cannot name a collection")
    expect(error).to_contain_text("(code: bad_collection)")
    expect(page.locator("#collection")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#uploads li")).to_have_count(0)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    screenshot(page, f"upload-bad-collection-{viewport}")
    page.fill("#collection", "reports 2026")
    expect(error).to_be_hidden()


def test_library_says_when_filters_match_nothing_and_keeps_focus_across_refresh(
        sized_page: Page, viewport: str, crowded_library: None) -> None:
    page = sized_page
    page.goto("/library")
    page.select_option("#filter-collection", "crowd-03")
    rows = page.locator("#documents tbody tr")
    expect(rows).to_have_count(7)
    expect(rows.first.locator("td.size")).to_have_text("4 pages · 0 passages")
    page.select_option("#filter-status", "failed")
    expect(page.locator("#library-no-match")).to_contain_text(
        "No documents match these filters")
    expect(page.locator("#library-empty")).to_be_hidden()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    screenshot(page, f"library-no-match-{viewport}")
    page.click("#clear-filters")
    expect(page.locator("#library-no-match")).to_be_hidden()
    expect(rows.first).to_be_visible()

    page.select_option("#filter-collection", "crowd-03")
    expect(rows).to_have_count(7)
    reindex = rows.nth(3).locator("button.reindex")
    reindex.focus()
    row_id = rows.nth(3).get_attribute("id")
    # The page refreshes itself every 10 seconds; run one now rather than wait for it.
    with page.expect_response(re.compile(r"/api/documents\?")):
        page.evaluate("refresh()")
    page.wait_for_timeout(200)
    assert page.evaluate("[document.activeElement.closest('tr').id, "
                         "document.activeElement.dataset.action]") == [row_id, "reindex"]


def test_a_collection_emptied_by_a_delete_leaves_the_library_filter(page: Page, app) -> None:
    store = app.extensions["docchat"].store
    collection = unique("emptied")
    record = store.add_document(uuid.uuid4().hex, "last one.pdf", Path("/nonexistent.pdf"), 2048,
                                workspace="default", collection=collection)
    store.mark_parsed(record.id, "pdf", 1, None, [])
    store.mark_indexed(record.id, 0)
    page.goto("/library")
    with page.expect_response(re.compile(r"/api/documents\?.*collection=")):
        page.select_option("#filter-collection", collection)
    expect(page.locator("#documents tbody tr")).to_have_count(1)
    delete = page.locator(f"#doc-{record.id} button.delete")
    delete.click()
    expect(delete).to_have_text("Really delete?")
    delete.click()
    expect(page.locator("#library-notice")).to_have_text(
        f"Collection “{collection}” has no documents left, so all collections are shown.",
        timeout=60_000)
    expect(page.locator("#filter-collection")).to_have_value("")
    expect(page.locator(f'#filter-collection option[value="{collection}"]')).to_have_count(0)


@pytest.fixture(scope="module")
def engine_notes(app) -> str:
    """A collection with one note that says engine, engines and engineering."""
    client = app.test_client()
    collection = unique("engines")
    document_id = upload_bytes(
        client, b"The left engine failed on climb. Both engines were replaced by the "
                b"engineering team in Anchorage.\n", "engine notes.txt", collection)
    wait_indexed(client, document_id)
    return collection


def test_search_highlights_whole_words_and_says_when_nothing_matches(
        sized_page: Page, viewport: str, engine_notes: str) -> None:
    page = sized_page
    page.goto("/search")
    page.fill("#query", "engine")
    page.select_option("#search-collection", engine_notes)
    page.click("#search-form button[type=submit]")
    first = page.locator("#results .result").first
    expect(first.locator("mark").first).to_be_visible(timeout=SEARCH_MS)
    assert first.locator("mark").all_inner_texts() == ["engine", "engines"]
    expect(first.locator(".snippet")).to_contain_text("engineering team")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    screenshot(page, f"search-{viewport}")

    # Back from a passage returns to the same search, collection and all.
    first.locator(".result-title").click()
    expect(page).to_have_url(re.compile(r"/passage/"))
    page.go_back()
    expect(page.locator("#query")).to_have_value("engine")
    expect(page.locator("#search-collection")).to_have_value(engine_notes)
    expect(page.locator("#results .result")).to_have_count(1, timeout=SEARCH_MS)

    page.fill("#query", "zzqxjv")
    page.select_option("#search-collection", "")
    page.click("#search-form button[type=submit]")
    expect(page.locator("#nothing-matches")).to_contain_text("Nothing matches “zzqxjv”.",
                                                             timeout=SEARCH_MS)
    expect(page.locator("#results .result")).to_have_count(0)
    screenshot(page, f"search-nothing-{viewport}")


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
