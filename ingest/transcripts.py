"""Meeting transcripts and notes to speaker turns: WebVTT, SRT, JSON turns, "Name: text" notes."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from ingest.documents import Document, IngestError, Turn

# Annotation tokens of transcription tools, e.g. QMSum's {vocalsound} and {disfmarker}.
_NOISE = re.compile(r"\{[a-z_]+\}", re.I)
_SPACES = re.compile(r"[ \t]+")
_SPACE_BEFORE_PUNCT = re.compile(r" +([,.;:!?])")


def clean_utterance(text: str) -> str:
    """Noise tokens removed, whitespace collapsed."""
    text = _NOISE.sub(" ", text)
    text = _SPACES.sub(" ", text.replace("\r", ""))
    text = _SPACE_BEFORE_PUNCT.sub(r"\1", text)
    return "\n".join(line.strip() for line in text.splitlines()).strip()


def make_turns(raw: Iterable[tuple[str, str, str | None, str | None]]) -> list[Turn]:
    """Numbered turns from (speaker, text, start, end); turns left empty by cleaning are dropped,
    and consecutive cues of one speaker merge into one turn."""
    turns: list[Turn] = []
    for speaker, text, start, end in raw:
        text = clean_utterance(text)
        speaker = speaker.strip() or "Unknown"
        if not text:
            continue
        if turns and turns[-1].speaker == speaker and start is not None:
            last = turns[-1]
            turns[-1] = Turn(last.index, speaker, f"{last.text} {text}", last.start, end)
            continue
        turns.append(Turn(len(turns), speaker, text, start, end))
    return turns


def meeting(document_id: str, filename: str, turns: list[Turn]) -> Document:
    if not turns:
        raise IngestError("empty_transcript",
                          f"{filename} has no speaker turns with text: check the export.")
    return Document(document_id=document_id, filename=filename, kind="meeting", turns=turns)


# ---- WebVTT and SRT ----

_TIMING = re.compile(
    r"(?P<start>(?:\d+:)?\d{1,2}:\d{2}[.,]\d{1,3})\s*-->\s*(?P<end>(?:\d+:)?\d{1,2}:\d{2}[.,]\d{1,3})"
)
_VOICE = re.compile(r"<v(?:\.[\w.-]+)?\s+([^>]+)>")
_TAGS = re.compile(r"</?[a-z][^>]*>|<\d[\d:.]*>", re.I)
_PREFIX = re.compile(r"^\s*(?:-\s*)?(?:\[(?P<b>[^\]]{1,60})\]|(?P<p>[^:\n]{1,60})):\s+(?P<t>.+)$",
                     re.S)


def looks_like_vtt(text: str) -> bool:
    return text.lstrip("\ufeff").startswith("WEBVTT")


def looks_like_srt(text: str) -> bool:
    lines = [line.strip() for line in text.lstrip("\ufeff").splitlines() if line.strip()][:3]
    return len(lines) >= 2 and lines[0].isdigit() and bool(_TIMING.search(lines[1]))


def parse_cues(text: str, document_id: str, filename: str) -> Document:
    """WebVTT or SRT: one turn per cue (merged per speaker), timestamps kept.

    The speaker comes from a `<v Name>` voice tag or a "Name:" prefix; a cue with neither
    continues the previous speaker.
    """
    raw: list[tuple[str, str, str | None, str | None]] = []
    speaker = "Unknown"
    for block in re.split(r"\n\s*\n", text.replace("\r\n", "\n").lstrip("\ufeff")):
        lines = block.strip().splitlines()
        timing_at = next((i for i, line in enumerate(lines) if _TIMING.search(line)), None)
        if timing_at is None:
            continue  # WEBVTT header, NOTE, STYLE, REGION blocks
        timing = _TIMING.search(lines[timing_at])
        assert timing is not None
        cue = "\n".join(lines[timing_at + 1:])
        voice = _VOICE.search(cue)
        if voice:
            speaker = voice.group(1).strip()
        cue = _TAGS.sub("", cue).strip()
        prefix = _PREFIX.match(cue)
        if not voice and prefix and _is_name(prefix.group("b") or prefix.group("p")):
            speaker = (prefix.group("b") or prefix.group("p")).strip()
            cue = prefix.group("t")
        raw.append((speaker, cue, _timestamp(timing.group("start")),
                    _timestamp(timing.group("end"))))
    return meeting(document_id, filename, make_turns(raw))


def _timestamp(value: str) -> str:
    value = value.replace(",", ".")
    return value if value.count(":") == 2 else f"00:{value}"


def _is_name(candidate: str) -> bool:
    """A plausible speaker label: a few words starting with a letter, no sentence punctuation."""
    words = candidate.split()
    return (0 < len(words) <= 4 and candidate[:1].isalpha()
            and not re.search(r"[.!?/]", candidate))


# ---- JSON turns (QMSum's meeting_transcripts) and JSON lines of meetings ----

def turns_from_json(items: list[Any], document_id: str, filename: str) -> Document:
    """A list of {"speaker", "content"} (also "text"/"utterance", "start"/"end")."""
    raw = []
    for item in items:
        if not isinstance(item, dict):
            raise IngestError("bad_transcript",
                              f"{filename}: every turn must be an object with speaker and content.")
        text = item.get("content", item.get("text", item.get("utterance", "")))
        raw.append((str(item.get("speaker", "Unknown")), str(text or ""),
                    _optional(item.get("start")), _optional(item.get("end"))))
    turns = [Turn(i, t.speaker, t.text, t.start, t.end)
             for i, t in enumerate(_keep_positions(raw))]
    return meeting(document_id, filename, turns)


def _keep_positions(raw: list[tuple[str, str, str | None, str | None]]) -> list[Turn]:
    """JSON turns keep their list positions as indices (gold spans refer to them), so a turn
    that cleans to nothing stays as an empty placeholder instead of shifting the rest."""
    return [Turn(i, (s.strip() or "Unknown"), clean_utterance(t), a, b)
            for i, (s, t, a, b) in enumerate(raw)]


def _optional(value: Any) -> str | None:
    return None if value is None else str(value)


def meeting_from_object(obj: dict[str, Any], document_id: str, filename: str) -> Document:
    transcript = obj.get("meeting_transcripts")
    if not isinstance(transcript, list):
        raise IngestError("bad_transcript",
                          f"{filename}: a meeting object needs a 'meeting_transcripts' list.")
    return turns_from_json(transcript, document_id, filename)


def split_jsonl_meetings(text: str) -> list[dict[str, Any]] | None:
    """The meetings of a JSON-lines file (one object with meeting_transcripts a line), or None
    when the text is not such a file."""
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) < 1 or not lines[0].lstrip().startswith("{"):
        return None
    meetings = []
    for line in lines:
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            return None
        if not isinstance(obj, dict) or "meeting_transcripts" not in obj:
            return None
        meetings.append(obj)
    return meetings


# ---- "Name: text" notes ----

_NOTE_LINE = re.compile(
    r"^\s*(?:[-*•]\s+|\d+[.)]\s+)?(?:\*\*)?(?P<speaker>[A-ZА-ЯЁ][\w.'\- ]{0,40}?)(?:\*\*)?"
    r"\s*(?:\((?P<time>[\d:]+)\))?\s*:\s+(?P<text>\S.*)$"
)
_HEADING = re.compile(r"^\s*#{1,6}\s")
# "Attendees: Anna, Boris" is a note's header, not somebody speaking.
_HEADER_LABELS = {
    "attendees", "participants", "present", "absent", "date", "time", "location", "agenda",
    "subject", "topic", "notes", "action items", "decisions", "next meeting", "cc", "to",
    "from", "участники", "присутствовали", "дата", "время", "место", "повестка", "тема",
    "решения", "задачи",
}


def _speaker_line(line: str) -> re.Match[str] | None:
    match = _NOTE_LINE.match(line)
    if (match is None or _HEADING.match(line)
            or len(match.group("speaker").split()) > 4
            or match.group("speaker").strip().lower() in _HEADER_LABELS):
        return None
    return match


NOTES_SPEAKER = "Notes"


def note_lines(text: str) -> list[tuple[str, str, str | None]]:
    """(speaker, text, time) for every "Name: text" line; a plain line continues the turn
    before it. Headings, header lines ("Attendees: ...") and lines before the first speaker
    become turns of the pseudo-speaker "Notes", so nothing written is lost."""
    found: list[tuple[str, str, str | None]] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        match = _speaker_line(line)
        if match:
            found.append((match.group("speaker").strip(), match.group("text"),
                          match.group("time")))
            continue
        note = bool(_HEADING.match(line) or _NOTE_LINE.match(line))
        if found and (not note or found[-1][0] == NOTES_SPEAKER):
            speaker, said, time = found[-1]
            found[-1] = (speaker, f"{said}\n{line.strip()}", time)
        else:
            found.append((NOTES_SPEAKER, line.strip(), None))
    return found


def looks_like_notes(text: str) -> bool:
    """Most content lines are "Name: text", with at least two speakers and three such lines."""
    content = [line for line in text.splitlines() if line.strip() and not _HEADING.match(line)]
    matches = [m for m in (_speaker_line(line) for line in content) if m]
    speakers = {m.group("speaker").strip() for m in matches}
    return len(matches) >= 3 and len(speakers) >= 2 and len(matches) >= 0.5 * len(content)


def parse_notes(text: str, document_id: str, filename: str) -> Document:
    turns: list[Turn] = []
    for speaker, said, time in note_lines(text):
        said = clean_utterance(said)
        if said:
            turns.append(Turn(len(turns), speaker, said, time, None))
    return meeting(document_id, filename, turns)
