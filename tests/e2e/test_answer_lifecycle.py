"""The life of an answer on the chat page, in a real browser against a scripted model whose
words and pace the tests choose: the status line (searching, reading N passages, writing),
Stop, and the versions Regenerate keeps. Screenshots land in test-artifacts/screenshots/."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from retrieval.core.settings import Settings
from retrieval.search.indexing import index_document
from tests.conftest import text_pdf, upload_bytes
from tests.e2e.test_browser import SCREENSHOTS, VIEWPORTS, browser, screenshot, watched_page
from tests.processes import http_server
from tests.scripted_llm import MODEL, ScriptedLLM
from web import create_app

pytestmark = pytest.mark.e2e

__all__ = ["browser"]  # the browser fixture, shared with the other browser tests

QUESTION = "How long is the hardware warranty period?"
FIRST = "The hardware warranty period is 24 months from the delivery date [1]."
SECOND = "Hardware is under warranty for 24 months after delivery [1]."
# Long enough that Stop comes well before the end, at a word every 0.3 s.
SLOW = " ".join(["The hardware warranty period is 24 months from the delivery date [1]."] * 12)

# Every text the status line shows, in order.
RECORD_STATUS = """
window.__statuses = [];
document.addEventListener("DOMContentLoaded", () => {
  const status = document.getElementById("answer-status");
  new MutationObserver(() => window.__statuses.push(status.textContent))
    .observe(status, { subtree: true, childList: true, characterData: true });
});
"""


@pytest.fixture(scope="module")
def llm() -> Iterator[ScriptedLLM]:
    with ScriptedLLM(lambda request: FIRST) as server:
        yield server


@pytest.fixture()
def slow_llm(llm: ScriptedLLM) -> Iterator[ScriptedLLM]:
    yield llm
    llm.first_word_delay = llm.word_delay = 0.0


@pytest.fixture(scope="module")
def live_url(tmp_path_factory: pytest.TempPathFactory, llm: ScriptedLLM) -> Iterator[str]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("lifecycle"), llm_base_url=llm.url,
                        llm_model=MODEL, rate_limit_per_minute=0)
    app = create_app(settings)
    client = app.test_client()
    for name, lines in (
            ("warranty.pdf", ["The hardware warranty period is 24 months from the delivery "
                              "date.", "Warranty claims go to claims@northwind.example."]),
            ("terms.pdf", ["Hardware warranty: 24 months. Software support: 12 months."])):
        index_document(app.extensions["docchat"], upload_bytes(client, text_pdf([lines]), name))
    with http_server(app) as url:
        yield url


@pytest.fixture()
def chat(browser: Browser, live_url: str) -> Iterator[Page]:
    with watched_page(browser, live_url, viewport=VIEWPORTS["desktop"]) as opened:
        opened.add_init_script(RECORD_STATUS)
        opened.goto("/chat")
        yield opened


def test_status_line_says_searching_reading_and_writing_then_goes(
        chat: Page, slow_llm: ScriptedLLM) -> None:
    slow_llm.first_word_delay, slow_llm.word_delay = 2.0, 0.1
    chat.fill("#question", QUESTION)
    chat.click("#ask-button")
    status = chat.locator('#answer-status[role="status"]')
    expect(status).to_have_text(re.compile(r"^Reading \d+ passages? from 2 documents…$"))
    expect(chat.locator("#stop-button")).to_be_visible()
    screenshot(chat, "chat-status-reading")
    expect(status).to_have_text("Writing…")
    expect(chat.locator(".citations a.cite").first).to_be_visible(timeout=30_000)
    expect(status).to_be_empty()
    expect(chat.locator("#stop-button")).to_be_hidden()
    seen = [text for text in chat.evaluate("window.__statuses") if text]
    assert seen[0] == "Searching your documents…", seen
    assert seen[1:] == [seen[1], "Writing…"] and seen[1].startswith("Reading "), seen


def test_stop_keeps_what_was_written_and_the_model_stops_too(
        chat: Page, slow_llm: ScriptedLLM) -> None:
    slow_llm.word_delay = 0.3
    slow_llm.script(SLOW)
    chat.fill("#question", QUESTION)
    chat.click("#ask-button")
    expect(chat.locator(".answer.streaming")).to_contain_text("24 months", timeout=30_000)
    expect(chat.locator("#ask-button")).to_be_disabled()
    chat.click("#stop-button")
    answer = chat.locator(".turn .answer").last
    expect(chat.locator(".turn .stopped-note")).to_have_text("Stopped")
    expect(answer).to_contain_text("The hardware warranty period")
    expect(chat.locator("#ask-button")).to_be_enabled()
    expect(chat.locator("#stop-button")).to_be_hidden()
    expect(chat.locator("#answer-status")).to_be_empty()
    # The server let go of the model: its stream was closed long before the last word.
    request = slow_llm.requests[-1]
    deadline = time.monotonic() + 15
    while not request.hung_up and time.monotonic() < deadline:
        time.sleep(0.2)
    assert request.hung_up, f"the model was still asked for words ({request.words_sent} sent)"
    assert request.words_sent < len(SLOW.split(" ")) / 2
    chat.reload()  # a stopped answer is kept as such
    expect(chat.locator(".turn .stopped-note")).to_have_text("Stopped")


def test_regenerate_keeps_the_first_version_to_flip_back_to(
        chat: Page, llm: ScriptedLLM) -> None:
    llm.script(FIRST, SECOND)
    chat.fill("#question", QUESTION)
    chat.click("#ask-button")
    answer = chat.locator(".turn .answer").last
    expect(answer).to_contain_text("from the delivery date", timeout=30_000)
    expect(chat.locator(".versions")).to_have_count(0)
    chat.click("button.regenerate")
    expect(answer).to_contain_text("after delivery", timeout=30_000)
    count = chat.locator(".versions .version-count")
    expect(count).to_have_text("2/2")
    expect(chat.locator(".turn .answer.streaming")).to_have_count(0)  # the answer is complete
    expect(chat.locator(".versions .version-next")).to_be_disabled()
    screenshot(chat, "chat-answer-versions")

    previous = chat.get_by_role("button", name="Previous version of this answer")
    previous.focus()
    chat.keyboard.press("Enter")
    expect(count).to_have_text("1/2")
    expect(answer).to_contain_text("from the delivery date")
    # Focus stays on the switcher, on the arrow that still goes somewhere.
    expect(chat.locator(".versions .version-next")).to_be_focused()
    chat.reload()  # the versions are kept with the conversation
    expect(chat.locator(".versions .version-count")).to_have_text("1/2")
    chat.get_by_role("button", name="Next version of this answer").click()
    expect(chat.locator(".turn .answer").last).to_contain_text("after delivery")


def test_on_a_phone_the_status_and_stop_are_in_view_above_the_question_box(
        browser: Browser, live_url: str, slow_llm: ScriptedLLM) -> None:
    slow_llm.first_word_delay = 2.0
    with watched_page(browser, live_url, viewport=VIEWPORTS["phone"]) as phone:
        phone.goto("/chat")
        phone.fill("#question", QUESTION)
        phone.click("#ask-button")
        expect(phone.locator("#answer-status")).to_have_text(re.compile(r"^Reading "))
        expect(phone.locator("#stop-button")).to_be_in_viewport()
        expect(phone.locator("#answer-status")).to_be_in_viewport()
        phone.screenshot(path=str(SCREENSHOTS / "chat-status-reading-phone.png"))
        expect(phone.locator(".citations a.cite").first).to_be_visible(timeout=30_000)
