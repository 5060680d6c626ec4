"""Meetings as numbered segments, cut into parts that fit the context window; exports of
commitments."""

from __future__ import annotations

from datetime import date

from ingest.formats import parse_text_upload
from retrieval.meetings.commitments import normalize
from retrieval.meetings.results import CommitmentItem
from retrieval.meetings.segments import Budget, Segment, meeting_from_document, split_parts
from web.exports import commitments_csv, commitments_markdown

NOTES = """
Anna: I'll send Boris the deck by Friday.
Boris: Thanks. I already sent the contract yesterday.
Chen: Maybe someone should update the wiki.
Boris: Anna, can you review the budget too?
Anna: Sure, I will review the budget on Monday.
"""


def meeting(text: str = NOTES, when: date | None = date(2026, 3, 12)):
    return meeting_from_document(parse_text_upload(text, "m", "sync.md"), text, when)


def test_turns_become_numbered_lines_with_speakers() -> None:
    m = meeting()
    assert m.unit == "turn" and m.language == "en" and m.date == date(2026, 3, 12)
    assert m.segments[0].line() == "[0] Anna: I'll send Boris the deck by Friday."
    assert [s.number for s in m.segments] == [0, 1, 2, 3, 4]


def test_parts_respect_the_budget_and_keep_every_segment_once() -> None:
    segments = [Segment(i, f"sentence number {i} is here. " * 5, "Anna") for i in range(200)]
    parts = split_parts(segments, budget_tokens=300, ratio=0.3)
    assert len(parts) > 1
    for part in parts:
        assert sum(int(len(s.line()) * 0.3) + 2 for s in part) <= 300
    assert [s.number for part in parts for s in part] == list(range(200))


def test_a_turn_longer_than_a_part_is_cut_and_keeps_its_number() -> None:
    long_turn = Segment(7, "This is one sentence of a monologue. " * 400, "Boris")
    parts = split_parts([long_turn], budget_tokens=200, ratio=0.3)
    assert len(parts) > 5
    assert {s.number for part in parts for s in part} == {7}
    assert "".join(s.text for part in parts for s in part).count("monologue") == 400


def test_budget_leaves_room_for_the_reply_the_prompt_and_a_margin() -> None:
    assert Budget(2048, 512, 300).transcript_tokens == 2048 - 512 - 300 - 204


def test_quotes_compare_with_yo_and_typography_folded() -> None:
    assert normalize("Он сказал «Всё» учтём!") == 'он сказал "все" учтем'
    assert normalize("  I’ll  SEND it. ") == "i'll send it"


def test_exports_write_every_field_and_defuse_formulas() -> None:
    items = [CommitmentItem(who="Anna", what="=HYPERLINK(\"x\")", to_whom="Борис",
                            due="2026-03-13", due_text="до пятницы", quote="пришлю | слайды",
                            turn_start=3, turn_end=3)]
    csv_text = commitments_csv(items)
    assert csv_text.splitlines()[0] == "who,what,to_whom,due,due_text,quote,where"
    assert "'=HYPERLINK" in csv_text and "Борис" in csv_text and "turn 3" in csv_text
    markdown = commitments_markdown("sync.md", items)
    assert "| Anna |" in markdown and "пришлю \\| слайды" in markdown
    assert "2026-03-13 (до пятницы)" in markdown


def test_pasted_notes_are_titled_by_their_first_line_or_heading() -> None:
    from retrieval.meetings.segments import title_in

    assert title_in("Weekly sync, 2026-11-20\nAnna: Hi.\n") == "Weekly sync, 2026-11-20"
    assert title_in("\n# Sprint 14 planning — Tuesday\n- Maya: Morning.\n") == (
        "Sprint 14 planning — Tuesday")
    assert title_in("Anna: I'll send it.\nBoris: Thanks.\n") is None  # a turn, not a title
    assert title_in("WEBVTT\n\n00:00.000 --> 00:01.000\n<v Anna>Hi</v>\n") is None
    assert title_in('[{"speaker": "A", "content": "x"}]') is None
