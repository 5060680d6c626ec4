"""The meetings page in a real browser (Debian's chromium) against the real app and a Celery
worker, with a scripted model whose pace the tests set: a progress line that names each part
as the summary moves, quotes of pasted notes that open their turn in the transcript, a page
that fits a phone and passes axe-core's serious and critical rules, no console errors.

Commitments are read by rules, not by the model, so what the notes promise is asserted; the
summary's words come from the scripted server. Screenshots land in
test-artifacts/screenshots/meetings-*.png."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from ingest.formats import parse_text_upload
from retrieval.core.settings import Settings
from retrieval.meetings.commitments import normalize
from tests.e2e import test_browser as browser_tests
from tests.e2e.test_browser import UNLABELLED_CONTROLS, VIEWPORTS, screenshot, watched_page
from tests.processes import Worker, http_server
from tests.retrieval.test_llm_branches import draft_of, is_map, is_plain, is_reduce, turn_range
from tests.scripted_llm import MODEL, ScriptedLLM
from web import create_app

pytestmark = pytest.mark.e2e

browser = browser_tests.browser  # the one chromium of the browser tests

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING = ("serious", "critical")
# axe-core is evaluated through the DevTools protocol: the page's Content-Security-Policy
# refuses the inline script that add_script_tag would add, and stays as strict as in use.
RUN_AXE = """async (blocking) => {
  const result = await axe.run(document, { resultTypes: ["violations"] });
  const where = (v) => v.nodes.slice(0, 3).map((n) => n.target.join(" "));
  return result.violations.filter((v) => blocking.includes(v.impact))
    .map((v) => `${v.impact} ${v.id}: ${v.help} at ${where(v)}`);
}"""
RESULT_MS = 180_000  # two cores shared by the worker, the browser and the tests
NO_OVERFLOW = "document.documentElement.scrollWidth <= window.innerWidth"

# A path with no full stop in it: the quote keeps it whole (promise clauses end at a '.').
LONG_LINK = ("https://wiki/engineering/platform/migrations-2026/"
             "staging-cluster-move-to-the-new-region-checklist-final-version-two")
MEETING = f"""Weekly sync, 2026-03-09
Anna: Welcome everyone. The launch is planned for April.
Boris: I will send the signed contract to Anna by Friday.
Anna: Thanks. Clara, can you review the pricing page?
Clara: Yes, I'll review the pricing page before Wednesday.
Dmitri: The staging cluster moves to the new region next week.
Anna: Good. Who owns the migration checklist?
Dmitri: I'll write the migration checklist at {LONG_LINK} by Thursday.
Boris: The customer portal still shows the old logo.
Clara: Let me fix the logo on the customer portal tomorrow.
Anna: Anything else?
Boris: No, that's all from me.
Anna: Thanks all, see you next week.
"""
TURNS = parse_text_upload(MEETING, "x", "notes.txt").turns
PROMISERS = ["Boris", "Clara", "Dmitri", "Clara"]
SUMMARY = ("The team planned the April launch, the contract, the pricing page and the staging "
           "move; the checklist lives at https://wiki.example.com/engineering/platform/"
           "migrations/2026/staging-cluster-move-to-the-new-region-checklist-final.")

# Every text the progress line shows, and the bar's value with it, in order.
RECORD_PROGRESS = """
window.__labels = [];
window.__bar = [];
document.addEventListener("DOMContentLoaded", () => {
  const status = document.getElementById("meeting-status");
  const bar = document.getElementById("meeting-progress-bar");
  new MutationObserver(() => {
    window.__labels.push(status.textContent);
    window.__bar.push(bar.value);
  }).observe(status, { subtree: true, childList: true, characterData: true });
});
"""


class Pace:
    """Seconds the scripted model takes per request: long enough, and each part's label
    stays up through at least one of the page's polls (one a second)."""

    seconds = 0.0


def paced(reply: str) -> str:
    time.sleep(Pace.seconds)
    return reply


@pytest.fixture(scope="module")
def llm() -> Iterator[ScriptedLLM]:
    with ScriptedLLM() as server:
        server.when(is_map, lambda r: paced(draft_of(*turn_range(r))))
        server.when(is_plain, lambda r: paced("The part was about the launch."))
        server.when(is_reduce, lambda r: paced(SUMMARY))
        yield server


