"""A meeting as the model reads it: numbered segments (speaker turns, or pages of a PDF or text
file), split into parts that each fit the model's context window.

Summaries and commitments both go through the same parts: a part is a run of whole segments
whose prompt, with the instructions and the room for the reply, stays inside the window. A turn
too long for any part is cut at sentence boundaries; each piece keeps the turn's number.

The work on a meeting reports how far it got through a `Progress` callback: the share done and
what it is doing, in words a person reads while waiting ("Summarizing part 2 of 5…").
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

from ingest.documents import Document
from retrieval.core.language import Language, language_of
from retrieval.meetings.dates import meeting_date_in

Unit = Literal["turn", "page"]

# progress(done, label): `done` in [0, 1], never going back; `label` says what runs now.
Progress = Callable[[float, str], None]


def no_progress(done: float, label: str) -> None:
    """A Progress for callers that show none."""


@dataclass(frozen=True)
class Segment:
    """One citable unit: a turn (number = 0-based index) or a page (number = page number)."""

    number: int
    text: str
    speaker: str | None = None

    def line(self) -> str:
        """How the model reads it: '[12] Anna: I will send it.'"""
        who = f" {self.speaker}:" if self.speaker else ""
        return f"[{self.number}]{who} {self.text}"


@dataclass(frozen=True)
class Meeting:
    title: str
    unit: Unit
    segments: list[Segment]
    date: date | None
    language: Language

    @property
    def text(self) -> str:
        return "\n".join(s.line() for s in self.segments)

    def segment_numbers(self) -> list[int]:
        return sorted({s.number for s in self.segments})


def meeting_from_document(document: Document, raw_text: str | None = None,
                          meeting_date: date | None = None) -> Meeting:
    """Turns of a meeting, or pages of anything else. The date is the one given, else the one
    the notes state, else the day of the first timestamped turn (Slack exports)."""
    if document.kind == "meeting":
        unit: Unit = "turn"
        segments = [Segment(t.index, t.text, t.speaker) for t in document.turns]
    else:
        unit = "page"
        segments = [Segment(p.number, p.text) for p in document.pages if p.text.strip()]
    found = meeting_date or (meeting_date_in(raw_text) if raw_text else None)
    if found is None and document.kind == "meeting":
        found = _first_dated_turn(document)
    body = " ".join(s.text for s in segments[:200])
    return Meeting(document.filename, unit, segments, found, language_of(body))


_HEADING = re.compile(r"^#{1,6}\s+(.+)$")
_TURN = re.compile(r"^[-*•\s]*\**[^\W\d][\w .'’-]{0,40}\**\s*:\s")


def title_in(text: str | None) -> str | None:
    """The notes' own title: their first line, when it is a heading or a short line that is
    nobody's turn ("# Sprint 14 planning", "Weekly sync, 2026-11-20"); None for transcripts
    and exports, and for notes that start with a turn."""
    for line in (text or "").splitlines():
        line = line.strip()
        if not line:
            continue
        heading = _HEADING.match(line)
        if heading:
            return heading.group(1).strip(" *_") or None
        if (len(line) > 100 or _TURN.match(line) or line.upper().startswith("WEBVTT")
                or line[0] in "{[" or line.isdigit()):
            return None
        return line.strip(" *_") or None
    return None


def _first_dated_turn(document: Document) -> date | None:
    for turn in document.turns[:5]:
        if turn.start and re.match(r"\d{4}-\d{2}-\d{2}", turn.start):
            try:
                return datetime.fromisoformat(turn.start[:10]).date()
            except ValueError:
                return None
    return None


TokenCounter = Callable[[str], int]


def token_ratio(text: str, count_tokens: TokenCounter, sample_chars: int = 12_000) -> float:
    """Tokens per character of this meeting's text, measured on a sample with the model's own
    tokenizer and rounded up by a tenth for the parts the sample missed."""
    sample = text[:sample_chars]
    if not sample:
        return 0.5
    return 1.1 * count_tokens(sample) / len(sample)


def split_parts(segments: list[Segment], budget_tokens: int, ratio: float,
                ) -> list[list[Segment]]:
    """Runs of whole segments, each at most `budget_tokens` (estimated as characters × ratio);
    a segment larger than the budget is cut into pieces that are not."""
    if budget_tokens < 32:
        raise ValueError(f"a part budget of {budget_tokens} tokens is too small to work with")

    def cost(segment: Segment) -> int:
        return int(len(segment.line()) * ratio) + 2

    parts: list[list[Segment]] = []
    current: list[Segment] = []
    used = 0
    for whole in segments:
        for segment in _fitting_pieces(whole, budget_tokens, ratio):
            size = cost(segment)
            if current and used + size > budget_tokens:
                parts.append(current)
                current, used = [], 0
            current.append(segment)
            used += size
    if current:
        parts.append(current)
    return parts


_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")


def _fitting_pieces(segment: Segment, budget_tokens: int, ratio: float) -> list[Segment]:
    limit = max(16, int(budget_tokens / ratio) - len(segment.line()) + len(segment.text) - 8)
    if len(segment.text) <= limit:
        return [segment]
    pieces: list[str] = []
    current = ""
    for sentence in _SENTENCE_END.split(segment.text):
        while len(sentence) > limit:  # one enormous sentence: cut it by characters
            if current:
                pieces.append(current)
                current = ""
            pieces.append(sentence[:limit])
            sentence = sentence[limit:]
        if current and len(current) + 1 + len(sentence) > limit:
            pieces.append(current)
            current = sentence
        else:
            current = f"{current} {sentence}".strip()
    if current:
        pieces.append(current)
    return [Segment(segment.number, piece, segment.speaker) for piece in pieces]


def part_range(part: list[Segment]) -> tuple[int, int]:
    numbers = [s.number for s in part]
    return min(numbers), max(numbers)


@dataclass(frozen=True)
class Budget:
    """Tokens for the transcript in one request: the window, less the reply and the prompt."""

    context_window: int
    reply_tokens: int
    prompt_tokens: int

    @property
    def transcript_tokens(self) -> int:
        # A tenth of the window stays free: chat templates add tokens the count does not see.
        return self.context_window - self.reply_tokens - self.prompt_tokens - (
            self.context_window // 10)
