"""A request for a meeting's summary or commitments: which meeting (an uploaded document, or
notes sent inline), read into numbered segments, and the work done for it."""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path
from typing import Any, Literal, Protocol

from ingest.errors import DocchatError
from ingest.formats import parse_text_upload
from ingest.sandbox import parse_isolated
from ingest.text import decode_text
from retrieval.llm.client import ChatModel
from retrieval.llm.local_models import BUNDLED
from retrieval.meetings.commitments import extract_commitments
from retrieval.meetings.results import MeetingPoint, MeetingResult
from retrieval.meetings.segments import (
    Meeting,
    Progress,
    Segment,
    Unit,
    meeting_from_document,
    no_progress,
    title_in,
)
from retrieval.meetings.summaries import (
    NoUsableSummary,
    Point,
    map_messages,
    meeting_parts,
    summarize,
)
from retrieval.storage.store import WithStore

log = logging.getLogger(__name__)


class Parts(WithStore, Protocol):
    """What meeting work uses (retrieval.runtime.Runtime has them all)."""

    @property
    def chat(self) -> ChatModel: ...

Task = Literal["summarize", "commitments"]
# The names notes get when nobody named them: pasted in the page, or sent from Slack.
UNNAMED = ("meeting notes", "notes from Slack")

# What the progress line says around the summary (retrieval.meetings.summaries names its own steps).
READING = "Reading the meeting…"
FINDING_COMMITMENTS = "Finding commitments…"
# The share of a summary request's progress that the model's part takes: commitments are read
# by rules, in a moment.
SUMMARY_SHARE = 0.95


class MeetingInputError(DocchatError):
    """A request docchat cannot work on (or a model that could not do it)."""


@dataclass(frozen=True)
class MeetingRequest:
    task: Task
    document_id: str | None = None
    text: str | None = None  # notes, a transcript or an export, in any format ingest reads
    filename: str = "meeting notes"
    meeting_date: str | None = None  # ISO; else the date the notes state, if any
    workspace: str = "default"  # whose documents `document_id` may name

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> MeetingRequest:
        return cls(**data)


def load_meeting(runtime: Parts, request: MeetingRequest) -> Meeting:
    """The meeting a request names, parsed; a DocchatError when it cannot be (MeetingInputError,
    or the IngestError of a file that cannot be read, 422)."""
    settings = runtime.settings
    raw_text: str | None
    if request.document_id is not None:
        record = runtime.store.document_in(request.workspace, request.document_id)
        if record is None:
            raise MeetingInputError(404, "not_found",
                                    f"No document with id {request.document_id}.")
        path = Path(record.stored_path)
        if not path.is_file():
            log.warning("meeting document %s: its stored file %s is missing", record.id, path)
            raise MeetingInputError(410, "file_missing",
                                    f"The file of {record.filename} is no longer stored; "
                                    "upload it again.")
        raw_text = decode_text(path.read_bytes()) if record.stored_kind == "text" else None
        document = parse_isolated(
            path, record.stored_kind, record.id, record.filename, max_pages=settings.max_pages,
            time_limit=settings.parse_time_limit, memory_mb=settings.parse_memory_mb,
            ocr=settings.ocr_options)
    else:
        raw_text = request.text or ""
        document = parse_text_upload(raw_text, "inline", request.filename)
    meeting = meeting_from_document(document, raw_text, _date(request.meeting_date))
    if request.document_id is None and request.filename in UNNAMED:
        # Pasted notes have no file name: their first line usually says what they are.
        meeting = dataclasses.replace(meeting, title=title_in(raw_text) or meeting.title)
    if not meeting.segments:
        raise MeetingInputError(422, "empty_meeting",
                                f"{document.filename} has no text to work with.")
    return meeting


def _date(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise MeetingInputError(400, "bad_request",
                                "'meeting_date' must be an ISO date like 2026-03-12.") from exc


TOO_SMALL = (f"The summary comes from the bundled model ({BUNDLED.alias}), which is too small "
             "to summarize reliably: decisions and open questions may be missing or wrong. "
             "Commitments do not depend on the model. For better summaries serve a larger "
             "model: README, Models (make serve MODEL=quality, or vLLM).")


def parts_needed(runtime: Parts, meeting: Meeting) -> int:
    """How many requests to the model the meeting's summary takes: more than one means
    map-reduce."""
    s = runtime.settings
    parts = meeting_parts(runtime.chat, meeting, s.summary_max_tokens, s.summary_part_tokens,
                          map_messages(meeting, [Segment(0, "")]))
    return len(parts)


def run(runtime: Parts, request: MeetingRequest, meeting: Meeting | None = None,
        progress: Progress = no_progress) -> MeetingResult:
    """The result: the summary with its commitments, or the commitments alone."""
    if meeting is None:
        progress(0.0, READING)
        meeting = load_meeting(runtime, request)
    s, chat = runtime.settings, runtime.chat
    if request.task == "commitments":
        progress(0.0, FINDING_COMMITMENTS)
        return extract_commitments(meeting)
    try:
        summary = summarize(chat, meeting, s.summary_max_tokens, s.summary_part_tokens,
                            lambda done, label: progress(SUMMARY_SHARE * done, label))
    except NoUsableSummary as exc:
        raise MeetingInputError(422, "model_output_unusable", str(exc)) from exc
    progress(SUMMARY_SHARE, FINDING_COMMITMENTS)
    found = extract_commitments(meeting)
    too_small = [TOO_SMALL] if chat.model == BUNDLED.alias else []
    return MeetingResult(
        title=summary.title, summary=summary.summary,
        decisions=_said(summary.unit, summary.decisions),
        open_questions=_said(summary.unit, summary.open_questions),
        commitments=found.commitments, dropped_unverified=found.dropped_unverified,
        meeting_date=found.meeting_date, parts=summary.parts, model=summary.model,
        warnings=[*too_small, *summary.warnings, *found.warnings])


def _said(unit: Unit, points: list[Point]) -> list[MeetingPoint]:
    return [MeetingPoint.said_at(unit, p.text, p.start, p.end) for p in points]