@pytest.fixture(scope="module")
def live_url(tmp_path_factory: pytest.TempPathFactory, redis_url: str,
             llm: ScriptedLLM) -> Iterator[str]:
    """The app and a worker of their own: parts of 80 tokens (four or five of them for
    MEETING), and the scripted model."""
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("meetings-page"), redis_url=redis_url,
        queue=f"docchat-meetings-{uuid.uuid4().hex[:8]}", llm_base_url=llm.url,
        llm_model=MODEL, summary_part_tokens=80, summary_max_tokens=200, parse_time_limit=120,
        rate_limit_per_minute=0, worker_concurrency=1)
    worker = Worker(settings, "meetings").start()
    try:
        with http_server(create_app(settings)) as url:
            yield url
    finally:
        worker.stop()


@pytest.fixture()
def page(browser: Browser, live_url: str) -> Iterator[Page]:
    with watched_page(browser, live_url, viewport=VIEWPORTS["desktop"]) as opened:
        yield opened


@pytest.fixture(params=list(VIEWPORTS))
def sized_page(request: pytest.FixtureRequest, browser: Browser,
               live_url: str) -> Iterator[Page]:
    with watched_page(browser, live_url, viewport=VIEWPORTS[request.param]) as opened:
        opened.viewport_name = request.param  # type: ignore[attr-defined]
        yield opened


@pytest.fixture(scope="module")
def axe_source() -> str:
    if not AXE.exists():
        pytest.fail(f"axe-core is not installed ({AXE} is missing): run `npm ci`.")
    return AXE.read_text(encoding="utf-8")


def summarize(page: Page, keep: bool = True) -> None:
    """Paste MEETING, summarize it, and wait for the result."""
    page.goto("/meetings")
    page.fill("#meeting-text", MEETING)
    page.set_checked("#meeting-keep", keep)
    page.click("#summarize-button")
    expect(page.locator("#meeting-result")).to_be_visible(timeout=RESULT_MS)
    expect(page.locator("#summarize-button")).to_be_enabled()


def axe_problems(page: Page, axe_source: str) -> list[str]:
    if not page.evaluate("typeof window.axe === 'object'"):
        page.evaluate(axe_source)
    problems: list[str] = page.evaluate(RUN_AXE, list(BLOCKING))
    return problems


def in_order(labels: list[str]) -> list[str]:
    """The labels as a reader saw them change: repeats and blanks dropped."""
    seen: list[str] = []
    for label in labels:
        if label and (not seen or seen[-1] != label):
            seen.append(label)
    return seen


def job_of(page: Page) -> dict[str, Any]:
    """The finished job behind the result shown (its id is in the export link)."""
    href = page.locator("#export-csv").get_attribute("href") or ""
    job_url = href.split("?")[0]
    assert re.fullmatch(r"/api/jobs/\w+", job_url), href
    body: dict[str, Any] = page.request.get(job_url).json()
    return body


def test_progress_line_names_each_part_as_the_summary_moves(page: Page) -> None:
    Pace.seconds = 1.5
    try:
        page.add_init_script(RECORD_PROGRESS)
        page.goto("/meetings")
        status = page.locator("#meeting-status")
        expect(status).to_have_attribute("aria-live", "polite")
        page.fill("#meeting-text", MEETING)
        page.click("#summarize-button")
        expect(status).to_have_text(re.compile(r"^Summarizing part 2 of \d+…$"),
                                    timeout=RESULT_MS)
        expect(page.locator("#meeting-progress-bar")).to_be_visible()
        screenshot(page, "meetings-progress")
        expect(page.locator("#meeting-result")).to_be_visible(timeout=RESULT_MS)
    finally:
        Pace.seconds = 0.0

    job = job_of(page)
    parts = job["result"]["parts"]
    assert parts >= 3 and job["progress_label"] == "Done"
    labels = in_order(page.evaluate("window.__labels"))
    summarizing = [label for label in labels if label.startswith("Summarizing")]
    assert summarizing == [f"Summarizing part {n} of {parts}…" for n in range(1, parts + 1)], (
        labels)
    combining = labels.index("Combining the parts…")
    assert combining > labels.index(summarizing[-1]), labels
    assert labels[-1] == f"Done: {len(PROMISERS)} commitments found.", labels
    bar = page.evaluate("window.__bar")
    assert bar == sorted(bar) and bar[-1] == 1, bar
    expect(page.locator("#meeting-progress-bar")).to_be_hidden()


