"""The tables page's shell, without a browser: served under the strict Content-Security-Policy,
reached from every page's nav, every control labelled, progress announced, and a script that
puts model and user text in with textContent only. tests/e2e/test_tables_page.py drives the
page in chromium."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from retrieval.core.settings import Settings
from web import create_app

SCRIPT = Path(__file__).resolve().parents[2] / "web" / "static" / "tables.js"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory):
    return create_app(Settings(data_dir=tmp_path_factory.mktemp("tables-page"))).test_client()


@pytest.fixture(scope="module")
def html(client) -> str:
    response = client.get("/tables")
    assert response.status_code == 200 and response.mimetype == "text/html"
    return str(response.get_data(as_text=True))


def test_tables_page_runs_only_its_own_scripts(client, html: str) -> None:
    policy = client.get("/tables").headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    scripts = re.findall(r"<script\b([^>]*)>", html)
    assert [re.search(r'src="([^"]+)"', s).group(1) for s in scripts if "src=" in s] == [
        "/static/docchat.js", "/static/tables.js"]
    assert all("src=" in s for s in scripts), "an inline script would be refused by the policy"
    assert " style=" not in html, "an inline style would be refused by the policy"
    assert not re.search(r"<[^>]+\son[a-z]+=", html), "inline event handlers break under the CSP"


def test_every_page_links_to_tables_and_the_tables_page_marks_itself(client, html: str) -> None:
    nav = html.split('<nav aria-label="Main">', 1)[1].split("</nav>", 1)[0]
    assert re.findall(r'<a href="([^"]+)" aria-current="page"', nav) == ["/tables"]
    assert '<a href="/tables">Tables</a>' in client.get("/chat").get_data(as_text=True)
    first_link = re.search(r"<a\b[^>]*>", html.split("<body", 1)[1])
    assert first_link and 'class="skip-link"' in first_link.group(0)
    target = re.search(r'href="#([\w-]+)"', first_link.group(0))
    assert target and f'id="{target.group(1)}"' in html
    assert html.count("<h1") == 1


def test_every_control_has_a_label_and_progress_is_announced(html: str) -> None:
    controls = re.findall(r'<(?:input|select|textarea)\b[^>]*\bid="([^"]+)"', html)
    labelled = set(re.findall(r'<label[^>]*\bfor="([^"]+)"', html))
    assert len(controls) >= 10 and set(controls) <= labelled, set(controls) - labelled
    assert re.search(r'<input\b(?![^>]*\bid=)[^>]*>', html) is None, "a control without an id"
    assert re.search(r'id="table-status" aria-live="polite"', html)
    assert re.search(r'<progress id="table-progress-bar"[^>]*aria-label="Table progress"', html)
    for alert in ("table-error", "sql-error"):
        assert re.search(rf'id="{alert}" class="error" role="alert"', html), alert
    # The three row modes and scopes the task names, in the reader's words.
    for words in ("One row per document", "Many rows per document (records)", "Pasted text",
                  "A collection", "Propose columns", "Run query", "Export CSV", "Export XLSX",
                  "Export SQLite"):
        assert words in html, words


def test_tables_script_never_parses_text_as_html() -> None:
    source = SCRIPT.read_text(encoding="utf-8")
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(",
                 "new Function"):
        assert sink not in source, f"tables.js uses {sink}: model and user text must go in as text"
    assert "textContent" in source
