"""Who promised what, to whom, by when — each item proven by a quote from the meeting.

Read by code, not by the model: on the gold set (tests/data/commitments, README Benchmarks)
a small model asked to list commitments loses track of speakers, quotes unrelated lines and
calls questions and past actions promises, and asked to judge one clause at a time
("is this a commitment?") it cannot tell them apart (its yes-probabilities for promises and
non-promises overlap); rules over the words did better on every figure, so they decide:

1. Candidates: every clause with a promise cue, with its promiser — the turn's speaker, or
   the participant a clause reports ("Dmitry agreed to…", "Олег взялся…"), or the one who
   accepts a request made to them (retrieval/meetings/promise_cues.py). The quote is that clause, as
   said.
2. Rules: questions, things already done, refusals, wishes, non-decisions and plans of an
   unnamed "we" are no promises; what a recap reports of others was promised before.
3. A promise its maker withdraws at once ("Actually no — Anna, can you take it?") is dropped,
   and a later mention of the same promise by the same person is not a second one.
4. The deadline is read from the quote, or from the request the quote answers
   (retrieval/meetings/dates.py); what is promised and to whom come from the quote and the
   turns around it, so they always agree with the quote.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import date

from retrieval.meetings.dates import find_due
from retrieval.meetings.promise_cues import Cue, fold, is_recap, mentions, promise_cues, rules_out
from retrieval.meetings.results import CommitmentItem, MeetingResult, said_in
from retrieval.meetings.segments import Meeting, Unit

log = logging.getLogger(__name__)

# A quote longer than this many words is cut to the clause with the strongest cue.
MAX_QUOTE_WORDS = 40


_QUOTES = str.maketrans({"“": '"', "”": '"', "„": '"', "«": '"', "»": '"', "‘": "'",
                         "’": "'", "`": "'", "–": "-", "—": "-", "ё": "е", "Ё": "Е"})
_SPACE = re.compile(r"\s+")


def normalize(text: str) -> str:
    """For comparing quotes: case, whitespace, typographic quotes and dashes, ё/е folded;
    punctuation at the ends dropped."""
    folded = _SPACE.sub(" ", text.translate(_QUOTES).casefold()).strip()
    return folded.strip(" .,;:!?\"'-…")


# ---- what was said, line by line ----

@dataclass(frozen=True)
class Line:
    """One thing one person said: a turn, or a 'Name: text' line of a page."""

    position: int  # index among the meeting's lines
    number: int  # the turn or page it belongs to
    speaker: str | None
    text: str


_NAMED_LINE = re.compile(r"^\s*[-*•]?\s*\**([^\W\d][\w .'’-]{0,40}?)\**\s*:\s+(\S.*)$")


def meeting_lines(meeting: Meeting) -> list[Line]:
    """The meeting as lines with speakers: turns as they are; a page split into its lines,
    a speaker taken from a 'Name: …' prefix and kept for the lines that follow it."""
    lines: list[Line] = []
    for segment in meeting.segments:
        if meeting.unit == "turn":
            lines.append(Line(len(lines), segment.number, segment.speaker, segment.text))
            continue
        speaker = None
        for raw in segment.text.splitlines():
            named = _NAMED_LINE.match(raw)
            if named:
                speaker, raw = named.group(1).strip(), named.group(2)
            if raw.strip():
                lines.append(Line(len(lines), segment.number, speaker, raw.strip()))
    return lines


@dataclass(frozen=True)
class Candidate:
    line: Line
    promiser: str
    kind: str  # the strongest cue: first_person, accepted, reported, action_item
    quote: str  # a substring of line.text


_CUE_STRENGTH = {"first_person": 0, "reported": 1, "accepted": 2, "action_item": 3}


def find_candidates(lines: list[Line], participants: list[str]) -> list[Candidate]:
    """One candidate per line and promiser: the clauses with a cue that the rules let through,
    quoted as one stretch of the line."""
    found: list[Candidate] = []
    recap_by: str | None = None  # who is summing up, while they go on talking
    for line in lines:
        recap_by = line.speaker if is_recap(line.text) else (
            recap_by if line.speaker == recap_by else None)
        earlier = [(x.speaker, x.text) for x in lines[max(0, line.position - 3):line.position]]
        by_promiser: dict[str, list[Cue]] = {}
        for cue in promise_cues(line.text, line.speaker, participants, earlier,
                                in_recap=recap_by is not None):
            why = rules_out(cue.clause, cue.kind)
            if why is not None:
                log.debug("not a promise (%s): %r", why, cue.clause)
                continue
            by_promiser.setdefault(cue.promiser, []).append(cue)
        for promiser, cues in by_promiser.items():
            strongest = min(cues, key=lambda c: _CUE_STRENGTH[c.kind])
            found.append(Candidate(line, promiser, strongest.kind,
                                   _quote(line.text, [c.clause for c in cues], strongest)))
    return found


def _quote(text: str, clauses: list[str], strongest: Cue) -> str:
    """The stretch of `text` from the first clause to the last; the strongest clause alone
    when that stretch is too long."""
    starts = [text.find(c) for c in clauses]
    if all(s >= 0 for s in starts):
        first = min(starts)
        last = max(s + len(c) for s, c in zip(starts, clauses, strict=True))
        stretch = text[first:last].strip()
        if len(stretch.split()) <= MAX_QUOTE_WORDS:
            return stretch
    return strongest.clause


# ---- withdrawn and repeated promises ----

_WITHDRAWN = re.compile(
    r"^(?:actually,? no|oh,? wait|wait,? no|on second thought|scratch that)\b|"
    r"\b(?:can you take (?:it|that|this)(?: over| instead)?|could you take (?:it|that|this)|"
    r"take (?:it|that|this) instead|i can't after all|instead of me)\b|"
    r"(?:^|\s)(?:хотя нет|на самом деле нет|отбой|передумал|передумала|можешь взять|"
    r"сможешь взять|возьми ты|возьмешь ты|лучше пусть|пусть лучше|вместо меня)")


def withdrawn(lines: list[Line], candidate: Candidate) -> bool:
    """Whether the promiser takes it back at once: later in the same line ("I'll write the
    changelog. Actually no — Anna, can you take it?"), or in the very next line, theirs."""
    line = candidate.line
    rest = line.text[line.text.find(candidate.quote) + len(candidate.quote):]
    following = lines[line.position + 1:line.position + 2]
    said = [rest] + [x.text for x in following if x.speaker in (candidate.promiser, None)]
    return any(_WITHDRAWN.search(fold(text.strip())) for text in said if text.strip())


def _content(text: str) -> set[str]:
    """Words that carry what a promise is about, cut to a stem of five letters."""
    return {w[:5] for w in re.findall(r"\w+", fold(text)) if len(w) >= 4 and not w.isdigit()}


def _same_task(a: str, b: str) -> bool:
    """Two descriptions of one task: at least two content words in common, and half of the
    shorter one's."""
    x, y = _content(a), _content(b)
    shared = len(x & y)
    return shared >= 2 and shared >= 0.5 * min(len(x), len(y))


def drop_repeats(
        found: list[tuple[Candidate, CommitmentItem]]) -> list[tuple[Candidate, CommitmentItem]]:
    """One item per promise: a later item of the same person about the same thing (a recap, a
    report of it) goes, except that the person's own words beat a report by someone else."""
    kept: list[tuple[Candidate, CommitmentItem]] = []
    for candidate, item in found:
        twin = next((i for i, (_, k) in enumerate(kept)
                     if k.who == item.who and _same_task(k.what, item.what)), None)
        if twin is None:
            kept.append((candidate, item))
        elif kept[twin][0].kind == "reported" and candidate.kind != "reported":
            kept[twin] = (candidate, item)
    return kept


# ---- what, to whom, by when ----

_LEADING = re.compile(
    r"^(?:(?:yes|yeah|yep|sure|ok|okay|fine|then|so|and|also|alright|well|right|great|"
    r"да|ок|окей|хорошо|ладно|тогда|конечно|и|а|так|ну|давайте|давай)\b[,.!:]?\s*)+", re.I)
_SUBJECT = re.compile(
    r"^(?:i'll|i will|i'm going to|i am going to|i'm gonna|i can|i shall|let me|i'm|i)\s+|"
    r"^(?:я\s+)", re.I)
_YOU = re.compile(r"\b(?:you|your|тебе|тебя|тобой|вам|вас|вами)\b")


def describe(lines: list[Line], candidate: Candidate, meeting_date: date | None,
             participants: list[str], unit: Unit) -> CommitmentItem:
    """The item a candidate becomes, said in its line's turn or on its page."""
    line, quote = candidate.line, candidate.quote
    request = _request_answered(lines, candidate)
    # The deadline said with the promise; else with the request it answers; else elsewhere in
    # the same turn ("I'll send it. By Monday, hopefully.").
    found = (find_due(quote, meeting_date)
             or (find_due(request.text, meeting_date) if request else None)
             or find_due(line.text.replace(quote, " "), meeting_date))
    what = _what(quote, candidate)
    if candidate.kind == "accepted" and request is not None and len(what.split()) < 3:
        what = _asked(request.text)  # "Ок, пришлю." takes the request's task
    return CommitmentItem(
        who=candidate.promiser, what=what, due_text=found.phrase if found
        else None, due=found.due.isoformat() if found and found.due else None,
        to_whom=_to_whom(lines, candidate, request, participants), quote=quote,
        **said_in(unit, line.number))


def _what(quote: str, candidate: Candidate) -> str:
    """The quote as a task: without "Sure, I'll" or "Dmitry agreed to" in front."""
    text = quote.strip().rstrip(".!;")
    if candidate.kind == "reported":
        named = mentions(fold(text), candidate.promiser)
        if named is not None:
            rest = text[named.end():]
            rest = re.sub(r"^\s*(?:will|'ll|has agreed to|agreed to|agreed|promised to|"
                          r"volunteered to|offered to|is going to|is taking|to)\s+", "", rest,
                          flags=re.I)
            text = rest if rest.strip() else text
    else:
        # "Legal still has the draft, I'll chase them today": the task starts at the promise.
        promise = _PROMISE_START.search(text)
        if promise is not None and promise.start() > 0:
            text = text[promise.start():]
    for _ in range(3):
        text = _SUBJECT.sub("", _LEADING.sub("", text.strip()))
    return (text[:1].lower() + text[1:]).strip() if text else quote


_PROMISE_START = re.compile(r"\b(?:i'll|i will|i'm going to|i am going to|let me|i can have)\b",
                            re.I)


_ASKING = re.compile(
    r"^.*?\b(?:can you|could you|would you|will you|please|можешь|сможешь|можете|сможете|"
    r"пожалуйста|возьмешь)\s*,?\s*", re.I)


def _asked(request: str) -> str:
    """The task a request asks for: "Оля, сможешь прислать смету до четверга?" -> "прислать
    смету до четверга"."""
    question = next((c for c in re.split(r"(?<=[.!])\s+", request) if "?" in c), request)
    task = _ASKING.sub("", fold(question).replace("?", "")).strip(" ,.")
    return task or request.strip()


def _request_answered(lines: list[Line], candidate: Candidate) -> Line | None:
    """The line just before, by someone else, when the candidate answers a request in it."""
    line = candidate.line
    if line.position == 0:
        return None
    before = lines[line.position - 1]
    if before.speaker in (None, candidate.promiser):
        return None
    if "?" in before.text or re.search(r"\b(?:can you|could you|please|need(?:s)? to|has to|"
                                       r"have to|можешь|сможешь|пожалуйста|возьмешь|надо|нужно)",
                                       fold(before.text)):
        return before
    return None


def _to_whom(lines: list[Line], candidate: Candidate, request: Line | None,
             participants: list[str]) -> str | None:
    """A participant the quote names (Anna, Ксении), else the one who asked, else the one
    spoken to ("I'll send you…" answers the last person who spoke)."""
    folded = fold(candidate.quote)
    for name in participants:
        if name not in (candidate.promiser, candidate.line.speaker) and mentions(folded, name):
            return name
    if request is not None and request.speaker:
        return request.speaker
    if _YOU.search(folded):
        earlier = [x.speaker for x in lines[:candidate.line.position]
                   if x.speaker not in (None, candidate.promiser, candidate.line.speaker)]
        return earlier[-1] if earlier else None
    return None


# ---- the whole pass ----

def extract_commitments(meeting: Meeting) -> MeetingResult:
    """Every commitment of the meeting, in the order they were made, as a commitments-only
    result. Read by rules in a moment, without the model: the caller reports its progress as
    one step."""
    lines = meeting_lines(meeting)
    participants = sorted({line.speaker for line in lines if line.speaker})
    candidates = find_candidates(lines, participants)
    kept = [c for c in candidates if not withdrawn(lines, c)]
    found = drop_repeats([(c, describe(lines, c, meeting.date, participants, meeting.unit))
                          for c in kept])
    items = [item for _, item in found]
    log.info("%d commitments from %d candidates in %s", len(items), len(candidates),
             meeting.title)
    return MeetingResult(title=meeting.title, commitments=items,
                         dropped_unverified=len(candidates) - len(items),
                         meeting_date=meeting.date)