def test_quotes_of_pasted_notes_open_their_turn_highlighted(page: Page) -> None:
    summarize(page)
    rows = page.locator("#commitments tbody tr")
    expect(rows).to_have_count(len(PROMISERS))
    assert rows.locator("td:first-child").all_inner_texts() == PROMISERS
    quotes = rows.locator("a.quote")
    expect(quotes).to_have_count(len(PROMISERS))
    document_ids = set()
    for quote in quotes.all():
        href = quote.get_attribute("href") or ""
        found = re.fullmatch(r"/passage/(\w+)\?turns=(\d+)-(\d+)", href)
        assert found and found.group(2) == found.group(3), href
        document_ids.add(found.group(1))
        said = quote.inner_text().strip("“”")
        assert normalize(said) in normalize(TURNS[int(found.group(2))].text), (href, said)
    assert len(document_ids) == 1
    # Kept under the notes' own first line, in the collection the page names.
    expect(page.locator("#saved-note")).to_have_text(
        "Kept in the library as “Weekly sync, 2026-03-09.txt”, collection “meetings”.")
    # Decisions link to their turns too; no link on the page leads nowhere.
    for link in page.locator('#meeting-result a[href^="/passage/"]').all():
        href = link.get_attribute("href") or ""
        assert page.request.get(href).ok, href
    screenshot(page, "meetings-result")

    first = quotes.first
    said = first.inner_text().strip("“”")
    turn = int(re.search(r"turns=(\d+)", first.get_attribute("href") or "").group(1))
    first.click()
    expect(page).to_have_url(re.compile(rf"/passage/\w+\?turns={turn}-{turn}$"))
    cited = page.locator(f"#turn-{turn}")
    expect(cited).to_have_class(re.compile(r"\bcited\b"))
    expect(cited).to_contain_text(said)
    expect(cited).to_be_in_viewport()
    expect(page.locator("#transcript li.cited")).to_have_count(1)
    screenshot(page, "meetings-passage")


def test_notes_not_kept_show_their_quotes_without_links(page: Page) -> None:
    summarize(page, keep=False)
    rows = page.locator("#commitments tbody tr")
    expect(rows).to_have_count(len(PROMISERS))
    expect(rows.locator("span.quote")).to_have_count(len(PROMISERS))
    expect(page.locator('#meeting-result a[href*="/passage/"]')).to_have_count(0)
    expect(page.locator("#saved-note")).to_be_hidden()
    # Where each was said is still there, in words.
    assert rows.locator("td:last-child .meta").all_inner_texts()[0] == "turn 2"


def test_meetings_page_fits_the_window_and_passes_axe(sized_page: Page,
                                                      axe_source: str) -> None:
    page = sized_page
    viewport = page.viewport_name  # type: ignore[attr-defined]
    page.goto("/meetings")
    expect(page.get_by_role("heading", level=1)).to_have_count(1)
    assert page.evaluate(UNLABELLED_CONTROLS) == []
    assert page.evaluate(NO_OVERFLOW), page.evaluate("document.documentElement.scrollWidth")
    assert axe_problems(page, axe_source) == []

    summarize(page)
    expect(page.get_by_role("heading", level=1)).to_have_count(1)
    assert page.evaluate(UNLABELLED_CONTROLS) == []
    assert page.evaluate(NO_OVERFLOW), page.evaluate("document.documentElement.scrollWidth")
    quote = page.locator("#commitments .quote", has_text="migration checklist")
    assert quote.evaluate("q => q.getBoundingClientRect().right <= window.innerWidth")
    if viewport == "phone":  # one card per commitment, each cell named by its column
        assert page.locator("#commitments tr").first.evaluate(
            "row => getComputedStyle(row).display") == "block"
        expect(page.locator("#commitments tbody td").first).to_have_attribute(
            "data-label", "Who")
    screenshot(page, f"meetings-{viewport}")
    assert axe_problems(page, axe_source) == []
