"""The passage view's server side, through Flask's client (no worker, no browser): the pdf.js
files docchat serves itself and only those, the page's CSP, and the heading a citation gets."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from flask import Flask

from retrieval.core.settings import Settings
from tests.conftest import free_port
from web import create_app
from web.pdfjs import PDFJS_FILES, SEARCH_PATH, find_pdfjs

PDFJS = find_pdfjs(SEARCH_PATH)
needs_pdfjs = pytest.mark.skipif(PDFJS is None, reason="pdfjs-dist is not installed (npm ci)")


@pytest.fixture(scope="module")
def page_app(tmp_path_factory: pytest.TempPathFactory) -> Flask:
    data = tmp_path_factory.mktemp("passage") / "data"
    return create_app(Settings(data_dir=data, llm_base_url=f"http://127.0.0.1:{free_port()}/v1"))


def pdfjs_version() -> str:
    assert PDFJS is not None
    return str(json.loads((PDFJS.root / "package.json").read_text(encoding="utf-8"))["version"])


def add_document(app: Flask, filename: str, kind: str, stored_kind: str = "pdf",
                 stored: Path = Path("/nonexistent.pdf")) -> str:
    """A document recorded straight in the store as parsed (a PDF's file need not exist)."""
    store = app.extensions["docchat"].store
    record = store.add_document(uuid.uuid4().hex, filename, stored, 100,
                                workspace="default", stored_kind=stored_kind)
    store.mark_parsed(record.id, kind, 2 if kind == "pdf" else None,
                      None if kind == "pdf" else 50, [])
    return str(record.id)


@needs_pdfjs
@pytest.mark.parametrize("name", sorted(PDFJS_FILES))
def test_allow_listed_pdfjs_files_are_served_as_scripts_cached_for_a_year(page_app, name) -> None:
    assert PDFJS is not None
    response = page_app.test_client().get(f"/vendor/pdfjs/{pdfjs_version()}/{name}")
    assert response.status_code == 200
    assert response.data == (PDFJS.root / PDFJS_FILES[name]).read_bytes()
    assert response.mimetype == "text/javascript"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    cache = response.cache_control
    assert cache.public and cache.max_age == 365 * 24 * 3600 and cache.immutable


@needs_pdfjs
@pytest.mark.parametrize("name", [
    "pdf.mjs", "pdf.sandbox.min.mjs", "pdf.worker.mjs.map", "package.json", "..%2Fpackage.json",
    "..%2F..%2Fpyproject.toml", "%2Fetc%2Fpasswd", "pdf.min.mjs%00", "PDF.MIN.MJS"])
def test_any_other_name_is_404(page_app, name) -> None:
    response = page_app.test_client().get(f"/vendor/pdfjs/{pdfjs_version()}/{name}")
    assert response.status_code == 404, name


@needs_pdfjs
@pytest.mark.parametrize("path", ["/vendor/pdfjs/0.0.1/pdf.min.mjs",
                                  "/vendor/pdfjs/../build/pdf.min.mjs",
                                  "/vendor/pdfjs/build/pdf.min.mjs",
                                  "/vendor/pdfjs/pdf.min.mjs"])
def test_a_wrong_version_or_a_path_is_404(page_app, path) -> None:
    assert page_app.test_client().get(path).status_code == 404


def test_without_pdfjs_nothing_is_served_or_advertised(page_app, tmp_path, monkeypatch) -> None:
    monkeypatch.setitem(page_app.config, "PDFJS_DIR", str(tmp_path / "node_modules" / "pdfjs-dist"))
    client = page_app.test_client()
    for name in PDFJS_FILES:
        assert client.get(f"/vendor/pdfjs/{pdfjs_version() if PDFJS else '1'}/{name}"
                          ).status_code == 404
    document_id = add_document(page_app, "manual.pdf", "pdf")
    html = client.get(f"/passage/{document_id}?page=2").get_data(as_text=True)
    assert "/vendor/pdfjs/" not in html and 'id="pdf-viewer"' not in html
    assert f'<iframe id="pdf-view" title="manual.pdf"\n            src="/api/documents/' \
           f'{document_id}/file#page=2"></iframe>' in html


@needs_pdfjs
def test_pdf_passage_loads_pdfjs_with_the_browser_viewer_kept_as_fallback(page_app) -> None:
    document_id = add_document(page_app, "manual.pdf", "pdf")
    html = page_app.test_client().get(f"/passage/{document_id}?page=2").get_data(as_text=True)
    version = pdfjs_version()
    assert f'data-pdfjs="/vendor/pdfjs/{version}/pdf.min.mjs"' in html
    assert f'data-worker="/vendor/pdfjs/{version}/pdf.worker.min.mjs"' in html
    assert '<template id="pdf-fallback"><iframe id="pdf-view"' in html
    for label in ("Zoom in", "Zoom out"):
        assert f'aria-label="{label}"' in html
    assert ">‹ Previous page</button>" in html and ">Next page ›</button>" in html


def test_pages_csp_lets_pdfjs_run_only_from_docchat(page_app) -> None:
    csp = page_app.test_client().get("/chat").headers["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["script-src"] == "'self'" and directives["worker-src"] == "'self'"
    assert directives["default-src"] == "'self'" and directives["connect-src"] == "'self'"
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "http" not in csp and "*" not in csp and "blob:" not in csp


@pytest.mark.parametrize(("turns", "heading"), [("44-44", "turn 44"), ("44", "turn 44"),
                                                 ("44-46", "turns 44–46"),
                                                 ("46-44", "turn 46")])
def test_meeting_passage_heading_names_one_turn_or_a_range(page_app, tmp_path, turns,
                                                          heading) -> None:
    notes = tmp_path / "sync.txt"
    notes.write_text("Anna: The pump arrives on Monday.\nBoris: I will install it.\n")
    document_id = add_document(page_app, "sync.txt", "meeting", stored_kind="text",
                               stored=notes)
    html = page_app.test_client().get(f"/passage/{document_id}?turns={turns}&n=3"
                                 ).get_data(as_text=True)
    assert f"<h1>[3] sync.txt, {heading}</h1>" in html


def test_pdf_passage_heading_names_the_page(page_app) -> None:
    document_id = add_document(page_app, "manual.pdf", "pdf")
    html = page_app.test_client().get(f"/passage/{document_id}?page=2&n=1").get_data(as_text=True)
    assert "<h1>[1] manual.pdf, page 2</h1>" in html
