"""The held-out commitments set (tests/data/commitments-heldout/) obeys the rules of the gold
set's README, checked by the same per-item function as tests/test_commitments_gold.py: every
meeting parses, every quote is verbatim in exactly one turn of the right speaker, and every
deadline is the date its phrase means. Fast: no model, no network."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

import tests.test_commitments_gold as gold_checks
from ingest.formats import parse_text_upload

HELDOUT = Path(__file__).parent / "data" / "commitments-heldout"

# Items whose `due` is the human reading although resolve_due says another date, keyed by
# (meeting file, quote), each with the reason. Entries join the gold set's allow-list only while
# an item of this set is checked. Keep this list short.
HUMAN_READING: dict[tuple[str, str], str] = {}


PAIRS = gold_checks.gold_pairs(HELDOUT)


def meeting_problems(source: Path, expected: Path) -> list[str]:
    """The gold set's checks, and this set's own: meetings of 2026 with 20-60 turns."""
    problems = gold_checks.meeting_problems(source, expected, HUMAN_READING)
    gold = json.loads(expected.read_text(encoding="utf-8"))
    if not gold["meeting_date"].startswith("2026-"):
        problems.append(f"{expected.name}: meeting_date {gold['meeting_date']} is not in 2026")
    turns = parse_text_upload(source.read_text(encoding="utf-8"), "heldout", source.name).turns
    if not 20 <= len(turns) <= 60:
        problems.append(f"{source.name}: {len(turns)} turns, not 20-60")
    return problems


@pytest.mark.parametrize(("source", "expected"), PAIRS, ids=[s.name for s, _ in PAIRS])
def test_heldout_meeting_matches_its_transcript(source: Path, expected: Path) -> None:
    problems = meeting_problems(source, expected)
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


def test_heldout_allow_listed_readings_are_still_needed() -> None:
    stale = gold_checks.stale_readings(PAIRS, HUMAN_READING)
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
