"""Stored documents as a library: the original file, for the passage view, and re-indexing."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, jsonify, send_file

from web.bodies import clean_filename
from web.context import current_runtime
from web.documents import owned_document
from web.enqueue import enqueue
from web.errors import ApiError
from workers import INGEST_TASK

bp = Blueprint("library", __name__, url_prefix="/api")

# How each stored kind is served: PDFs and text inline (the passage view shows them), Word
# files as downloads (no browser shows them).
_MIMETYPES = {"pdf": "application/pdf", "text": "text/plain; charset=utf-8",
              "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document"}


@bp.get("/documents/<document_id>/file")
def document_file(document_id: str) -> Response:
    """The file as uploaded, under its original name."""
    record = owned_document(document_id)
    path = Path(record.stored_path)
    if not path.is_file():
        raise ApiError(410, "file_missing",
                       f"The stored file of {record.filename} is gone from the server's data "
                       "folder; upload it again.")
    response = send_file(path, mimetype=_MIMETYPES.get(record.stored_kind,
                                                       "application/octet-stream"),
                         as_attachment=record.stored_kind == "docx",
                         download_name=clean_filename(record.filename), conditional=True)
    response.headers["X-Content-Type-Options"] = "nosniff"
    # Stored bytes are the user's, not ours: never let them run as a page of this origin.
    # (A sandboxed PDF would not open in Chromium's viewer; a PDF runs no page script.)
    sandbox = "" if record.stored_kind == "pdf" else "sandbox; "
    response.headers["Content-Security-Policy"] = f"{sandbox}frame-ancestors 'self'"
    return response


@bp.post("/documents/<document_id>/reindex")
def reindex_document(document_id: str) -> tuple[Response, int]:
    """Parse, chunk and embed the document again (after a failure, or a parser upgrade)."""
    record = owned_document(document_id)
    if record.status in ("queued", "processing"):
        raise ApiError(409, "busy", f"{record.filename} is already being processed.")
    if not Path(record.stored_path).is_file():
        raise ApiError(410, "file_missing",
                       f"The stored file of {record.filename} is gone; upload it again.")
    runtime = current_runtime()
    runtime.store.requeue(document_id)
    enqueue(INGEST_TASK, document_id,
            message="Re-indexing is recorded but the processing queue is not reachable; it "
                    "runs when docchat restarts with its queue. Check Redis "
                    "(DOCCHAT_REDIS_URL).")
    updated = runtime.store.get_document(document_id)
    assert updated is not None
    return jsonify(updated.to_json()), 202
