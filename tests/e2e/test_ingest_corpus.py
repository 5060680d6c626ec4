"""Real corpora through the API and the real Celery worker: every unusual PDF ends indexed or
failed for its real reason, every real-world PDF is indexed with pages hits can point at,
and every meeting format comes out as speaker turns."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pypdf import PdfReader

from ingest.pdf import parse_pdf, tidy_text
from tests.conftest import EVAL, EVAL_PDFS, PDF_SAMPLES, TEST_DATA, flate_bomb_pdf, wait_until

pytestmark = pytest.mark.e2e

# The samples that cannot be indexed, and the reason each must give. The five without a text
# layer are read by OCR and found to hold pictures, not text: 16x16-pixel squares, a drawing of
# a boy, a photograph from an airplane.
EXPECTED_FAILURES = {
    "005-libreoffice-writer-password/libreoffice-writer-password.pdf": "encrypted",
    "007-imagemagick-images/imagemagick-ASCII85Decode.pdf": "no_text_found",
    "007-imagemagick-images/imagemagick-CCITTFaxDecode.pdf": "no_text_found",
    "007-imagemagick-images/imagemagick-lzw.pdf": "no_text_found",
    "017-unreadable-meta-data/unreadablemetadata.pdf": "unreadable_pdf",
    "019-grayscale-image/grayscale-image.pdf": "no_text_found",
    "023-cmyk-image/cmyk-image.pdf": "no_text_found",
}


def upload_all(client, paths: list[Path], collection: str) -> list[dict]:
    handles = [open(p, "rb") for p in paths]  # noqa: SIM115 - closed below
    try:
        response = client.post("/api/documents", data={
            "collection": collection,
            "file": [(h, p.name) for h, p in zip(handles, paths, strict=True)],
        }, content_type="multipart/form-data")
    finally:
        for handle in handles:
            handle.close()
    assert response.status_code == 202, response.get_json()
    return response.get_json()["documents"]


def wait_all(client, ids: list[str], timeout: float = 600) -> dict[str, dict]:
    def finished():
        docs = {i: client.get(f"/api/documents/{i}").get_json() for i in ids}
        done = all(d["status"] in ("indexed", "failed") for d in docs.values())
        return docs if done else None

    return wait_until(finished, timeout, 1.0, what=f"{len(ids)} documents to finish")


def test_every_sample_pdf_ends_indexed_or_failed_for_its_real_reason(client, worker) -> None:
    expected = {d["path"]: d for d in json.loads((PDF_SAMPLES / "files.json").read_text())["data"]}
    paths = sorted(PDF_SAMPLES.glob("*/*.pdf"))
    assert len(paths) == 31
    accepted = upload_all(client, paths, "samples")
    docs = wait_all(client, [d["id"] for d in accepted])
    for path, summary in zip(paths, accepted, strict=True):
        relative = str(path.relative_to(PDF_SAMPLES))
        doc = docs[summary["id"]]
        if relative in EXPECTED_FAILURES:
            assert doc["status"] == "failed", (relative, doc)
            assert doc["error"]["code"] == EXPECTED_FAILURES[relative], (relative, doc)
            assert path.name in doc["error"]["message"]
        else:
            assert doc["status"] == "indexed", (relative, doc)
            assert doc["pages"] == expected[relative]["pages"], relative
            assert doc["chunks"] > 0
            assert doc["ocr_pages"] == [], relative  # every page with text has a text layer
    password = docs[accepted[paths.index(PDF_SAMPLES / next(iter(EXPECTED_FAILURES)))]["id"]]
    assert "unlocked copy" in password["error"]["message"]
    assert worker.poll() is None, "the worker died"


def distinctive_line(path: Path, everything: str) -> tuple[int, str]:
    """A page number and a long line that occurs once in the whole corpus."""
    reader = PdfReader(path)
    pages = [tidy_text(page.extract_text() or "") for page in reader.pages]
    for number in sorted(range(len(pages)), key=lambda i: -len(pages[i])):
        for line in pages[number].splitlines():
            if 50 <= len(line) <= 160 and everything.count(line) == 1:
                return number + 1, line
    raise AssertionError(f"no distinctive line in {path.name}")


# One of the 40 is a scanner's output (Canon iR-ADV, CCITT images, no text operators, the page
# fed in sideways): its one page is read by OCR. The test checks that it really has no text.
SCANNED = "NCT06155240_Prot_SAP_000.pdf"


def test_all_real_world_pdfs_index_and_hits_name_the_right_page(client, worker) -> None:
    all_paths = sorted(EVAL_PDFS.glob("*/*.pdf"))
    assert len(all_paths) == 40
    accepted = upload_all(client, all_paths, "eval")
    docs = wait_all(client, [d["id"] for d in accepted])
    failed = {d["filename"]: d["error"]["code"] for d in docs.values() if d["status"] != "indexed"}
    assert failed == {}
    scanned = next(p for p in all_paths if p.name == SCANNED)
    assert not any((page.extract_text() or "").strip() for page in PdfReader(scanned).pages)
    scan = next(d for d in docs.values() if d["filename"] == SCANNED)
    assert (scan["pages"], scan["empty_pages"], scan["chunks"] > 0) == (1, [], True), scan
    assert [p["page"] for p in scan["ocr_pages"]] == [1]
    assert 0.6 <= scan["ocr_pages"][0]["confidence"] <= 1, scan["ocr_pages"]
    assert all(d["ocr_pages"] == [] for d in docs.values() if d["filename"] != SCANNED)
    paths = [p for p in all_paths if p.name != SCANNED]
    accepted = [s for s in accepted if s["filename"] != SCANNED]
    for path, summary in zip(paths, accepted, strict=True):
        assert docs[summary["id"]]["pages"] == len(PdfReader(path).pages), path.name
    everything = "\n".join(tidy_text(p.extract_text() or "")
                           for path in paths for p in PdfReader(path).pages)
    # What each page says, as docchat's own parser reads it, whitespace folded.
    page_texts = {
        summary["id"]: [" ".join(p.text.split()) for p in
                        parse_pdf(path.read_bytes(), "x", path.name, max_pages=2000).pages]
        for path, summary in zip(paths, accepted, strict=True)
    }
    found = 0
    for path, summary in zip(paths, accepted, strict=True):
        page, line = distinctive_line(path, everything)
        hits = client.post("/api/search", json={"query": line, "k": 5}).get_json()["hits"]
        for hit in hits:
            if hit["document_id"] in page_texts:  # every hit's page holds the hit's lines
                # (line by line: a piece of a long table repeats the table's header row)
                page_text = page_texts[hit["document_id"]][hit["page"] - 1]
                for line in hit["text"].splitlines():
                    assert " ".join(line.split()) in page_text, (line, hit)
        found += (summary["id"], page) in [(h["document_id"], h["page"]) for h in hits]
    # A regression guard on dense-only search (29 of 39 when written): protocols share
    # template pages nearly word for word, and table rows embed poorly.
    assert found >= 27, f"only {found} of 39 distinctive lines led to their page"


def upload(client, name: str, data: bytes, collection: str = "meetings"):
    from io import BytesIO

    return client.post("/api/documents", data={"collection": collection,
                                               "file": (BytesIO(data), name)},
                       content_type="multipart/form-data")


@pytest.mark.parametrize(("name", "turns", "speaker", "query"), [
    ("standup.vtt", 4, "Boris Ivanov", "send the deck to the client by Friday"),
    ("planning.srt", 2, "Игорь", "подготовлю спецификацию"),
    ("slack-export.json", 4, "Boris Ivanov", "numbers by Thursday budget review"),
    ("notes.md", 5, "Anna", "I'll send the deck by Friday"),
])
def test_meeting_formats_index_as_turns_and_hits_carry_turn_ranges(
        client, name: str, turns: int, speaker: str, query: str) -> None:
    response = upload(client, name, (TEST_DATA / name).read_bytes(), collection=f"m-{name}")
    assert response.status_code == 202
    (summary,) = response.get_json()["documents"]
    doc = wait_all(client, [summary["id"]], 120)[summary["id"]]
    assert doc["status"] == "indexed", doc
    assert doc["kind"] == "meeting" and doc["turns"] == turns and doc["pages"] is None
    hits = client.post("/api/search", json={"query": query, "k": 5}).get_json()["hits"]
    mine = [h for h in hits if h["document_id"] == summary["id"]]
    assert mine, hits
    hit = mine[0]
    assert speaker in hit["speakers"]
    assert 0 <= hit["turn_start"] <= hit["turn_end"] < turns
    assert hit["page"] is None


def test_same_bytes_twice_return_the_existing_document(client) -> None:
    data = (TEST_DATA / "handbook.md").read_bytes()
    first = upload(client, "handbook.md", data, collection="dupes")
    assert first.status_code == 202
    (original,) = first.get_json()["documents"]
    assert original["duplicate"] is False
    again = upload(client, "handbook-copy.md", data, collection="dupes")
    assert again.status_code == 200
    (duplicate,) = again.get_json()["documents"]
    assert duplicate["duplicate"] is True and duplicate["id"] == original["id"]
    # Another collection is another library: the same bytes are a new document there.
    elsewhere = upload(client, "handbook.md", data, collection="other-team")
    assert elsewhere.status_code == 202
    assert elsewhere.get_json()["documents"][0]["id"] != original["id"]


def test_json_lines_of_meetings_become_one_document_each(client) -> None:
    lines = (EVAL / "qmsum" / "val.jsonl").read_text(encoding="utf-8").splitlines()[:2]
    response = upload(client, "meetings.jsonl", "\n".join(lines).encode(), collection="qmsum")
    assert response.status_code == 202
    documents = response.get_json()["documents"]
    assert [d["filename"] for d in documents] == ["meetings.jsonl #1", "meetings.jsonl #2"]
    docs = wait_all(client, [d["id"] for d in documents], 300)
    for line, summary in zip(lines, documents, strict=True):
        doc = docs[summary["id"]]
        assert doc["status"] == "indexed", doc
        assert doc["turns"] == len(json.loads(line)["meeting_transcripts"])


def test_decompression_bomb_fails_fast_and_the_worker_serves_on(client, worker) -> None:
    from io import BytesIO

    response = client.post("/api/documents", data={
        "collection": "bombs", "file": (BytesIO(flate_bomb_pdf(1024)), "invoice.pdf")},
        content_type="multipart/form-data")
    assert response.status_code == 202
    bomb_id = response.get_json()["documents"][0]["id"]
    doc = wait_all(client, [bomb_id], 120)[bomb_id]
    assert doc["status"] == "failed"
    assert doc["error"]["code"] in {"pdf_too_complex", "parse_memory"}
    assert "invoice.pdf" in doc["error"]["message"]
    assert worker.poll() is None
    after = upload(client, "handbook.md", (TEST_DATA / "handbook.md").read_bytes(), "bombs")
    after_id = after.get_json()["documents"][0]["id"]
    assert wait_all(client, [after_id], 120)[after_id]["status"] == "indexed"
