"""HTML pages: chat, upload, library, search, meetings, tables, and the passage view a citation
opens."""

from __future__ import annotations

from flask import Blueprint, Response, abort, redirect, render_template, request

from ingest.errors import DocchatError
from retrieval.meetings.request import MeetingRequest, load_meeting
from retrieval.runtime import Runtime
from retrieval.storage.store import DocumentRecord, StoredChunk
from web.bodies import MAX_INDEX
from web.context import current_runtime
from web.identity import workspace
from web.pdfjs import installed_pdfjs

bp = Blueprint("pages", __name__)

# Pages load only their own scripts and styles: even if model output slipped past the
# sanitizer, no inline or remote script would run and no remote image would load. The passage
# view's pdf.js runs its worker from docchat's own files (web/vendor.py): worker-src 'self'.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; worker-src 'self'; frame-src 'self'; object-src 'self'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'self'"
)


@bp.after_app_request
def _security_headers(response: Response) -> Response:
    if response.mimetype == "text/html":
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
    return response


@bp.get("/")
def index() -> Response:
    return redirect("/chat")  # type: ignore[return-value]


@bp.get("/chat")
def chat() -> str:
    return render_template("chat.html", page="chat")


@bp.get("/upload")
def upload() -> str:
    settings = current_runtime().settings
    return render_template("upload.html", page="upload", max_upload_mb=settings.max_upload_mb)


@bp.get("/library")
def library() -> str:
    return render_template("library.html", page="library")


@bp.get("/search")
def search() -> str:
    return render_template("search.html", page="search")


@bp.get("/meetings")
def meetings() -> str:
    return render_template("meetings.html", page="meetings")


@bp.get("/tables")
def tables() -> str:
    return render_template("tables.html", page="tables")


@bp.get("/passage/<document_id>")
def passage(document_id: str) -> str:
    """A cited passage in its place: the PDF page with the cited text marked on it (drawn by
    pdf.js, or the browser's viewer beside the text when pdf.js is not installed), or the
    transcript with the cited turns highlighted."""
    runtime = current_runtime()
    record = runtime.store.document_in(workspace(), document_id)
    if record is None:
        abort(404, f"No document with id {document_id}: it may have been deleted.")
    first, last, page = _number("first"), _number("last"), _number("page")
    turns = _turn_range(request.args.get("turns", ""))
    chunks = _cited_chunks(runtime, record, first, last)
    if page is None and chunks:
        page = chunks[0].page
    context = {"page": "passage", "document": record, "chunks": chunks, "pdf_page": page,
               "n": _number("n"), "turns": turns, "segments": [],
               "quote": request.args.get("quote", "").strip()[:MAX_QUOTE_CHARS],
               "pdfjs": installed_pdfjs() if record.stored_kind == "pdf" else None,
               "transcript_error": None}
    if record.kind == "meeting":
        try:
            meeting = load_meeting(runtime, MeetingRequest(
                task="summarize", document_id=document_id, workspace=record.workspace))
            context["segments"] = meeting.segments
        except DocchatError as exc:  # the transcript cannot be read: the page says why
            context["transcript_error"] = exc.message
    return render_template("passage.html", **context)


def _number(name: str) -> int | None:
    """A whole number from the query string; None when absent, malformed or out of range (a
    page shows what it can rather than failing on a bad link)."""
    return _whole(request.args.get(name, ""))


def _whole(raw: str) -> int | None:
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 10) or int(raw) > MAX_INDEX:
        return None
    return int(raw)


def _turn_range(raw: str) -> tuple[int, int] | None:
    start, _, end = raw.partition("-")
    first = _whole(start)
    if first is None:
        return None
    last = _whole(end)
    return first, first if last is None or last < first else last


MAX_PASSAGE_CHUNKS = 50
# A citation's quote is a sentence or a table row (retrieval.answers.quotes); a link may carry it.
MAX_QUOTE_CHARS = 2000


def _cited_chunks(runtime: Runtime, record: DocumentRecord, first: int | None,
                  last: int | None) -> list[StoredChunk]:
    if first is None:
        return []
    last = first if last is None or last < first else min(last, first + MAX_PASSAGE_CHUNKS)
    return runtime.store.chunks_in_range(record.id, first, last)
