"""Meeting API: summaries with decisions and open questions, and commitments with quotes;
long meetings run as background jobs that the client polls."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

from flask import Blueprint, Response, current_app, jsonify, request, url_for
from kombu.exceptions import OperationalError

from ingest.documents import IngestError
from ingest.formats import sniff
from ingest.text import decode_text
from retrieval.meetings.request import (
    MeetingInputError,
    MeetingRequest,
    Task,
    load_meeting,
    parts_needed,
    run,
)
from retrieval.runtime import Runtime
from web.auth import workspace
from web.bodies import clean_filename, json_body
from web.errors import ApiError
from web.exports import commitments_csv, commitments_markdown
from web.markdown import render_markdown
from web.ratelimit import rate_limited
from workers import MEETING_TASK

bp = Blueprint("meetings", __name__, url_prefix="/api")

MAX_TEXT_CHARS = 5_000_000
MODES = ("auto", "wait", "background")


def _runtime() -> Runtime:
    runtime: Runtime = current_app.extensions["docchat"]
    return runtime


@bp.post("/meetings/summarize")
@rate_limited
def summarize_meeting() -> tuple[Response, int]:
    """Summary, decisions, open questions and commitments of a meeting."""
    return _meeting("summarize")


@bp.post("/meetings/commitments")
@rate_limited
def meeting_commitments() -> tuple[Response, int]:
    """Who promised what, to whom, by when — each with its quote."""
    return _meeting("commitments")


@bp.get("/jobs/<job_id>")
def get_job(job_id: str) -> tuple[Response, int]:
    job = _runtime().jobs.get(job_id)
    if job is None or job.workspace != workspace():
        raise ApiError(404, "not_found", f"No job with id {job_id}.")
    if job.status == "done" and job.result is not None and _format() != "json":
        return _formatted(job.result)
    data = job.to_json()
    if job.result is not None:
        data["result"] = with_html(job.result)
    return jsonify(data), 200


def _meeting(task: Task) -> tuple[Response, int]:
    fields = _fields()
    mode = fields.get("mode") or "auto"
    if mode not in MODES:
        raise ApiError(400, "bad_request", f"'mode' takes {', '.join(MODES)}.")
    meeting_request = _meeting_request(task, fields)
    runtime = _runtime()
    try:
        meeting = load_meeting(runtime, meeting_request)
    except MeetingInputError as exc:
        raise ApiError(exc.status, exc.code, exc.message) from exc
    # Commitments are read without the model, at once; a summary of a long meeting takes
    # several requests to it and goes to the background.
    if mode == "background" or (mode == "auto" and task == "summarize"
                                and parts_needed(runtime, meeting) > 1):
        return _queue(runtime, meeting_request)
    try:
        result = run(runtime, meeting_request, meeting)
    except MeetingInputError as exc:  # the model wrote nothing usable, say
        raise ApiError(exc.status, exc.code, exc.message) from exc
    return _formatted(result)


def _fields() -> dict[str, Any]:
    """The request's fields: a JSON object, or a form with the meeting as a file."""
    if request.is_json:
        return json_body()
    fields: dict[str, Any] = dict(request.form.items())
    upload = request.files.get("file")
    if upload is not None:
        data = upload.stream.read()
        filename = clean_filename(upload.filename, "meeting")
        try:
            kind = sniff(data, filename)
        except IngestError as exc:
            raise ApiError(415, exc.code, exc.message) from exc
        if kind != "text":
            raise ApiError(415, "upload_first",
                           f"{filename} is a {kind.upper()} file: upload it to /api/documents, "
                           "then ask for its summary with its document_id.")
        fields["text"] = decode_text(data) or ""
        fields.setdefault("filename", filename)
    return fields


def _meeting_request(task: Task, fields: dict[str, Any]) -> MeetingRequest:
    document_id, text = fields.get("document_id"), fields.get("text")
    if (document_id is None) == (text is None):
        raise ApiError(400, "bad_request",
                       "Send either 'document_id' (an uploaded meeting) or 'text' (the notes or "
                       "transcript itself), not both.")
    for name, value in (("document_id", document_id), ("text", text),
                        ("filename", fields.get("filename")),
                        ("meeting_date", fields.get("meeting_date"))):
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise ApiError(400, "bad_request", f"'{name}' must be a non-empty string.")
    if text is not None and len(text) > MAX_TEXT_CHARS:
        raise ApiError(413, "too_large",
                       f"The text is longer than {MAX_TEXT_CHARS:,} characters: split it.")
    return MeetingRequest(task=task, document_id=document_id, text=text,
                          filename=clean_filename(fields.get("filename"), "meeting notes"),
                          meeting_date=fields.get("meeting_date"), workspace=workspace())


def _queue(runtime: Runtime, meeting_request: MeetingRequest) -> tuple[Response, int]:
    job = runtime.jobs.add(meeting_request.task, meeting_request.to_json(),
                           meeting_request.workspace)
    try:
        current_app.extensions["docchat.celery"].send_task(MEETING_TASK, args=[job.id])
    except OperationalError as exc:
        runtime.jobs.mark_failed(job.id, "queue_unavailable", "The queue was not reachable.")
        raise ApiError(503, "queue_unavailable",
                       "The processing queue is not reachable: check Redis (DOCCHAT_REDIS_URL) "
                       "and try again.") from exc
    status_url = url_for("meetings.get_job", job_id=job.id)
    body = {"job_id": job.id, "status": job.status, "status_url": status_url}
    return jsonify(body), 202


def _format() -> str:
    fmt = request.args.get("format", "json")
    if fmt not in ("json", "csv", "md"):
        raise ApiError(400, "bad_request", "'format' takes json, csv or md.")
    return fmt


def _formatted(result: dict[str, Any]) -> tuple[Response, int]:
    fmt = _format()
    if fmt == "json":
        return jsonify(with_html(result)), 200
    items = result.get("commitments", [])
    stem = _safe_stem(str(result.get("title") or "meeting"))
    if fmt == "csv":
        body, mimetype, suffix = commitments_csv(items), "text/csv", "csv"
    else:
        body = commitments_markdown(str(result.get("title") or "meeting"), items)
        mimetype, suffix = "text/markdown", "md"
    response = Response(body, mimetype=f"{mimetype}; charset=utf-8")
    response.headers["Content-Disposition"] = (
        f"attachment; filename=\"commitments.{suffix}\"; "
        f"filename*=UTF-8''{quote(stem, safe='')}-commitments.{suffix}")
    return response, 200


def with_html(result: dict[str, Any]) -> dict[str, Any]:
    """The result with its summary as sanitized HTML, for pages that show it."""
    if not isinstance(result.get("summary"), str):
        return result
    return {**result, "summary_html": render_markdown(result["summary"])}


def _safe_stem(title: str) -> str:
    return Path(title).stem[:80] or "meeting"
