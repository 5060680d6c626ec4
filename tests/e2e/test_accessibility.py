"""Every page as a keyboard, a screen reader or a phone meets it: axe-core's serious and
critical rules, one h1, a skip link, the banner/nav/main landmarks, nothing wider than the
window, a compact header on a phone, no console errors. One test per page and window size, so
a failure names the page; a screenshot of each lands in test-artifacts/screenshots/a11y-*.png.

axe-core comes from npm (package.json; `make test` runs `npm ci`). It is evaluated through
the browser's DevTools protocol (page.evaluate): the pages' Content-Security-Policy refuses
inline scripts, which is what Playwright's add_script_tag would add, and the policy stays as
strict under test as in use."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, expect

from tests.conftest import upload_bytes, wait_indexed
from tests.e2e import test_browser as browser_tests
from tests.e2e.test_browser import (
    EXPECTED_REFUSAL,
    INDEXING_MS,
    MEETING_NOTES,
    SEARCH_MS,
    UNLABELLED_CONTROLS,
    VIEWPORTS,
    WARRANTY_PDF,
    screenshot,
    unique,
)

# The browser, the app's server and the one with logins on: test_browser.py's fixtures.
browser = browser_tests.browser
live_url = browser_tests.live_url
team_url = browser_tests.team_url

pytestmark = pytest.mark.e2e

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
PHONE_HEADER_PX = 90  # at most: the header is two short rows on a phone, not a fifth of it
# What axe finds at these levels keeps someone from using the page; "moderate" and "minor"
# (best practices such as one landmark per aside) are left to review.
BLOCKING = ("serious", "critical")
RUN_AXE = """async (blocking) => {
  const result = await axe.run(document, { resultTypes: ["violations"], iframes: false });
  return result.violations.filter((v) => blocking.includes(v.impact)).map((v) => ({
    id: v.id, impact: v.impact, help: v.help,
    targets: v.nodes.slice(0, 5).map((n) => n.target.join(" ")),
    more: Math.max(0, v.nodes.length - 5) }));
}"""


@pytest.fixture(scope="module")
def axe_source() -> str:
    if not AXE.exists():
        pytest.fail(f"axe-core is not installed ({AXE} is missing): run `npm ci` in the "
                    "repository (`make test` does it) before the accessibility tests.")
    return AXE.read_text(encoding="utf-8")


@dataclass(frozen=True)
class Library:
    """What the module uploaded: a PDF, a meeting and a file that failed, in one collection."""

    collection: str
    pdf: str
    meeting: str
    pdf_passage: str  # a search hit's link to the PDF's cited page


@pytest.fixture(scope="module")
def library(app) -> Library:
    client = app.test_client()
    collection = unique("a11y")
    pdf = upload_bytes(client, WARRANTY_PDF, "service agreement.pdf", collection)
    meeting = upload_bytes(client, MEETING_NOTES.encode(), "weekly sync.txt", collection)
    upload_bytes(client, b"%PDF-1.4\nnot really a PDF\n", "broken scan.pdf", collection)
    wait_indexed(client, pdf)
    wait_indexed(client, meeting)
    hits = client.post("/api/search", json={"query": "hardware warranty period",
                                            "collection": collection}).get_json()["hits"]
    href = next(hit["href"] for hit in hits if hit["document_id"] == pdf)
    return Library(collection, pdf, meeting, href)


@pytest.fixture(scope="module")
def answered_chat(app, library: Library) -> str:
    """The chat's saved conversation after one answered question: asked once through the API
    (an answer takes a while on two cores), shown at every window size."""
    question = "How long is the hardware warranty period?"
    response = app.test_client().post("/api/ask", json={
        "question": question, "collection": library.collection})
    assert response.status_code == 200, response.get_json()
    return json.dumps({"turns": [{"question": question, "answer": response.get_json(),
                                  "error": None}], "collection": library.collection})


@dataclass(frozen=True)
class Visit:
    """A page in the state to check: how to get there, and its h1."""

    open: Callable[[Page, pytest.FixtureRequest], None]
    heading: str | re.Pattern[str]
    team: bool = False  # served with logins on
    nav: bool = True  # the login page has nothing to navigate to yet
    status: int | None = None  # an error page's own status, which the browser logs


def goto(path: str, ready: str | None = None) -> Callable[[Page, pytest.FixtureRequest], None]:
    def visit(page: Page, request: pytest.FixtureRequest) -> None:
        page.goto(path)
        page.wait_for_load_state("networkidle")
        if ready:
            expect(page.locator(ready).first).to_be_visible()
    return visit


def chat_answered(page: Page, request: pytest.FixtureRequest) -> None:
    stored = json.dumps(request.getfixturevalue("answered_chat"))
    page.add_init_script(f"localStorage.setItem('docchat.chat.v1', {stored})")
    page.goto("/chat")
    expect(page.locator(".turn .answer")).not_to_be_empty()
    page.wait_for_load_state("networkidle")


def upload_with_a_file(page: Page, request: pytest.FixtureRequest) -> None:
    library: Library = request.getfixturevalue("library")
    page.goto("/upload")
    page.fill("#collection", library.collection)
    page.set_input_files("#file-input", [{"name": "pump notes.txt", "mimeType": "text/plain",
                                          "buffer": b"Pump maintenance every 400 hours.\n"}])
    expect(page.locator('#uploads li[data-status="indexed"]')).to_have_count(
        1, timeout=INDEXING_MS)


def library_page(page: Page, request: pytest.FixtureRequest) -> None:
    library: Library = request.getfixturevalue("library")
    page.goto("/library")
    page.select_option("#filter-collection", library.collection)
    # Three files, or four once the upload page's visit added one; the broken one fails.
    expect(page.locator("#documents tbody tr").nth(2)).to_be_visible()
    expect(page.locator("#documents .status-failed")).to_have_count(1, timeout=INDEXING_MS)
    page.wait_for_load_state("networkidle")


def search_results(page: Page, request: pytest.FixtureRequest) -> None:
    library: Library = request.getfixturevalue("library")
    page.goto(f"/search?q=warranty+claims&collection={library.collection}")
    expect(page.locator("#results .result mark").first).to_be_visible(timeout=SEARCH_MS)


def passage(kind: str) -> Callable[[Page, pytest.FixtureRequest], None]:
    def visit(page: Page, request: pytest.FixtureRequest) -> None:
        library: Library = request.getfixturevalue("library")
        page.goto(library.pdf_passage if kind == "pdf"
                  else f"/passage/{library.meeting}?turns=3-4&n=1")
        page.wait_for_load_state("networkidle")
    return visit


def logged_in_library(page: Page, request: pytest.FixtureRequest) -> None:
    page.goto("/login?next=/library")
    page.fill("input[name=username]", "browser-user")
    page.fill("input[name=password]", "a long browser password")
    page.click("#login-form button")
    expect(page).to_have_url(re.compile(r"/library$"))
    page.wait_for_load_state("networkidle")


PAGES = {
    "login": Visit(goto("/login"), "Log in to docchat", team=True, nav=False),
    "logged-in": Visit(logged_in_library, "Library", team=True),
    "chat-empty": Visit(goto("/chat", "#question"), "Ask your documents"),
    "chat-answered": Visit(chat_answered, "Ask your documents"),
    "upload": Visit(goto("/upload"), "Upload documents"),
    "upload-with-a-file": Visit(upload_with_a_file, "Upload documents"),
    "library": Visit(library_page, "Library"),
    "search-empty": Visit(goto("/search"), "Search"),
    "search-results": Visit(search_results, "Search"),
    "meetings": Visit(goto("/meetings"), "Meeting summary and commitments"),
    "tables": Visit(goto("/tables", "#columns .column-name"), "Tables from documents"),
    "passage-pdf": Visit(passage("pdf"), re.compile(r"service agreement\.pdf, page \d")),
    "passage-meeting": Visit(passage("meeting"), re.compile(r"weekly sync\.txt")),
    "api-docs": Visit(goto("/api/docs"), re.compile(r"^docchat HTTP API")),
    "error": Visit(goto("/passage/does-not-exist"), "Not Found", status=404),
}


def axe_violations(page: Page, axe_source: str) -> list[dict[str, Any]]:
    if not page.evaluate("typeof window.axe === 'object'"):
        page.evaluate(axe_source)
    found: list[dict[str, Any]] = page.evaluate(RUN_AXE, list(BLOCKING))
    return found


# Pairs of the header's visible parts (name, nav, tagline, account) whose boxes intersect.
OVERLAPPING_IN_HEADER = """() => {
  const parts = [...document.querySelectorAll("body > header > *")]
    .filter((e) => e.getClientRects().length && e.offsetWidth > 1)
    .map((e) => [e.className || e.tagName.toLowerCase(), e.getBoundingClientRect()]);
  const pairs = [];
  parts.forEach(([a, r], i) => parts.slice(i + 1).forEach(([b, s]) => {
    const apart = r.right - 1 <= s.left || s.right - 1 <= r.left
      || r.bottom - 1 <= s.top || s.bottom - 1 <= r.top;
    if (!apart) pairs.push(`${a} / ${b}`);
  }));
  return pairs;
}"""


def layout_problems(page: Page, visit: Visit, viewport: str) -> list[str]:
    """What is wrong with the page's structure and fit, in words."""
    problems = []
    h1 = page.get_by_role("heading", level=1)
    if h1.count() != 1:
        problems.append(f"{h1.count()} h1 headings, not one: {h1.all_inner_texts()}")
    elif not re.search(visit.heading, h1.inner_text()):
        problems.append(f"the h1 reads {h1.inner_text()!r}, not {visit.heading!r}")
    landmarks = {"banner": page.get_by_role("banner"), "main": page.get_by_role("main")}
    if visit.nav:
        landmarks["navigation Main"] = page.get_by_role("navigation", name="Main")
    problems += [f"{count} {name} landmarks, not one" for name, landmark in landmarks.items()
                 if (count := landmark.count()) != 1]
    if unlabelled := page.evaluate(UNLABELLED_CONTROLS):
        problems.append(f"controls without a label: {unlabelled}")
    width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    if width[0] > width[1]:
        problems.append(f"the page is {width[0]} px wide in a {width[1]} px window")
    header = landmarks["banner"].bounding_box() if landmarks["banner"].count() == 1 else None
    if viewport == "phone" and header and header["height"] > PHONE_HEADER_PX:
        problems.append(f"the header is {header['height']:.0f} px tall on a phone "
                        f"(at most {PHONE_HEADER_PX})")
    if overlapping := page.evaluate(OVERLAPPING_IN_HEADER):
        problems.append(f"header parts drawn over each other: {overlapping}")
    if viewport == "phone" and visit.nav:
        clipped = page.evaluate("""() => [...document.querySelectorAll('nav[aria-label=Main] a')]
            .filter((a) => !a.getClientRects().length).map((a) => a.textContent)""")
        if clipped:
            problems.append(f"nav links not rendered on a phone: {clipped}")
    return problems


