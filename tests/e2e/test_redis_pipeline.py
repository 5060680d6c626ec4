"""Upload -> Celery worker (Redis broker) -> index -> search -> cited answer, all real parts."""

from __future__ import annotations

import dataclasses
import io
import json
import re
from pathlib import Path

import pytest

from ingest.pdf import parse_pdf
from retrieval.answers.attribution import cited_numbers
from tests.conftest import EVAL_PDFS, free_port, wait_until
from web import create_app

pytestmark = pytest.mark.e2e

REPORT = EVAL_PDFS / "ntsb" / "20080104X00020.pdf"


COLLECTION = "pipeline"  # other test modules index other reports; this one asks about its own


def assert_quote_is_on_its_page(citation: dict) -> None:
    """The cited file is the uploaded report and the quoted passage is really on that page."""
    assert citation["filename"] == REPORT.name
    pages = parse_pdf(REPORT.read_bytes(), "x", REPORT.name, max_pages=10).pages
    assert 1 <= citation["page"] <= len(pages)
    page_text = " ".join(pages[citation["page"] - 1].text.split())
    assert " ".join(citation["quote"].split()) in page_text


def without_markers(text: str) -> str:
    return " ".join(re.sub(r"\s*\[\d+(?:\s*,\s*\d+)*\]", "", text).split())


def upload(client, path: Path, name: str | None = None) -> str:
    response = client.post("/api/documents", data={
        "file": (io.BytesIO(path.read_bytes()), name or path.name), "collection": COLLECTION,
    }, content_type="multipart/form-data")
    assert response.status_code == 202, response.get_json()
    (document,) = response.get_json()["documents"]
    assert document["status"] == "queued"
    return str(document["id"])


def wait_finished(client, document_id: str) -> dict:
    def finished():
        doc = client.get(f"/api/documents/{document_id}").get_json()
        return doc if doc["status"] in ("indexed", "failed") else None

    return wait_until(finished, 180, 0.3, what=f"document {document_id} to finish")


@pytest.fixture(scope="module")
def indexed_report(app, ntsb_pdf) -> str:
    client = app.test_client()
    document_id = upload(client, ntsb_pdf)
    doc = wait_finished(client, document_id)
    assert doc["status"] == "indexed", doc
    assert doc["pages"] == 5 and doc["chunks"] > 0 and doc["progress"] == 1.0
    assert doc["error"] is None
    return document_id


def test_search_finds_the_page_a_phrase_is_on(client, indexed_report) -> None:
    response = client.post("/api/search", json={
        "query": "the nosewheel dug into soft snow on the side of the runway", "k": 3,
        "collection": COLLECTION})
    top = response.get_json()["hits"][0]
    assert (top["document_id"], top["page"]) == (indexed_report, 1)
    assert "nosewheel" in top["text"]


def test_answer_cites_pages_of_the_uploaded_file(client, indexed_report) -> None:
    response = client.post("/api/ask", json={
        "question": "Why did the airplane nose over after landing on runway 04?",
        "collection": COLLECTION})
    assert response.status_code == 200
    body = response.get_json()
    assert body["answer"].strip()
    assert body["citations"], body
    for citation in body["citations"]:
        assert citation["document_id"] == indexed_report
        assert_quote_is_on_its_page(citation)
        assert citation["n"] in cited_numbers(body["answer"])


def settled(streamed: str, final: dict) -> bool:
    """Whether the final answer is `streamed` less its withdrawn sentences, markers aside."""
    for sentence in final["withdrawn"]:
        if sentence not in streamed:
            return False
        streamed = streamed.replace(sentence, "", 1)
    return " ".join(without_markers(final["answer"]).split()) == " ".join(
        without_markers(streamed).split())


def test_streamed_answer_arrives_as_tokens_then_citations(client, indexed_report) -> None:
    response = client.post("/api/ask", json={
        "question": "What was the probable cause of the accident?", "stream": True,
        "collection": COLLECTION})
    assert response.status_code == 200
    assert response.mimetype == "text/event-stream"
    events = []
    for block in response.get_data(as_text=True).split("\n\n"):
        if block.strip():
            name_line, data_line = block.split("\n", 1)
            events.append((name_line.removeprefix("event: "),
                           json.loads(data_line.removeprefix("data: "))))
    names = [name for name, _ in events]
    assert names.count("token") >= 2 and names[-1] == "answer"
    final = events[-1][1]
    drafts = [""]
    for name, data in events:
        if name == "status" and data["stage"] == "rereading":
            drafts.append("")  # a draft that declined, asked again of the best passages
        elif name == "token":
            drafts[-1] += data["text"]
    # The final text is a streamed draft (the second, unless it declined too) with citation
    # markers settled and the sentences withdrawn (figures no passage holds) left out.
    if final["grounded"]:
        assert any(settled(draft, final) for draft in drafts), (drafts, final)
    else:
        assert final["withdrawn"] and final["citations"] == [], final
    for citation in final["citations"]:
        assert citation["document_id"] == indexed_report
        assert_quote_is_on_its_page(citation)


def test_corrupted_pdf_fails_and_the_worker_goes_on(client, ntsb_pdf, tmp_path) -> None:
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(ntsb_pdf.read_bytes()[:2000])
    failed = wait_finished(client, upload(client, broken))
    assert failed["status"] == "failed"
    assert failed["error"]["code"] in {"unreadable_pdf", "no_text_layer"}
    assert "broken.pdf" in failed["error"]["message"]
    nih = ntsb_pdf.parent.parent / "nih" / "NCT06153992_ICF_001.pdf"
    assert wait_finished(client, upload(client, nih))["status"] == "indexed"


def test_llm_down_gives_503_and_search_still_works(settings, indexed_report) -> None:
    dead = dataclasses.replace(settings, llm_base_url=f"http://127.0.0.1:{free_port()}/v1",
                               llm_timeout=5.0)
    client = create_app(dead).test_client()
    response = client.post("/api/ask", json={"question": "What damaged the right wing?",
                                             "collection": COLLECTION})
    assert response.status_code == 503
    error = response.get_json()["error"]
    assert error["code"] == "llm_unavailable" and "Search still works" in error["message"]
    assert client.post("/api/search", json={"query": "right wing rear spar"}).status_code == 200


def test_files_uploaded_together_are_embedded_in_batches(app, settings) -> None:
    """A multi-file upload: the first files' tasks leave their chunks waiting for the later
    ones (retrieval.search.batches), and every file still ends indexed, searchable."""
    reports = sorted((EVAL_PDFS / "ntsb").glob("*.pdf"))[:4]
    client = app.test_client()
    response = client.post("/api/documents", data={
        "file": [(io.BytesIO(p.read_bytes()), p.name) for p in reports],
        "collection": "batched"}, content_type="multipart/form-data")
    assert response.status_code == 202, response.get_json()
    ids = [str(d["id"]) for d in response.get_json()["documents"]]
    assert len(ids) == 4
    for document_id in ids:
        doc = wait_finished(client, document_id)
        assert doc["status"] == "indexed" and doc["chunks"] > 0, doc
    log = (settings.data_dir / "worker.log").read_text()
    batch_sizes = []
    for document_id in ids:
        found = re.search(rf"document {document_id} indexed: .*\(a batch of (\d+) documents\)",
                          log)
        assert found, f"no 'indexed' line for {document_id} in the worker log"
        batch_sizes.append(int(found[1]))
    assert max(batch_sizes) >= 2, batch_sizes
    hits = client.post("/api/search", json={"query": "the airplane", "k": 20,
                                            "collection": "batched"}).get_json()["hits"]
    assert hits and {hit["document_id"] for hit in hits} <= set(ids)
