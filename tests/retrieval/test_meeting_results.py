"""A meeting's result travels as a model (retrieval/meetings/results.py) from the work to the
job, the API, the exports and Slack; the JSON, the files and the Slack message are the ones
the dicts it replaced made (the literals below were written by that code)."""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace

import pytest

from ingest.formats import parse_text_upload
from retrieval.core.settings import Settings
from retrieval.meetings.request import MeetingRequest, run
from retrieval.meetings.results import CommitmentItem, MeetingPoint, MeetingResult
from retrieval.meetings.segments import meeting_from_document
from retrieval.meetings.summaries import MeetingSummary, Point
from retrieval.storage.jobs import JobStore
from web.exports import commitments_csv, commitments_markdown
from workers.slack_blocks import summary_message

# A summary of a transcript as the API has always returned it (and the job has stored it).
SUMMARY_JSON = {
    "title": "Weekly sync | planning",
    "summary": "We planned the *launch* & the budget.",
    "decisions": [{"text": "Launch on Monday", "turn_start": 1, "turn_end": 2}],
    "open_questions": [{"text": "Who pays for <the> venue?", "turn_start": 4, "turn_end": 4}],
    "commitments": [
        {"who": "Anna", "what": "send the deck", "to_whom": "Boris", "due": "2026-03-13",
         "due_text": "by Friday", "quote": "I'll send Boris the deck by Friday.",
         "turn_start": 0, "turn_end": 0},
        {"who": "Boris", "what": "=SUM(A1)", "to_whom": None, "due": None,
         "due_text": "next week", "quote": "I will | fix it next week",
         "turn_start": 3, "turn_end": 5},
    ],
    "dropped_unverified": 1, "meeting_date": "2026-03-10", "parts": 2, "model": "qwen",
    "warnings": ["w"],
}

# Commitments alone, of a document read as pages: no summary, decisions or open questions.
PAGE_COMMITMENTS_JSON = {
    "title": "notes.txt",
    "commitments": [{"who": "Anna", "what": "send the deck to Boris by Friday",
                     "to_whom": "Boris", "due": None, "due_text": "by Friday",
                     "quote": "I will send the deck to Boris by Friday.", "page": 1}],
    "dropped_unverified": 0, "meeting_date": None, "parts": 1, "model": "", "warnings": [],
}

PAGE_NOTES = "Planning notes\n\nAnna: I will send the deck to Boris by Friday.\nBoris: Thanks.\n"
TURN_NOTES = ("Anna: I'll send Boris the deck by Friday.\nBoris: Thanks.\n"
              "Chen: Who books the venue?\nBoris: Not decided yet.\n")


def test_results_read_back_from_their_json_give_the_same_json() -> None:
    for data in (SUMMARY_JSON, PAGE_COMMITMENTS_JSON):
        result = MeetingResult.model_validate(data)
        assert result.model_dump(mode="json") == data
    assert MeetingResult.model_validate(SUMMARY_JSON).meeting_date == date(2026, 3, 10)


def test_where_a_point_or_commitment_was_said_reads_as_a_person_would_put_it() -> None:
    summary = MeetingResult.model_validate(SUMMARY_JSON)
    assert [c.where() for c in summary.commitments] == ["turn 0", "turns 3-5"]
    assert [p.where() for p in summary.decisions or []] == ["turns 1-2"]
    page = MeetingResult.model_validate(PAGE_COMMITMENTS_JSON)
    assert page.commitments[0].where() == "page 1"
    assert MeetingPoint.said_at("page", "x", 3, 4).where() == "pages 3-4"
    assert CommitmentItem(who="A", what="w", to_whom=None, due=None, due_text=None,
                          quote="q").where() == ""


def test_commitments_of_a_document_read_as_pages_say_their_page(tmp_path) -> None:
    runtime = SimpleNamespace(settings=Settings(data_dir=tmp_path), chat=None)
    result = run(runtime, MeetingRequest(task="commitments", text=PAGE_NOTES,
                                         filename="notes.txt"))
    assert result.model_dump(mode="json") == PAGE_COMMITMENTS_JSON