# The first control Tab reaches from the top of the page (document order; nothing here sets a
# positive tabindex), and whether its link target exists.
FIRST_TAB_STOP = """() => {
  const controls = document.querySelectorAll("a[href], button, input, select, textarea, "
                                             + "[tabindex]");
  const first = [...controls].find((e) => e.tabIndex >= 0 && !e.disabled && e.type !== "hidden"
                                          && e.getClientRects().length);
  return { skip: first.classList.contains("skip-link"), text: first.textContent || first.outerHTML,
           target: Boolean(first.hash && document.querySelector(first.hash)) };
}"""


def skip_link_problems(page: Page) -> list[str]:
    """A skip link comes first, leads somewhere, and shows when focused."""
    first = page.evaluate(FIRST_TAB_STOP)
    if not first["skip"]:
        return [f"Tab first reaches {first['text']!r}, not a skip link"]
    if not first["target"]:
        return [f"the skip link {first['text']!r} leads nowhere"]
    page.locator(".skip-link").focus()
    box = page.locator(".skip-link").bounding_box()
    width = page.evaluate("window.innerWidth")
    if not (box and box["x"] >= 0 and box["x"] + box["width"] <= width):
        return [f"the focused skip link is out of sight: {box}"]
    return []


def chat_problems(page: Page) -> list[str]:
    problems = []
    height = page.evaluate("window.innerHeight")
    for selector in ("#question", "#ask-button"):
        box = page.locator(selector).bounding_box()
        if not (box and 0 <= box["y"] and box["y"] + box["height"] <= height):
            problems.append(f"{selector} is not in view without scrolling: {box}")
    if page.evaluate("typeof window.history.back") != "function":
        problems.append("window.history is shadowed on the chat page")
    return problems


