"""Meeting API: summaries with decisions and open questions, and commitments with quotes;
long meetings run as background jobs that the client polls."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

from flask import Blueprint, Response, jsonify, request, url_for
from pydantic import ValidationError

from ingest.formats import sniff
from ingest.text import decode_text
from retrieval.meetings.request import (
    MeetingRequest,
    Task,
    load_meeting,
    parts_needed,
    run,
)
from retrieval.meetings.results import MeetingResult
from retrieval.runtime import Runtime
from web.bodies import clean_filename, json_body
from web.context import current_runtime
from web.contract.requests import FormatQuery
from web.contract.requests import MeetingRequest as MeetingBody
from web.contract.responses import JobAccepted
from web.contract.validation import refusal, validated
from web.enqueue import enqueue
from web.errors import ApiError
from web.exports import commitments_csv, commitments_markdown
from web.identity import workspace
from web.markdown import render_markdown
from web.ratelimit import rate_limited
from workers import MEETING_TASK

bp = Blueprint("meetings", __name__, url_prefix="/api")


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
    job = current_runtime().jobs.get(job_id)
    if job is None or job.workspace != workspace():
        raise ApiError(404, "not_found", f"No job with id {job_id}.")
    if job.kind not in ("summarize", "commitments"):  # a table's job: its result as stored
        return jsonify(job.to_json()), 200
    result = MeetingResult.model_validate(job.result) if job.result is not None else None
    if job.status == "done" and result is not None and _format() != "json":
        return _formatted(result)
    data = job.to_json()
    if result is not None:
        data["result"] = with_html(result)
    return jsonify(data), 200


def _meeting(task: Task) -> tuple[Response, int]:
    body = _body(_fields())
    meeting_request = MeetingRequest(
        task=task, document_id=body.document_id, text=body.text,
        filename=clean_filename(body.filename, "meeting notes"),
        meeting_date=body.meeting_date, workspace=workspace())
    mode = body.mode
    runtime = current_runtime()
    meeting = load_meeting(runtime, meeting_request)
    # Commitments are read without the model, at once; a summary of a long meeting takes
    # several requests to it and goes to the background.
    if mode == "background" or (mode == "auto" and task == "summarize"
                                and parts_needed(runtime, meeting) > 1):
        return _queue(runtime, meeting_request)
    return _formatted(run(runtime, meeting_request, meeting))


def _fields() -> dict[str, Any]:
    """The request's fields: a JSON object, or a form with the meeting as a file."""
    if request.is_json:
        return json_body()
    fields: dict[str, Any] = dict(request.form.items())
    upload = request.files.get("file")
    if upload is not None:
        data = upload.stream.read()
        filename = clean_filename(upload.filename, "meeting")
        kind = sniff(data, filename)  # IngestError 415 when docchat does not read the type
        if kind != "text":
            raise ApiError(415, "upload_first",
                           f"{filename} is a {kind.upper()} file: upload it to /api/documents, "
                           "then ask for its summary with its document_id.")
        fields["text"] = decode_text(data) or ""
        fields.setdefault("filename", filename)
    return fields


def _body(fields: dict[str, Any]) -> MeetingBody:
    """The fields as the contract's meeting request; a text over its limit is a 413."""
    try:
        return MeetingBody.model_validate(fields)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        if first["type"] == "string_too_long" and first["loc"] == ("text",):
            raise ApiError(413, "too_large",
                           f"The text is longer than {first['ctx']['max_length']:,} "
                           "characters: split it.") from exc
        raise refusal(exc, MeetingBody) from exc


def _queue(runtime: Runtime, meeting_request: MeetingRequest) -> tuple[Response, int]:
    job = runtime.jobs.add(meeting_request.task, meeting_request.to_json(),
                           meeting_request.workspace)
    enqueue(MEETING_TASK, job.id, job_id=job.id)
    accepted = JobAccepted(job_id=job.id, status="queued",
                           status_url=url_for("meetings.get_job", job_id=job.id))
    return jsonify(accepted.model_dump()), 202


def _format() -> str:
    return validated(FormatQuery, {"format": request.args.get("format", "json")}).format


def _formatted(result: MeetingResult) -> tuple[Response, int]:
    fmt = _format()
    if fmt == "json":
        return jsonify(with_html(result)), 200
    title = result.title or "meeting"
    if fmt == "csv":
        body, mimetype, suffix = commitments_csv(result.commitments), "text/csv", "csv"
    else:
        body = commitments_markdown(title, result.commitments)
        mimetype, suffix = "text/markdown", "md"
    stem = _safe_stem(title)
    response = Response(body, mimetype=f"{mimetype}; charset=utf-8")
    response.headers["Content-Disposition"] = (
        f"attachment; filename=\"commitments.{suffix}\"; "
        f"filename*=UTF-8''{quote(stem, safe='')}-commitments.{suffix}")
    return response, 200


def with_html(result: MeetingResult) -> dict[str, Any]:
    """The result's JSON, with its summary also as sanitized HTML for pages that show it."""
    data = result.model_dump(mode="json")
    if result.summary is not None:
        data["summary_html"] = render_markdown(result.summary)
    return data


def _safe_stem(title: str) -> str:
    return Path(title).stem[:80] or "meeting"
