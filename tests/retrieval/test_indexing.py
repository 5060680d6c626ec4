"""Parse -> chunk -> embed -> index on real PDFs with the bundled model, without a broker."""

from __future__ import annotations

from ingest.chunking import chunk_document
from ingest.pdf import parse_pdf
from retrieval.search.indexing import index_document
from tests.conftest import EVAL_PDFS, EVERYTHING, store_upload


def test_no_chunk_exceeds_what_the_model_reads(embedder) -> None:
    limit = embedder.model.max_seq_length  # word pieces including [CLS] and [SEP]
    tokenizer = embedder.model.tokenizer


    for path in sorted((EVAL_PDFS / "nih").glob("*.pdf"))[:4]:
        document = parse_pdf(path.read_bytes(), "d", path.name, max_pages=2000)
        chunks = chunk_document(document, embedder.count_tokens, 200, 32, embedder.max_tokens)
        assert chunks
        longest = max(len(tokenizer(c.text, verbose=False)["input_ids"]) for c in chunks)
        assert longest <= limit, f"{path.name}: a chunk of {longest} tokens would be truncated"


def test_indexed_pdf_is_found_on_the_right_page(runtime, ntsb_pdf) -> None:
    record = store_upload(runtime, ntsb_pdf)
    index_document(runtime, record.id)
    done = runtime.store.get_document(record.id)
    assert done.status == "indexed" and done.pages == 5 and done.chunks > 0
    assert done.progress == 1.0
    hits = runtime.retriever.search("the nosewheel dug into soft snow; the airplane nosed over",
                                    3, EVERYTHING)
    assert hits[0].document_id == record.id and hits[0].page == 1
    hits = runtime.retriever.search("registered owner Wausau Flying Service, Lycoming engine",
                                    3, EVERYTHING)
    assert hits[0].page == 3


def test_indexing_twice_indexes_once(runtime, ntsb_pdf) -> None:
    record = store_upload(runtime, ntsb_pdf)
    index_document(runtime, record.id)
    first = (len(runtime.index), runtime.store.get_document(record.id).chunks)
    # A redelivered task after a crash finds the document mid-way: force a full rerun.
    runtime.store.mark_processing(record.id, 0.5)
    index_document(runtime, record.id)
    index_document(runtime, record.id)  # and once more while already indexed
    assert (len(runtime.index), runtime.store.get_document(record.id).chunks) == first
    hits = runtime.retriever.search("nosewheel dug into soft snow", 10, EVERYTHING)
    assert len({h.chunk_id for h in hits}) == len(hits)


def test_corrupted_pdf_ends_failed_and_the_index_is_untouched(runtime, ntsb_pdf, tmp_path):
    good = store_upload(runtime, ntsb_pdf)
    index_document(runtime, good.id)
    size = len(runtime.index)
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.7\n" + b"\x00garbage" * 200)
    record = store_upload(runtime, broken)
    index_document(runtime, record.id)
    failed = runtime.store.get_document(record.id)
    assert failed.status == "failed"
    assert failed.error_code in {"unreadable_pdf", "no_text_layer"}
    assert "broken.pdf" in failed.error_message
    assert len(runtime.index) == size


def test_no_meeting_chunk_exceeds_what_the_model_reads(embedder) -> None:

    from ingest.formats import parse_text_upload
    from tests.conftest import EVAL

    limit = embedder.model.max_seq_length
    tokenizer = embedder.model.tokenizer
    with open(EVAL / "qmsum" / "val.jsonl", encoding="utf-8") as handle:
        meetings = [handle.readline() for _ in range(3)]
    for number, line in enumerate(meetings):
        document = parse_text_upload(line, "m", f"meeting{number}.json")
        chunks = chunk_document(document, embedder.count_tokens, 200, 32, embedder.max_tokens)
        longest = max(len(tokenizer(c.text, verbose=False)["input_ids"]) for c in chunks)
        assert longest <= limit, f"meeting {number}: a chunk of {longest} tokens"
        covered = {i for c in chunks for i in range(c.turn_start, c.turn_end + 1)}
        assert covered >= {t.index for t in document.turns if t.text}  # no turn left out


def test_a_scanned_page_is_indexed_with_its_ocr_origin_and_confidence(runtime, tmp_path):
    from tests.conftest import joined_pdf, scanned_pdf, text_pdf

    path = tmp_path / "protocol.pdf"
    path.write_bytes(joined_pdf(text_pdf([["A typed cover page."]]), scanned_pdf(
        [["Yoga Nidra is practised in every class of the protocol."]])))
    record = store_upload(runtime, path)
    index_document(runtime, record.id)
    done = runtime.store.get_document(record.id).to_json()
    assert done["status"] == "indexed" and done["pages"] == 2, done
    assert [page["page"] for page in done["ocr_pages"]] == [2]
    assert 0.8 <= done["ocr_pages"][0]["confidence"] <= 1.0, done["ocr_pages"]
    assert done["empty_pages"] == []
    hits = runtime.retriever.search("Yoga Nidra in every class", 3, EVERYTHING)
    assert (hits[0].document_id, hits[0].page) == (record.id, 2)


def test_a_database_from_before_ocr_gains_the_ocr_pages_column(tmp_path) -> None:
    import sqlite3

    from retrieval.storage.store import Store

    store = Store(tmp_path / "docchat.sqlite")
    store.add_document("old", "old.pdf", tmp_path / "old.pdf", 10, workspace="default")
    with sqlite3.connect(store.path) as db:
        db.execute("ALTER TABLE documents DROP COLUMN ocr_pages")
    reopened = Store(tmp_path / "docchat.sqlite")
    assert reopened.get_document("old").to_json()["ocr_pages"] == []
    reopened.mark_parsed("old", "pdf", pages=3, turns=None, empty_pages=[3],
                         ocr_pages={2: 0.91234, 1: 0.5})
    assert reopened.get_document("old").to_json()["ocr_pages"] == [
        {"page": 1, "confidence": 0.5}, {"page": 2, "confidence": 0.912}]
