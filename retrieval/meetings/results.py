"""A meeting's result as it travels from the work to the job, the API, the exports and Slack:
the summary with its decisions and open questions, and the commitments, each saying where it
was said. `model_dump(mode="json")` is the JSON the API returns: a transcript's items carry
turns (`turn_start`, `turn_end`), a document's pages (`page_start`, `page_end` for points,
`page` for commitments), and a commitments-only result has no summary, decisions or open
questions. The field descriptions are the OpenAPI document's (web/contract)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from retrieval.meetings.segments import Unit


def _absent(value: object) -> bool:
    return value is None


def _never_null(schema: dict[str, Any]) -> None:
    """A field's JSON schema without its null branch and null default."""
    schema.pop("default", None)
    kept = [branch for branch in schema.pop("anyOf", []) if branch.get("type") != "null"]
    if len(kept) == 1:
        schema.update(kept[0])
    elif kept:
        schema["anyOf"] = kept


# Left out of the JSON when None (the other unit's numbers, say), so never null in it.
LEFT_OUT = Field(exclude_if=_absent, json_schema_extra=_never_null)
Number = Annotated[int | None, LEFT_OUT]


def _where(unit: str, start: int | None, end: int | None) -> str:
    if start is None:
        return ""
    if start == end or end is None:
        return f"{unit} {start}"
    return f"{unit}s {start}-{end}"


class MeetingPoint(BaseModel):
    """A decision or an open question, resting on turns (0-based, inclusive) of a transcript
    or on pages of a document."""

    model_config = ConfigDict(frozen=True)

    text: str
    turn_start: Number = None
    turn_end: Number = None
    page_start: Number = None
    page_end: Number = None

    @classmethod
    def said_at(cls, unit: Unit, text: str, start: int, end: int) -> MeetingPoint:
        if unit == "page":
            return cls(text=text, page_start=start, page_end=end)
        return cls(text=text, turn_start=start, turn_end=end)

    def where(self) -> str:
        """'turn 12', 'turns 12-14', 'page 3' or 'pages 3-4'; '' when it does not say."""
        if self.page_start is not None:
            return _where("page", self.page_start, self.page_end)
        return _where("turn", self.turn_start, self.turn_end)


class CommitmentItem(BaseModel):
    """Who promised what, to whom, by when, and the quote that proves it: said in a turn
    (0-based) of a transcript or on a page of a document."""

    model_config = ConfigDict(frozen=True)

    who: str
    what: str
    to_whom: str | None
    due: str | None = Field(description="ISO date, when the phrase pins one down.")
    due_text: str | None = Field(description="The deadline as it was said.")
    quote: str
    turn_start: Number = None
    turn_end: Number = None
    page: Number = Field(default=None,
                         description="Instead of turns, for a document read as pages.")

    def where(self) -> str:
        """As a reader would put it: 'turn 12', 'turns 12-14' or 'page 3'; '' when it does
        not say."""
        if self.page is not None:
            return f"page {self.page}"
        return _where("turn", self.turn_start, self.turn_end)


def said_in(unit: Unit, number: int) -> dict[str, int]:
    """CommitmentItem's fields for where it was said: one turn, or one page."""
    return {"page": number} if unit == "page" else {"turn_start": number, "turn_end": number}


# A commitments-only result has no summary: these are left out of its JSON.
SUMMARY_ONLY = "Absent from a commitments-only result."
Text = Annotated[str | None, LEFT_OUT]
Points = Annotated[list[MeetingPoint] | None, LEFT_OUT]


class MeetingResult(BaseModel):
    """One request's result: a summary with its decisions and open questions (None for a
    commitments-only request), the commitments, and how it was made."""

    model_config = ConfigDict(frozen=True)

    title: str
    summary: Text = Field(default=None, description=SUMMARY_ONLY)
    decisions: Points = Field(default=None, description=SUMMARY_ONLY)
    open_questions: Points = Field(default=None, description=SUMMARY_ONLY)
    commitments: list[CommitmentItem] = Field(default_factory=list)
    dropped_unverified: int = Field(default=0, description=(
        "Promise-like statements left out: taken back at once, or a repeat of an earlier "
        "promise."))
    meeting_date: date | None = Field(default=None, description=(
        "The day deadlines were read against: the one sent, else the one the notes state, "
        "else the day of their first timestamped turn."))
    parts: int = Field(default=1, description=(
        "The parts the meeting was cut into for the model, one request each; 1 for "
        "commitments alone."))
    model: str = Field(default="", description=(
        "The model that wrote the summary; empty for commitments alone."))
    warnings: list[str] = Field(default_factory=list)
