"""The PDF passage view in a real browser (Debian's chromium driven by Playwright): the cited
page drawn by pdf.js at a readable zoom with the cited text marked on the page itself, at a
laptop's and a phone's size, and the browser's own viewer when the text cannot be marked or
pdf.js is not installed.

Screenshots land in test-artifacts/screenshots/ (git-ignored)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest
from playwright.sync_api import Browser, Page, expect

from retrieval.storage.store import StoredChunk
from tests.conftest import text_pdf, upload_bytes, wait_indexed
from tests.e2e.test_browser import (  # noqa: F401  (browser, live_url: fixtures)
    VIEWPORTS,
    browser,
    live_url,
    screenshot,
    watched_page,
)
from web.pdfjs import SEARCH_PATH, find_pdfjs

pytestmark = pytest.mark.e2e

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
needs_pdfjs = pytest.mark.skipif(find_pdfjs(SEARCH_PATH) is None,
                                 reason="pdfjs-dist is not installed (make runs npm ci)")
DRAW_MS = 60_000  # two cores shared with the worker and the LLM server

# Page 2 is long enough to hold several chunks; the cited one sits low on the page, one of its
# words broken over two lines with a hyphen.
FILLER = [f"Check point {n}: inspect the {part} for {fault} and write the result down."
          for n, (part, fault) in enumerate([
              ("inlet flange", "cracks"), ("outlet flange", "leaks"), ("base frame", "rust"),
              ("anchor bolts", "play"), ("motor fan", "dust"), ("terminal box", "moisture"),
              ("cable glands", "wear"), ("pressure gauge", "drift"), ("drain plug", "seepage"),
              ("casing bolts", "torque"), ("guard rails", "damage"), ("name plate", "legibility"),
              ("earth strap", "corrosion"), ("oil sight glass", "clouding"),
              ("breather cap", "blockage"), ("vibration pads", "hardening"),
              ("suction hose", "kinks"), ("discharge valve", "stiffness"),
              ("check valve", "chatter"), ("heater band", "burns")], 1)]
CITED_LINES = [
    "The impeller must be replaced every 2000 operat-",
    "ing hours, or sooner if the pump vibrates or its flow drops by a tenth.",
    "Replace the mechanical seal together with the impeller: a worn seal leaks",
    "coolant into the bearing housing and ruins the new bearings within weeks.",
]
CITED_SENTENCE = ("The impeller must be replaced every 2000 operating hours, or sooner if the pump "
                  "vibrates or its flow drops by a tenth.")
MANUAL_PDF = text_pdf([
    ["Maintenance manual for the Northwind NP-200 pump.",
     "Chapter one: unpacking, lifting and the first start of the pump."],
    ["Chapter two: service intervals.", *FILLER[:14], *CITED_LINES, *FILLER[14:]],
    ["Chapter three: spare parts and their order numbers."],
])
NOT_MARKED = "The cited sentence could not be marked on this page; it is shown beside it."


def folded(text: str) -> str:
    """Letters and digits only, lower-cased: how the page matches text (web/static/passage.js)."""
    return re.sub(r"[\W_]+", "", text).lower()


@pytest.fixture(scope="module")
def cited(app) -> StoredChunk:
    """The uploaded manual's chunk that holds the cited sentence, on page 2."""
    client = app.test_client()
    document_id = upload_bytes(client, MANUAL_PDF, "pump manual.pdf", "passage-view")
    wait_indexed(client, document_id)
    chunks = app.extensions["docchat"].store.chunks_in_range(document_id, 0, 100)
    holding = [c for c in chunks if "impeller must be replaced" in c.text]
    assert len(holding) == 1 and holding[0].page == 2, chunks
    assert folded(CITED_SENTENCE) in folded(holding[0].text), holding[0].text
    assert "Chapter two" not in holding[0].text, "the test wants uncited text above the chunk"
    return holding[0]


def passage_url(chunk: StoredChunk, **extra: str) -> str:
    """The link a citation of `chunk` gets (web/links.py), plus `extra`."""
    query = {"first": chunk.ordinal, "last": chunk.ordinal, "page": chunk.page, "n": 1}
    return f"/passage/{chunk.document_id}?{urlencode({**query, **extra})}"


@pytest.fixture(params=list(VIEWPORTS))
def sized(request: pytest.FixtureRequest, browser: Browser,  # noqa: F811
          live_url: str) -> Iterator[tuple[Page, str]]:  # noqa: F811
    with watched_page(browser, live_url, viewport=VIEWPORTS[request.param]) as page:
        yield page, str(request.param)


def marked_text(page: Page) -> str:
    return str(page.locator("#pdf-page mark.cited-mark").evaluate_all(
        "marks => marks.map(m => m.textContent).join(' ')"))


