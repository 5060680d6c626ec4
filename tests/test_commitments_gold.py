"""The hand-written commitments gold set (tests/data/commitments/) obeys its own README: every
meeting parses, every quote is verbatim in exactly one turn of the right speaker, and every
deadline is the date its phrase means. Fast: no model, no network."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import date
from pathlib import Path

import pytest

from ingest.formats import parse_text_upload
from retrieval.core.language import language_of
from retrieval.meetings.dates import meeting_date_in, resolve_due

GOLD = Path(__file__).parent / "data" / "commitments"
FIELDS = {"who", "what", "to_whom", "due", "due_text", "quote"}
OPTIONAL_FIELDS = {"reported_by"}
MIN_WORDS, MAX_WORDS = 3, 25
DUE_TEXT_REACH = 2  # turns either side of the quote's turn where the deadline may be said

# Items whose gold `due` (a date, or null for a phrase that names no single day) is the human
# reading although resolve_due says another date, keyed by (meeting file, quote). Each entry
# says why; keep this list short.
HUMAN_READING: dict[tuple[str, str], str] = {
    ("20-support-escalations.md", "I'll send the renewal risk list early next week"):
        "'early next week' is no single day; resolve_due reads 'next week' and says its Friday, "
        "the latest day of the week, which is not early",
    ("24-pereezd-ofisa.txt",
     "Схему сети пришлю в начале следующей недели, когда провайдер сдаст линию"):
        "«в начале следующей недели» is no single day; resolve_due says Friday of next week",
}


def gold_pairs(folder: Path = GOLD) -> list[tuple[Path, Path]]:
    """(meeting file, expected file) of every meeting in `folder`."""
    pairs = []
    for expected in sorted(folder.glob("*.expected.json")):
        stem = expected.name.removesuffix(".expected.json")
        sources = [p for p in folder.glob(f"{stem}.*") if p != expected]
        assert len(sources) == 1, f"{expected.name}: expected one meeting file, found {sources}"
        pairs.append((sources[0], expected))
    return pairs


PAIRS = gold_pairs()


def words(text: str) -> int:
    return len(text.split())


def item_problems(source: Path, gold: dict, index: int, item: dict, turns: list,
                  speakers: set[str], meeting_day: date,
                  readings: Mapping[tuple[str, str], str] = HUMAN_READING) -> list[str]:
    """What is wrong with one gold item, each line naming the file and the item."""
    label = f"{source.name} item {index} ({item.get('who')}: {str(item.get('quote'))[:50]!r})"
    missing = FIELDS - item.keys()
    if missing:
        return [f"{label}: missing fields {sorted(missing)}"]
    problems = []
    unknown = item.keys() - FIELDS - OPTIONAL_FIELDS
    if unknown:
        problems.append(f"{label}: unknown fields {sorted(unknown)} (a typo?)")
    who, quote, due, due_text = item["who"], item["quote"], item["due"], item["due_text"]
    reporter = item.get("reported_by")
    if who not in speakers:
        problems.append(f"{label}: who {who!r} never speaks in the meeting")
    if not MIN_WORDS <= words(quote) <= MAX_WORDS:
        problems.append(f"{label}: quote has {words(quote)} words, not {MIN_WORDS}-{MAX_WORDS}")
    holders = [i for i, turn in enumerate(turns) if quote in turn.text]
    if len(holders) != 1:
        problems.append(f"{label}: quote is in {len(holders)} turns {holders}, not exactly one")
    else:
        at = holders[0]
        speaker = turns[at].speaker
        if reporter is None and speaker != who:
            problems.append(f"{label}: quote is said by {speaker!r}, not by {who!r} "
                            "(add reported_by only for a reported or delegated promise)")
        if reporter is not None and (reporter != speaker or reporter == who):
            problems.append(f"{label}: reported_by {reporter!r} must be the quote's speaker "
                            f"{speaker!r} and differ from who {who!r}")
        nearby = " ".join(t.text for t in turns[max(0, at - DUE_TEXT_REACH):
                                                 at + DUE_TEXT_REACH + 1]).lower()
        if due_text is not None and due_text.lower() not in nearby:
            problems.append(f"{label}: due_text {due_text!r} is not said within "
                            f"{DUE_TEXT_REACH} turns of the quote")
    if due_text is None and due is not None:
        problems.append(f"{label}: due {due} without a due_text")
    resolved = resolve_due(due_text, meeting_day)
    if due is not None and date.fromisoformat(due) < meeting_day:
        problems.append(f"{label}: due {due} is before the meeting ({gold['meeting_date']})")
    if (resolved is not None and resolved.isoformat() != due
            and (source.name, quote) not in readings):
        problems.append(f"{label}: due {due} but resolve_due({due_text!r}) says "
                        f"{resolved.isoformat()}; fix the gold or allow-list the human reading")
    return problems


def meeting_problems(source: Path, expected: Path,
                     readings: Mapping[tuple[str, str], str] = HUMAN_READING) -> list[str]:
    """What is wrong with one meeting and its items, each line naming the file."""
    text = source.read_text(encoding="utf-8")
    gold = json.loads(expected.read_text(encoding="utf-8"))
    document = parse_text_upload(text, "gold", source.name)
    if document.kind != "meeting" or not document.turns:
        return [f"{source.name} parses as {document.kind!r} with {len(document.turns)} turns"]
    turns = document.turns
    meeting_day = date.fromisoformat(gold["meeting_date"])

    problems = []
    spoken = language_of(" ".join(turn.text for turn in turns))
    if gold["language"] not in ("en", "ru") or gold["language"] != spoken:
        problems.append(f"{expected.name}: language {gold['language']!r}, the text is {spoken!r}")
    stated = meeting_date_in(text)
    if stated is not None and stated != meeting_day:
        problems.append(f"{expected.name}: meeting_date {meeting_day} but the header says {stated}")
    if source.suffix == ".json":
        days = {turn.start[:10] for turn in turns if turn.start}
        if days != {gold["meeting_date"]}:
            problems.append(f"{expected.name}: Slack messages are on UTC days {sorted(days)}, "
                            f"meeting_date is {gold['meeting_date']}")
    quotes = [item.get("quote") for item in gold["commitments"]]
    if len(set(quotes)) != len(quotes):
        problems.append(f"{expected.name}: the same quote is given twice")
    speakers = {turn.speaker for turn in turns}
    for index, item in enumerate(gold["commitments"]):
        problems += item_problems(source, gold, index, item, turns, speakers, meeting_day,
                                  readings)
    return problems


@pytest.mark.parametrize(("source", "expected"), PAIRS, ids=[s.name for s, _ in PAIRS])
def test_gold_meeting_matches_its_transcript(source: Path, expected: Path) -> None:
    problems = meeting_problems(source, expected)
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


def stale_readings(pairs: list[tuple[Path, Path]], readings: Iterable[tuple[str, str]],
                   ) -> list[str]:
    """Allow-list entries whose item is gone, or that resolve_due now reads like the gold: stale,
    and they would hide a real disagreement."""
    items = {}
    for source, expected in pairs:
        gold = json.loads(expected.read_text(encoding="utf-8"))
        for item in gold["commitments"]:
            items[(source.name, item["quote"])] = (item, date.fromisoformat(gold["meeting_date"]))
    stale = []
    for key in readings:
        if key not in items:
            stale.append(f"{key}: no such item")
            continue
        item, meeting_day = items[key]
        resolved = resolve_due(item["due_text"], meeting_day)
        if resolved is None or resolved.isoformat() == item["due"]:
            stale.append(f"{key}: resolve_due agrees now (or finds no date)")
    return stale


def test_allow_listed_readings_are_still_needed() -> None:
    stale = stale_readings(PAIRS, HUMAN_READING)
    if stale:
        pytest.fail("\n".join(stale), pytrace=False)


def test_gold_set_is_large_and_bilingual() -> None:
    golds = [json.loads(expected.read_text(encoding="utf-8")) for _, expected in PAIRS]
    meetings = Counter(gold["language"] for gold in golds)
    items = sum(len(gold["commitments"]) for gold in golds)
    assert len(golds) >= 27, f"only {len(golds)} meetings"
    assert items >= 130, f"only {items} gold commitments"
    assert meetings["en"] >= 11 and meetings["ru"] >= 11, f"meetings per language: {meetings}"


def test_numbered_meetings_have_no_gaps() -> None:
    numbers = sorted(int(source.name.split("-", 1)[0]) for source, _ in PAIRS)
    assert numbers == list(range(1, len(numbers) + 1)), f"meeting numbers: {numbers}"
