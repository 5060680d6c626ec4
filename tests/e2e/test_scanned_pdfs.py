"""A scanned protocol through the real worker: its page, which has no text layer (a Canon
scanner's image, fed in sideways), is read by OCR, indexed, and a question about it is answered
with a citation of that page, by a scripted server that answers like a capable model."""

from __future__ import annotations

import dataclasses

import pytest

from tests.conftest import EVAL_PDFS, upload_bytes, wait_indexed
from tests.scripted_llm import MODEL, ScriptedLLM
from web import create_app

pytestmark = pytest.mark.e2e

COLLECTION = "scanned-protocol"
SCAN = EVAL_PDFS / "nih" / "NCT06155240_Prot_SAP_000.pdf"  # Appendix D, class procedures
QUESTION = "What is the yoga protocol of the study called?"


@pytest.fixture(scope="module")
def scan(app) -> dict:
    if not SCAN.exists():
        pytest.skip(f"{SCAN} is not there (../shared/eval)")
    client = app.test_client()
    return wait_indexed(client, upload_bytes(client, SCAN.read_bytes(), SCAN.name, COLLECTION))


def test_the_scanned_page_is_indexed_as_read_by_ocr(scan) -> None:
    assert (scan["pages"], scan["empty_pages"]) == (1, [])
    assert [p["page"] for p in scan["ocr_pages"]] == [1]
    assert 0.6 <= scan["ocr_pages"][0]["confidence"] <= 1


def test_a_question_about_the_scan_is_answered_citing_its_page(settings, scan) -> None:
    reply = "The study's yoga protocol is called Yoga for a Healthy Heart."
    with ScriptedLLM(lambda request: reply if QUESTION in request.last else "I cannot tell."
                     ) as llm:
        app = create_app(dataclasses.replace(settings, llm_base_url=llm.url, llm_model=MODEL))
        response = app.test_client().post("/api/ask", json={
            "question": QUESTION, "collection": COLLECTION, "temperature": 0})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["grounded"] is True, body
    (citation,) = body["citations"]
    assert (citation["document_id"], citation["page"]) == (scan["id"], 1), citation
    assert "Yoga for a Healthy Heart" in citation["quote"], citation
    store = app.extensions["docchat"].store
    read = "\n".join(chunk.text for ref in body["context"] for chunk in store.chunks_in_range(
        ref["document_id"], ref["first_ordinal"], ref["last_ordinal"]))
    assert "Yoga for a Healthy Heart Protocol" in read  # what OCR read, in what the model read