def assert_no_horizontal_scroll(page: Page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def assert_no_serious_axe_violations(page: Page) -> None:
    if not AXE.is_file():
        pytest.skip("axe-core is not installed (npm ci): no accessibility check")
    # Through DevTools (page.evaluate): the page's CSP refuses the inline script that
    # add_script_tag would add, as it should.
    page.evaluate(AXE.read_text(encoding="utf-8"))
    violations = page.evaluate(
        "async () => (await axe.run(document, {iframes: false})).violations.map("
        "v => ({id: v.id, impact: v.impact, targets: v.nodes.map(n => n.target.join(' '))}))")
    serious = [v for v in violations if v["impact"] in ("serious", "critical")]
    assert not serious, serious


@needs_pdfjs
def test_cited_text_is_marked_on_the_drawn_page_at_a_readable_zoom(
        sized: tuple[Page, str], cited: StoredChunk) -> None:
    page, viewport = sized
    page.goto(passage_url(cited))
    marks = page.locator("#pdf-page mark.cited-mark")
    expect(marks.first).to_be_visible(timeout=DRAW_MS)
    expect(page.locator("#pdf-page-label")).to_have_text("Page 2 of 3")
    expect(page.locator("#pdf-status")).to_have_text("The cited text is marked on the page.")
    expect(page.locator("h1")).to_have_count(1)
    expect(page.locator("h1")).to_have_text("[1] pump manual.pdf, page 2")

    # Drawn: the canvas holds dark pixels (text), not a blank sheet.
    inked = page.locator("#pdf-page canvas").evaluate(
        "c => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
        " let n = 0; for (let i = 0; i < d.length; i += 4) if (d[i] < 100) n++; return n; }")
    assert inked > 200

    # Exactly the cited chunk is marked: its sentence, nothing from the chunks around it.
    text = marked_text(page)
    assert folded(CITED_SENTENCE) in folded(text)
    assert folded(text) == folded(cited.text)
    assert "Chapter two" not in text and "Check point 1:" not in text

    # The first mark is in sight, inside the window and inside the page's scrolled box.
    box = marks.first.bounding_box()
    stage = page.locator("#pdf-stage").bounding_box()
    assert box and stage
    height = page.evaluate("window.innerHeight")
    assert 0 <= box["y"] and box["y"] + box["height"] <= height, (box, height)
    assert stage["y"] <= box["y"] and box["y"] + box["height"] <= stage["y"] + stage["height"]

    # A readable zoom: the page fills the box's width, print size or more on a laptop.
    zoom = int(page.locator("#pdf-zoom-label").inner_text().rstrip("%"))
    sheet = page.locator("#pdf-page").bounding_box()
    assert sheet and sheet["width"] <= stage["width"] and sheet["width"] >= stage["width"] - 24
    if viewport == "desktop":
        assert zoom >= 100, zoom
    assert_no_horizontal_scroll(page)
    screenshot(page, f"passage-pdfjs-{viewport}")
    assert_no_serious_axe_violations(page)


@needs_pdfjs
def test_page_and_zoom_buttons_move_and_keep_the_mark(sized: tuple[Page, str],
                                                      cited: StoredChunk) -> None:
    page, viewport = sized
    page.goto(passage_url(cited))
    marks = page.locator("#pdf-page mark.cited-mark")
    expect(marks.first).to_be_visible(timeout=DRAW_MS)
    zoom_label = page.locator("#pdf-zoom-label")
    before = int(zoom_label.inner_text().rstrip("%"))

    page.get_by_role("button", name="Zoom in").click()
    expect(zoom_label).not_to_have_text(f"{before}%")
    assert int(zoom_label.inner_text().rstrip("%")) > before
    expect(marks.first).to_be_visible()
    assert folded(marked_text(page)) == folded(cited.text)
    assert_no_horizontal_scroll(page)  # the wider page scrolls inside its box
    page.get_by_role("button", name="Zoom out").click()
    expect(zoom_label).to_have_text(f"{before}%")

    page.get_by_role("button", name="Next page").click()
    expect(page.locator("#pdf-page-label")).to_have_text("Page 3 of 3")
    expect(page.locator("#pdf-status")).to_have_text("The cited text is on page 2.")
    expect(marks).to_have_count(0)
    expect(page.get_by_role("button", name="Next page")).to_be_disabled()
    page.get_by_role("button", name="Previous page").click()
    expect(page.locator("#pdf-page-label")).to_have_text("Page 2 of 3")
    expect(marks.first).to_be_visible()
    screenshot(page, f"passage-pdfjs-buttons-{viewport}")


@needs_pdfjs
def test_text_not_on_the_page_falls_back_to_the_browsers_viewer(
        sized: tuple[Page, str], cited: StoredChunk) -> None:
    page, viewport = sized
    page.goto(passage_url(cited, quote="Nothing like this sentence is in the file."))
    expect(page.locator("#pdf-fallback-note")).to_have_text(NOT_MARKED, timeout=DRAW_MS)
    expect(page.locator("#pdf-view")).to_have_attribute("src", re.compile(r"/file#page=2$"))
    expect(page.locator("#pdf-viewer")).to_have_count(0)
    expect(page.locator("#cited-text")).to_contain_text("impeller must be replaced")
    expect(page.locator("#cited-text")).to_contain_text("Nothing like this sentence")
    assert_no_horizontal_scroll(page)
    page.wait_for_timeout(1000)  # let the PDF viewer draw before the screenshot
    screenshot(page, f"passage-fallback-{viewport}")


def test_without_pdfjs_the_page_shows_the_browsers_viewer(
        app, browser: Browser, live_url: str, cited: StoredChunk,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(app.config, "PDFJS_DIR", str(tmp_path / "no-node-modules"))
    with watched_page(browser, live_url) as page:
        page.goto(passage_url(cited))
        expect(page.locator("#pdf-view")).to_have_attribute("src", re.compile(r"/file#page=2$"))
        expect(page.locator("#pdf-viewer")).to_have_count(0)
        expect(page.locator("#cited-text")).to_contain_text("impeller must be replaced")
        assert "/vendor/pdfjs/" not in page.content()
