"""What every page shares (web/templates/base.html): a skip link before anything else, the main
nav with the current page marked, the API docs under the same header; and page scripts that
leave the browser's own globals alone. tests/e2e/test_accessibility.py checks the same pages
in a browser."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from retrieval.core.settings import Settings
from web import create_app

STATIC = Path(__file__).resolve().parents[2] / "web" / "static"
# Window properties the pages (or the browser's Back button) rely on. A top-level
# `function history()` in a classic script replaces window.history for the whole page.
WINDOW_PROPERTIES = ("history", "location", "document", "navigator", "name", "status", "top",
                     "parent", "self", "origin", "event", "length", "open", "close", "print",
                     "stop", "focus", "blur", "scroll", "find", "fetch", "localStorage")
TOP_LEVEL_NAME = re.compile(r"^(?:async\s+)?(?:function\*?|const|let|var|class)\s+(\w+)", re.M)


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory):
    return create_app(Settings(data_dir=tmp_path_factory.mktemp("shell"))).test_client()


@pytest.mark.parametrize("path, current", [
    ("/chat", "/chat"), ("/upload", "/upload"), ("/library", "/library"),
    ("/search", "/search"), ("/meetings", "/meetings"), ("/api/docs", "/api/docs"),
])
def test_every_page_starts_with_a_skip_link_and_marks_itself_in_the_nav(
        client, path: str, current: str) -> None:
    html = client.get(path).get_data(as_text=True)
    first_link = re.search(r"<a\b[^>]*>", html.split("<body", 1)[1])
    assert first_link and 'class="skip-link"' in first_link.group(0), first_link
    target = re.search(r'href="#([\w-]+)"', first_link.group(0))
    assert target and f'id="{target.group(1)}"' in html, "the skip link leads nowhere"
    nav = html.split('<nav aria-label="Main">', 1)[1].split("</nav>", 1)[0]
    assert re.findall(r'<a href="([^"]+)" aria-current="page"', nav) == [current]


def test_api_docs_sit_under_the_site_header_without_a_script(client) -> None:
    html = client.get("/api/docs").get_data(as_text=True)
    assert "<header>" in html and '<nav aria-label="Main">' in html and "<main " in html
    assert html.count("<h1") == 1 and "<script" not in html


@pytest.mark.parametrize("script", sorted(p.name for p in STATIC.glob("*.js")))
def test_page_scripts_leave_the_browsers_globals_alone(script: str) -> None:
    declared = set(TOP_LEVEL_NAME.findall((STATIC / script).read_text(encoding="utf-8")))
    assert not declared & set(WINDOW_PROPERTIES), declared & set(WINDOW_PROPERTIES)