@contextmanager
def watched_page(browser: Browser, base_url: str, viewport: str,
                 expected_status: int | None) -> Iterator[Page]:
    """test_browser.py's watched_page (script and console errors fail the test), at a window
    size, where an error page's own status is expected rather than a fault."""
    expected = re.compile(f"status of {expected_status} ") if expected_status else None
    context = browser.new_context(base_url=base_url, viewport=VIEWPORTS[viewport])
    opened = context.new_page()
    problems: list[str] = []

    def console(message: ConsoleMessage) -> None:
        if message.type == "error" and not EXPECTED_REFUSAL.search(message.text) and not (
                expected and expected.search(message.text)):
            problems.append(f"console: {message.text}")

    opened.on("pageerror", lambda exc: problems.append(f"script error: {exc}"))
    opened.on("console", console)
    try:
        yield opened
    finally:
        context.close()
    assert not problems, problems


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
@pytest.mark.parametrize("name", list(PAGES))
def test_page_is_accessible_and_fits_the_window(
        browser: Browser, live_url: str, request: pytest.FixtureRequest, axe_source: str,
        name: str, viewport: str) -> None:
    visit = PAGES[name]
    base = request.getfixturevalue("team_url") if visit.team else live_url
    with watched_page(browser, base, viewport, visit.status) as page:
        visit.open(page, request)
        screenshot(page, f"a11y-{name}-{viewport}")
        violations = axe_violations(page, axe_source)
        problems = [f"axe {v['impact']} {v['id']}: {v['help']} at {v['targets']}"
                    + (f" and {v['more']} more" if v["more"] else "") for v in violations]
        problems += layout_problems(page, visit, viewport)
        if name.startswith("chat"):
            problems += chat_problems(page)
        problems += skip_link_problems(page)
        assert not problems, f"{name} at {viewport} size:\n" + "\n".join(problems)
