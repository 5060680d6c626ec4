"""Pages and the routes behind them, through Flask's client with the real worker: the passage
view for PDFs and meetings, the stored file, re-indexing, and the pages' security headers."""

from __future__ import annotations

import re

import pytest

from tests.conftest import text_pdf, upload_bytes, wait_indexed

pytestmark = pytest.mark.e2e

COLLECTION = "pages"
MANUAL_PDF = text_pdf([["Chapter one: unpacking the pump."],
                       ["Chapter two: the pump impeller is replaced every 2000 hours."]])
NOTES = ("Anna: The pump arrives on Monday.\n"
         "Boris: I will install the pump impeller by Friday.\n"
         "Anna: Great, thanks.\n")


@pytest.fixture(scope="module")
def documents(app) -> dict[str, str]:
    client = app.test_client()
    ids = {"manual": upload_bytes(client, MANUAL_PDF, "pump manual.pdf", COLLECTION),
           "notes": upload_bytes(client, NOTES.encode(), "установка насоса.txt", COLLECTION)}
    for document_id in ids.values():
        wait_indexed(client, document_id)
    return ids


def test_search_hit_links_to_the_pdf_page_beside_the_cited_text(client, documents) -> None:
    hits = client.post("/api/search", json={"query": "impeller replaced every 2000 hours",
                                            "collection": COLLECTION, "kinds": ["pdf"]}
                       ).get_json()["hits"]
    assert hits and hits[0]["page"] == 2
    page = client.get(hits[0]["href"])
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert f'src="/api/documents/{documents["manual"]}/file#page=2"' in html
    assert "impeller is replaced every 2000 hours" in html


def test_meeting_passage_highlights_the_cited_turns(client, documents) -> None:
    page = client.get(f"/passage/{documents['notes']}?turns=1-1")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "установка насоса.txt" in html
    cited = re.findall(r'<li id="turn-(\d+)" value="\d+" class="cited">', html)
    assert cited == ["1"]
    assert "I will install the pump impeller by Friday." in html


def test_passage_of_a_deleted_document_is_a_clear_404(client) -> None:
    page = client.get("/passage/0123456789abcdef")
    assert page.status_code == 404


def test_stored_file_is_served_as_uploaded_under_its_name(client, documents) -> None:
    response = client.get(f"/api/documents/{documents['manual']}/file")
    assert response.status_code == 200 and response.data == MANUAL_PDF
    assert response.mimetype == "application/pdf"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "pump%20manual.pdf" in response.headers["Content-Disposition"] or \
        "pump manual.pdf" in response.headers["Content-Disposition"]
    notes = client.get(f"/api/documents/{documents['notes']}/file")
    assert notes.mimetype == "text/plain" and notes.data.decode() == NOTES
    assert notes.headers["Content-Security-Policy"].startswith("sandbox")
    assert client.get("/api/documents/nope/file").get_json()["error"]["code"] == "not_found"


def test_reindex_gives_the_same_passages_once(client, documents) -> None:
    document_id = documents["manual"]
    before = client.get(f"/api/documents/{document_id}").get_json()
    response = client.post(f"/api/documents/{document_id}/reindex")
    assert response.status_code == 202 and response.get_json()["status"] == "queued"
    again = client.post(f"/api/documents/{document_id}/reindex")
    assert again.status_code in (409, 202)  # busy unless the worker was already done
    after = wait_indexed(client, document_id)
    assert after["chunks"] == before["chunks"]
    hits = client.post("/api/search", json={"query": "pump impeller replaced",
                                            "document_ids": [document_id], "k": 20}
                       ).get_json()["hits"]
    assert len({h["text"] for h in hits}) == len(hits)  # no passage twice in the index
    assert client.post("/api/documents/nope/reindex").status_code == 404


@pytest.mark.parametrize("path", ["/chat", "/upload", "/library", "/search", "/meetings"])
def test_pages_forbid_inline_and_remote_scripts(client, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200 and response.mimetype == "text/html"
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert 'charset="utf-8"' in response.get_data(as_text=True)


def test_root_opens_the_chat(client) -> None:
    response = client.get("/")
    assert response.status_code == 302 and response.headers["Location"].endswith("/chat")


def test_search_for_relevant_passages_only_finds_nothing_for_nonsense(client, documents) -> None:
    # Scoped to this module's documents: the session's store also holds other tests' files
    # (fuzzed bytes among them), which nonsense may well resemble.
    nonsense = client.post("/api/search", json={"query": "zzqxjv", "k": 20, "relevant_only": True,
                                                "collection": COLLECTION}).get_json()
    assert nonsense["hits"] == [] and nonsense["relevance"] < 0.25, nonsense.get("relevance")
    anyway = client.post("/api/search", json={"query": "zzqxjv", "k": 20,
                                              "collection": COLLECTION}).get_json()
    assert anyway["hits"] and "relevance" not in anyway  # plain search still ranks something
    pump = client.post("/api/search", json={"query": "pump impeller", "relevant_only": True,
                                            "collection": COLLECTION}).get_json()
    assert pump["hits"] and pump["relevance"] >= 0.25
    refused = client.post("/api/search", json={"query": "pump", "relevant_only": "yes"})
    assert refused.status_code == 400 and refused.get_json()["error"]["code"] == "bad_request"


def test_documents_say_how_big_their_file_is(client, documents) -> None:
    notes = client.get(f"/api/documents/{documents['notes']}").get_json()
    assert notes["size_bytes"] == len(NOTES.encode())


@pytest.mark.parametrize("path", ["/upload", "/library", "/search"])
def test_everyday_pages_have_a_heading_and_labelled_controls(client, path: str) -> None:
    html = client.get(path).get_data(as_text=True)
    assert html.count("<h1") == 1 and "<main" in html and "<nav" in html
    controls = re.findall(r'<(?:input|select)\b[^>]*\bid="([^"]+)"', html)
    labelled = set(re.findall(r'<label[^>]*\bfor="([^"]+)"', html))
    assert controls and set(controls) <= labelled, set(controls) - labelled
