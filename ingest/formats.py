"""What an upload is, judged by its content, and the parser for each format."""

from __future__ import annotations

import json
from pathlib import PurePath
from typing import Literal

from ingest.documents import Document, IngestError
from ingest.ocr import OcrOptions
from ingest.pdf import is_pdf, looks_scanned, parse_pdf
from ingest.slack import looks_like_slack, parse_slack_export
from ingest.text import decode_text, is_docx, parse_docx, parse_text
from ingest.transcripts import (
    looks_like_notes,
    looks_like_srt,
    looks_like_vtt,
    meeting_from_object,
    parse_cues,
    parse_notes,
    split_jsonl_meetings,
    turns_from_json,
)

StoredKind = Literal["pdf", "docx", "text"]

ACCEPTED = "PDF, Word (.docx), plain text, Markdown, WebVTT, SRT, Slack export JSON, or JSON turns"


def costliest_first(data: bytes, kind: StoredKind) -> tuple[bool, int]:
    """A sort key that puts first the uploads likely to cost most to parse: PDFs that look
    scanned (read by OCR: the one scanned page of the eval PDFs took about 4 s, as long as a
    text PDF of 50 pages), then the rest by size, largest first. Workers take their queue in
    order, and a costly file left to the end keeps one of them busy while the others have
    nothing left."""
    return (not (kind == "pdf" and looks_scanned(data)), -len(data))


def sniff(data: bytes, filename: str) -> StoredKind:
    """How an upload is stored, from its bytes; raises IngestError('unsupported_type', 415).

    The filename only sharpens the message: a `.pdf` whose bytes are not a PDF is refused.
    """
    suffix = PurePath(filename).suffix.lower()
    if is_pdf(data[:1024]):
        return "pdf"
    if suffix == ".pdf":
        raise IngestError("unsupported_type",
                          f"{filename} is not a PDF (its content has no PDF header). "
                          "Upload the real PDF, or a file of another supported type: "
                          f"{ACCEPTED}.", status=415)
    if is_docx(data):
        return "docx"
    if decode_text(data[:65536]) is not None:
        return "text"
    raise IngestError("unsupported_type",
                      f"{filename} is not a type docchat reads. Upload {ACCEPTED}.", status=415)


def parse_file(data: bytes, kind: StoredKind, document_id: str, filename: str,
               max_pages: int, ocr: OcrOptions | None = None) -> Document:
    """The Document in an upload stored as `kind`; PDF pages without text read by `ocr`."""
    if kind == "pdf":
        return parse_pdf(data, document_id, filename, max_pages=max_pages, ocr=ocr)
    if kind == "docx":
        return parse_docx(data, document_id, filename)
    text = decode_text(data)
    if text is None:
        raise IngestError("unsupported_type",
                          f"{filename} is not text docchat can read. Upload {ACCEPTED}.")
    return parse_text_upload(text, document_id, filename)


def parse_text_upload(text: str, document_id: str, filename: str) -> Document:
    """Transcripts, exports and notes by their shape; anything else is a text document."""
    stripped = text.lstrip("\ufeff \t\r\n")
    if looks_like_vtt(stripped) or looks_like_srt(stripped):
        return parse_cues(stripped, document_id, filename)
    if stripped[:1] in "[{":
        parsed = _json_document(stripped, document_id, filename)
        if parsed is not None:
            return parsed
    if looks_like_notes(stripped):
        return parse_notes(stripped, document_id, filename)
    return parse_text(stripped, document_id, filename)


def _json_document(text: str, document_id: str, filename: str) -> Document | None:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        meetings = split_jsonl_meetings(text)
        if meetings:
            return meeting_from_object(meetings[0], document_id, filename)
        if PurePath(filename).suffix.lower() in (".json", ".jsonl"):
            raise IngestError("bad_json", f"{filename} is not valid JSON ({exc}): check the "
                              "export.") from exc
        return None
    if isinstance(data, dict) and "meeting_transcripts" in data:
        return meeting_from_object(data, document_id, filename)
    if isinstance(data, list) and data and all(isinstance(x, dict) for x in data):
        if all("speaker" in x for x in data):
            return turns_from_json(data, document_id, filename)
        if looks_like_slack(data):
            return parse_slack_export(data, document_id, filename)
    raise IngestError(
        "unsupported_json",
        f"{filename} is JSON docchat does not recognize. It reads a Slack channel export "
        "(a list of messages with ts and text), a list of turns with speaker and content, "
        "or meetings with meeting_transcripts.",
    )
