"""The held-out commitments set (tests/data/commitments-heldout/) obeys the rules of the gold
set's README, checked by the same per-item function as tests/test_commitments_gold.py: every
meeting parses, every quote is verbatim in exactly one turn of the right speaker, and every
deadline is the date its phrase means. Fast: no model, no network."""

from __future__ import annotations

import json
from collections import Counter
from datetime import date
from pathlib import Path
from unittest import mock

import pytest

import tests.test_commitments_gold as gold_checks
from ingest.formats import parse_text_upload
from retrieval.dates import meeting_date_in, resolve_due
from retrieval.language import language_of

HELDOUT = Path(__file__).parent / "data" / "commitments-heldout"

# Items whose `due` is the human reading although resolve_due says another date, keyed by
# (meeting file, quote), each with the reason. Entries join the gold set's allow-list only while
# an item of this set is checked. Keep this list short.
HUMAN_READING: dict[tuple[str, str], str] = {}


def heldout_pairs() -> list[tuple[Path, Path]]:
    pairs = []
    for expected in sorted(HELDOUT.glob("*.expected.json")):
        stem = expected.name.removesuffix(".expected.json")
        sources = [p for p in HELDOUT.glob(f"{stem}.*") if p != expected]
        assert len(sources) == 1, f"{expected.name}: expected one meeting file, found {sources}"
        pairs.append((sources[0], expected))
    return pairs


PAIRS = heldout_pairs()


def meeting_problems(source: Path, expected: Path) -> list[str]:
    text = source.read_text(encoding="utf-8")
    gold = json.loads(expected.read_text(encoding="utf-8"))
    document = parse_text_upload(text, "heldout", source.name)
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
    if meeting_day.year != 2026:
        problems.append(f"{expected.name}: meeting_date {meeting_day} is not in 2026")
    if source.suffix == ".json":
        days = {turn.start[:10] for turn in turns if turn.start}
        if days != {gold["meeting_date"]}:
            problems.append(f"{expected.name}: Slack messages are on UTC days {sorted(days)}, "
                            f"meeting_date is {gold['meeting_date']}")
    if not 20 <= len(turns) <= 60:
        problems.append(f"{source.name}: {len(turns)} turns, not 20-60")
    quotes = [item.get("quote") for item in gold["commitments"]]
    if len(set(quotes)) != len(quotes):
        problems.append(f"{expected.name}: the same quote is given twice")
    speakers = {turn.speaker for turn in turns}
    allowed = {key: why for key, why in HUMAN_READING.items() if key[0] == source.name}
    with mock.patch.dict(gold_checks.HUMAN_READING, allowed):
        for index, item in enumerate(gold["commitments"]):
            problems += gold_checks.item_problems(source, gold, index, item, turns, speakers,
                                                  meeting_day)
    return problems


@pytest.mark.parametrize(("source", "expected"), PAIRS, ids=[s.name for s, _ in PAIRS])
def test_heldout_meeting_matches_its_transcript(source: Path, expected: Path) -> None:
    problems = meeting_problems(source, expected)
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


def test_heldout_allow_listed_readings_are_still_needed() -> None:
    """An allow-list entry whose item is gone, or that resolve_due now reads like the gold, is
    stale and would hide a real disagreement."""
    items = {}
    for source, expected in PAIRS:
        gold = json.loads(expected.read_text(encoding="utf-8"))
        for item in gold["commitments"]:
            items[(source.name, item["quote"])] = (item, date.fromisoformat(gold["meeting_date"]))
    stale = []
    for key in HUMAN_READING:
        if key not in items:
            stale.append(f"{key}: no such item")
            continue
        item, meeting_day = items[key]
        resolved = resolve_due(item["due_text"], meeting_day)
        if resolved is None or resolved.isoformat() == item["due"]:
            stale.append(f"{key}: resolve_due agrees now (or finds no date)")
    if stale:
        pytest.fail("\n".join(stale), pytrace=False)


def test_heldout_set_is_bilingual_and_sized() -> None:
    golds = [json.loads(expected.read_text(encoding="utf-8")) for _, expected in PAIRS]
    meetings = Counter(gold["language"] for gold in golds)
    items: Counter[str] = Counter()
    for gold in golds:
        items[gold["language"]] += len(gold["commitments"])
    assert len(golds) >= 8, f"only {len(golds)} meetings"
    assert meetings["en"] >= 4 and meetings["ru"] >= 4, f"meetings per language: {meetings}"
    assert 40 <= sum(items.values()) <= 60, f"items per language: {items}"
    assert {source.suffix for source, _ in PAIRS} >= {".md", ".txt", ".vtt", ".srt", ".json"}


def test_heldout_numbered_meetings_have_no_gaps() -> None:
    numbers = sorted(int(source.name.split("-", 1)[0]) for source, _ in PAIRS)
    assert numbers == list(range(1, len(numbers) + 1)), f"meeting numbers: {numbers}"


def test_heldout_shares_nothing_with_the_gold_set() -> None:
    """Held out means unseen: no meeting name and no quote is shared with tests/data/commitments,
    and the reported-promise field is used here too."""
    gold_names = {source.name for source, _ in gold_checks.PAIRS}
    gold_quotes = {item["quote"] for _, expected in gold_checks.PAIRS
                   for item in json.loads(expected.read_text(encoding="utf-8"))["commitments"]}
    shared, reported = [], 0
    for source, expected in PAIRS:
        if source.name in gold_names:
            shared.append(f"meeting {source.name}")
        for item in json.loads(expected.read_text(encoding="utf-8"))["commitments"]:
            reported += "reported_by" in item
            if item["quote"] in gold_quotes:
                shared.append(f"{source.name}: quote {item['quote']!r}")
    assert not shared, "\n".join(shared)
    assert reported >= 4, f"only {reported} reported or delegated promises"