def summary_of(unit: str, text: str, first: int, last: int,
               monkeypatch: pytest.MonkeyPatch) -> dict:
    """run()'s JSON for a summary request, the summary itself scripted."""
    meeting = meeting_from_document(parse_text_upload(text, "m", "notes.md"), text,
                                    date(2026, 3, 10))
    assert meeting.unit == unit
    summary = MeetingSummary(meeting.title, meeting.unit, "Planned.",
                             [Point("Ship", first, last)], [], parts=1, model="qwen",
                             warnings=["part 2 was plain"])
    monkeypatch.setattr("retrieval.meetings.request.summarize", lambda *_, **__: summary)
    runtime = SimpleNamespace(settings=Settings(), chat=SimpleNamespace(model="qwen"))
    return run(runtime, MeetingRequest(task="summarize"), meeting).model_dump(mode="json")


def test_a_summary_request_gives_points_and_commitments_in_the_meetings_unit(
        monkeypatch: pytest.MonkeyPatch) -> None:
    turns = summary_of("turn", TURN_NOTES, 0, 1, monkeypatch)
    assert turns["decisions"] == [{"text": "Ship", "turn_start": 0, "turn_end": 1}]
    assert turns["commitments"][0]["turn_start"] == 0 and "page" not in turns["commitments"][0]
    assert (turns["summary"], turns["open_questions"], turns["parts"], turns["model"]) == (
        "Planned.", [], 1, "qwen")
    assert (turns["meeting_date"], turns["warnings"]) == ("2026-03-10", ["part 2 was plain"])
    pages = summary_of("page", PAGE_NOTES, 1, 1, monkeypatch)
    assert pages["decisions"] == [{"text": "Ship", "page_start": 1, "page_end": 1}]
    assert pages["commitments"][0]["page"] == 1 and "turn_start" not in pages["commitments"][0]


def test_a_result_comes_back_from_the_job_store_as_it_went_in(tmp_path) -> None:
    jobs = JobStore(tmp_path / "docchat.sqlite3")
    for data in (SUMMARY_JSON, PAGE_COMMITMENTS_JSON):
        result = MeetingResult.model_validate(data)
        job = jobs.add("summarize", {"text": "Anna: hi"}, "default")
        jobs.mark_done(job.id, result.model_dump(mode="json"))
        stored = jobs.get(job.id)
        assert stored is not None and stored.result == data
        assert MeetingResult.model_validate(stored.result) == result


def test_exports_of_a_result_are_the_files_the_dicts_made() -> None:
    result = MeetingResult.model_validate(SUMMARY_JSON)
    assert commitments_csv(result.commitments) == (
        "who,what,to_whom,due,due_text,quote,where\r\n"
        "Anna,send the deck,Boris,2026-03-13,by Friday,I'll send Boris the deck by Friday.,"
        "turn 0\r\n"
        "Boris,'=SUM(A1),,,next week,I will | fix it next week,turns 3-5\r\n")
    assert commitments_markdown(result.title, result.commitments) == (
        "# Commitments: Weekly sync \\| planning\n\n"
        "| Who | What | To whom | Due | Quote | Where |\n"
        "|---|---|---|---|---|---|\n"
        "| Anna | send the deck | Boris | 2026-03-13 (by Friday) | "
        "“I'll send Boris the deck by Friday.” | turn 0 |\n"
        "| Boris | =SUM(A1) |  | next week | “I will \\| fix it next week” | turns 3-5 |\n")


def section(text: str) -> dict:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def test_the_slack_message_of_a_result_is_the_one_the_dicts_made() -> None:
    message = summary_message(MeetingResult.model_validate(SUMMARY_JSON), "collection c",
                              "in_channel")
    assert message.to_json() == {
        "text": "Summary of Weekly sync | planning: We planned the *launch* &amp; the budget.",
        "blocks": [
            {"type": "header", "text": {"type": "plain_text",
                                        "text": "Summary: Weekly sync | planning",
                                        "emoji": True}},
            section("We planned the *launch* &amp; the budget."),
            section("*Decisions*\n• Launch on Monday"),
            section("*Open questions*\n• Who pays for &lt;the&gt; venue?"),
            {"type": "divider"},
            section("*Commitments* (2)"),
            section("*Anna* → Boris: send the deck\n*Due:* 2026-03-13 (by Friday)\n"
                    "> I'll send Boris the deck by Friday. _(turn 0)_"),
            section("*Boris*: =SUM(A1)\n*Due:* next week\n"
                    "> I will | fix it next week _(turns 3-5)_"),
            {"type": "context", "elements": [{
                "type": "mrkdwn",
                "text": "1 unverified commitments left out · model qwen · collection c"}]},
        ],
        "response_type": "in_channel",
    }
