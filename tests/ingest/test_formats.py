"""Every accepted format, detected by content and parsed into pages or speaker turns."""

from __future__ import annotations

import io
import json

import pytest

from ingest.documents import IngestError
from ingest.formats import costliest_first, parse_file, sniff
from ingest.pdf import looks_scanned, parse_pdf
from tests.conftest import EVAL, EVAL_PDFS, TEST_DATA, joined_pdf, scanned_pdf, text_pdf


def parse(name: str, data: bytes | None = None):
    data = data if data is not None else (TEST_DATA / name).read_bytes()
    return parse_file(data, sniff(data, name), "doc", name, max_pages=100)


def test_webvtt_voice_tags_give_speakers_and_timestamps() -> None:
    document = parse("standup.vtt")
    assert document.kind == "meeting"
    assert [(t.index, t.speaker) for t in document.turns] == [
        (0, "Anna Petrova"), (1, "Boris Ivanov"), (2, "Chen Wu"), (3, "Boris Ivanov")]
    first = document.turns[0]
    # Two consecutive cues of one speaker are one turn spanning both.
    assert first.text == ("Good morning everyone, let's start with the release. "
                          "The build is green since yesterday evening.")
    assert (first.start, first.end) == ("00:00:01.000", "00:00:09.000")
    assert document.turns[1].text == "I'll send the deck to the client by Friday."


def test_srt_with_speaker_prefixes_in_russian() -> None:
    document = parse("planning.srt")
    assert document.kind == "meeting"
    assert [t.speaker for t in document.turns] == ["Мария", "Игорь"]
    assert document.turns[0].text.endswith("подпишем до конца месяца.")
    # A cue without a prefix continues the previous speaker.
    assert document.turns[1].text == "Я подготовлю спецификацию к среде. и отправлю её юристам."
    assert document.turns[1].start == "00:00:07.500"


def test_slack_export_keeps_threads_together_and_names_people() -> None:
    document = parse("slack-export.json")
    assert document.kind == "meeting"
    assert [t.speaker for t in document.turns] == [
        "Anna Petrova", "Boris Ivanov", "Anna Petrova", "Chen Wu"]
    assert document.turns[1].text == "@Anna Petrova I'll take it and send numbers by Thursday"
    assert document.turns[2].text == "Thanks! See the budget page & ping me."
    assert document.turns[0].start == "2024-06-03T07:33:20+00:00"
    assert all("joined" not in t.text for t in document.turns)


def test_markdown_notes_with_name_lines_become_turns() -> None:
    document = parse("notes.md")
    assert document.kind == "meeting"
    assert [t.speaker for t in document.turns] == ["Notes", "Anna", "Boris", "Chen", "Anna"]
    assert document.turns[0].text == "# Weekly sync — 3 June\nAttendees: Anna, Boris, Chen"
    assert document.turns[2].text == ("Pricing table is almost done; I will share it "
                                      "tomorrow.\nIt still needs the EU numbers.")


def test_markdown_without_speakers_is_a_text_document() -> None:
    document = parse("handbook.md")
    assert document.kind == "text"
    assert document.pages[0].text.startswith("# Travel policy")
    assert "## Expenses" in document.pages[0].text


def qmsum_meeting() -> dict:
    with open(EVAL / "qmsum" / "val.jsonl", encoding="utf-8") as handle:
        return json.loads(handle.readline())


def test_qmsum_turns_keep_their_indices_and_lose_noise_tokens() -> None:
    meeting = qmsum_meeting()
    transcript = meeting["meeting_transcripts"]
    document = parse("turns.json", json.dumps(transcript).encode())
    assert document.kind == "meeting"
    assert len(document.turns) == len(transcript)
    assert [t.index for t in document.turns] == list(range(len(transcript)))
    assert [t.speaker for t in document.turns] == [t["speaker"] for t in transcript]
    assert any("{vocalsound}" in t["content"] or "{disfmarker}" in t["content"]
               for t in transcript)
    assert not any("{" in t.text for t in document.turns)


def test_a_whole_meeting_object_and_json_lines_of_meetings_are_read() -> None:
    meeting = qmsum_meeting()
    one = parse("meeting.json", json.dumps(meeting).encode())
    assert len(one.turns) == len(meeting["meeting_transcripts"])
    lines = (json.dumps(meeting) + "\n" + json.dumps(meeting) + "\n").encode()
    assert parse("meetings.jsonl", lines).turns == one.turns


def test_docx_headings_paragraphs_and_tables() -> None:
    import docx

    word = docx.Document()
    word.add_heading("Договор поставки", level=1)
    word.add_paragraph("Поставщик обязуется поставить товар до 1 июля.")
    table = word.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "Item", "Price"
    table.cell(1, 0).text, table.cell(1, 1).text = "Server", "1200 EUR"
    buffer = io.BytesIO()
    word.save(buffer)
    document = parse("contract.docx", buffer.getvalue())
    text = document.pages[0].text
    assert document.kind == "text"
    assert text.startswith("# Договор поставки")
    assert "до 1 июля" in text and "Server | 1200 EUR" in text


def test_plain_text_in_windows_1251_is_decoded() -> None:
    document = parse("memo.txt", "Служебная записка о переносе сроков.".encode("cp1251"))
    assert document.pages[0].text == "Служебная записка о переносе сроков."


@pytest.mark.parametrize(("name", "data"), [
    ("report.pdf", b"PK\x03\x04 a zip named like a PDF"),
    ("photo.png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00"),
    ("archive.bin", bytes(range(256)) * 4),
])
def test_binary_or_mislabelled_files_are_refused_by_content(name: str, data: bytes) -> None:
    with pytest.raises(IngestError) as error:
        sniff(data, name)
    assert error.value.code == "unsupported_type"
    assert name in error.value.message


def test_json_of_an_unknown_shape_fails_with_what_is_accepted() -> None:
    with pytest.raises(IngestError) as error:
        parse("data.json", b'{"rows": [1, 2, 3]}')
    assert error.value.code == "unsupported_json"
    assert "Slack channel export" in error.value.message


def test_uploads_that_look_scanned_sort_first_then_the_largest() -> None:
    """The order the web app queues one request's files in (web/api.py): a scan's pages go to
    OCR, seconds each, so a scan of one page sorts before a text PDF many times its size."""
    scan = scanned_pdf([["Signed memo, page one."]])
    text = text_pdf([[f"Line {n} of a long report about pump maintenance." for n in range(40)]
                     for _ in range(int(len(scan) / 2000) + 5)])
    mixed = joined_pdf(text_pdf([["A cover page with a text layer."]]), scan)
    assert len(text) > len(scan)
    assert looks_scanned(scan) and looks_scanned(mixed) and not looks_scanned(text)
    notes = b"# Notes\n\n" + b"A line of notes.\n" * 10_000
    uploads = {"text.pdf": (text, "pdf"), "notes.md": (notes, "text"), "scan.pdf": (scan, "pdf"),
               "mixed.pdf": (mixed, "pdf")}
    order = sorted(uploads, key=lambda name: costliest_first(*uploads[name]))
    assert order == sorted(["scan.pdf", "mixed.pdf"], key=lambda n: -len(uploads[n][0])) + [
        name for name in sorted(["text.pdf", "notes.md"], key=lambda n: -len(uploads[n][0]))]


def test_of_the_eval_pdfs_only_the_scanned_one_looks_scanned() -> None:
    """Checked against what parsing finds: the eval PDF whose bytes look scanned has no text
    layer (with OCR off, parsing refuses it as a scan); the others' images (logos, figures)
    are smaller than a page."""
    scanned = [p for p in sorted(EVAL_PDFS.glob("*/*.pdf")) if looks_scanned(p.read_bytes())]
    assert [p.name for p in scanned] == ["NCT06155240_Prot_SAP_000.pdf"]
    with pytest.raises(IngestError) as error:
        parse_pdf(scanned[0].read_bytes(), "d", scanned[0].name, max_pages=50, ocr=None)
    assert "no text layer" in error.value.message
