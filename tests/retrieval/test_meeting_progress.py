"""How far a meeting's summary got, in words a person waits on: one step as each part starts
("Summarizing part 2 of 5…"), the reduce ("Combining the parts…"), then the commitments; the
share done never goes back. And a reduce that is handed empty or missing drafts does not fail.
Replies come from a scripted OpenAI-compatible server (tests/scripted_llm.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from retrieval.core.settings import Settings
from retrieval.meetings.request import FINDING_COMMITMENTS, READING, MeetingRequest, run
from retrieval.meetings.segments import Progress
from retrieval.meetings.summaries import COMBINING, _reduce, summarize
from retrieval.runtime import Runtime
from retrieval.storage.jobs import JobStore
from tests.retrieval.test_llm_branches import (
    INVALID_DRAFT,
    chat_model,
    draft_of,
    is_map,
    is_plain,
    is_reduce,
    map_ranges,
    numbered_meeting,
    script_meeting,
    turn_range,
)
from tests.scripted_llm import MODEL, ScriptedLLM

Step = tuple[float, str]


@pytest.fixture()
def llm() -> Iterator[ScriptedLLM]:
    with ScriptedLLM() as server:
        yield server


def recorder() -> tuple[list[Step], Progress]:
    steps: list[Step] = []
    return steps, lambda done, label: steps.append((done, label))


def assert_forward(steps: list[Step]) -> None:
    shares = [done for done, _ in steps]
    assert shares == sorted(shares), steps
    assert all(0.0 <= done <= 1.0 for done in shares), steps


def test_each_part_is_announced_as_it_starts_then_the_reduce(llm) -> None:
    script_meeting(llm, usable=lambda _: True, plain=lambda _: "unused")
    steps, progress = recorder()

    result = summarize(chat_model(llm), numbered_meeting(9), reply_tokens=200, part_tokens=64,
                       progress=progress)

    parts = len(map_ranges(llm))
    assert result.parts == parts >= 3
    assert [label for _, label in steps] == [
        *(f"Summarizing part {n} of {parts}…" for n in range(1, parts + 1)), COMBINING,
        COMBINING]
    assert_forward(steps)
    # Equal steps: a part each, and one for the reduce.
    assert [done for done, _ in steps[:parts + 1]] == pytest.approx(
        [n / (parts + 1) for n in range(parts + 1)])
    assert steps[-1][0] == pytest.approx(1.0)


def test_steps_are_reported_before_the_request_they_name(llm) -> None:
    """While part 2 is with the model, the label already says part 2: a slow model shows
    which part it is working on."""
    script_meeting(llm, usable=lambda _: True, plain=lambda _: "unused")
    seen: list[tuple[str, int]] = []

    summarize(chat_model(llm), numbered_meeting(9), reply_tokens=200, part_tokens=64,
              progress=lambda done, label: seen.append((label, len(llm.requests))))

    parts = len(map_ranges(llm))
    assert [asked for label, asked in seen if label.startswith("Summarizing")] == list(
        range(parts))
    assert seen[parts] == (COMBINING, parts)


def test_a_meeting_in_one_part_is_one_step(llm) -> None:
    llm.when(is_map, lambda r: draft_of(*turn_range(r)))
    steps, progress = recorder()

    result = summarize(chat_model(llm), numbered_meeting(3), reply_tokens=200, progress=progress)

    assert result.parts == 1 and not any(is_reduce(r) for r in llm.requests)
    assert steps == [(0.0, "Summarizing the meeting…")]


def test_a_part_asked_again_in_plain_words_says_so(llm) -> None:
    script_meeting(llm, usable=lambda turns: turns[0] != 0,
                   plain=lambda turns: f"Plain summary of turns {turns[0]}-{turns[1]}.")
    steps, progress = recorder()

    summarize(chat_model(llm), numbered_meeting(9), reply_tokens=200, part_tokens=64,
              progress=progress)

    parts = len(map_ranges(llm))
    labels = [label for _, label in steps]
    assert labels[:3] == [f"Summarizing part 1 of {parts}…",
                          f"Summarizing part 1 of {parts} again, in plain words…",
                          f"Summarizing part 2 of {parts}…"]
    assert_forward(steps)


def test_a_summary_request_ends_with_the_commitments(tmp_path, llm) -> None:
    script_meeting(llm, usable=lambda _: True, plain=lambda _: "unused")
    settings = Settings(data_dir=tmp_path, llm_base_url=llm.url, llm_model=MODEL,
                        summary_part_tokens=64, summary_max_tokens=200)
    speakers = ("Anna", "Boris", "Chen")
    text = "\n".join(f"{speakers[n % 3]}: I will send report {n} to Dana by Friday."
                     for n in range(9))
    steps, progress = recorder()

    body = run(Runtime(settings), MeetingRequest(task="summarize", text=text), progress=progress)

    labels = [label for _, label in steps]
    assert labels[0] == READING and labels[-1] == FINDING_COMMITMENTS
    parts = body.parts
    assert parts >= 3
    assert [x for x in labels if x.startswith("Summarizing")] == [
        f"Summarizing part {n} of {parts}…" for n in range(1, parts + 1)]
    assert COMBINING in labels
    assert_forward(steps)
    assert steps[-1][0] < 1.0  # done is for the job to say, with the result
    assert body.commitments


def test_a_commitments_request_is_one_step_without_the_model(tmp_path) -> None:
    steps, progress = recorder()
    settings = Settings(data_dir=tmp_path, llm_base_url="http://127.0.0.1:9/v1")

    body = run(Runtime(settings), MeetingRequest(
        task="commitments", text="Anna: I will send the deck to Boris by Friday."),
        progress=progress)

    assert [label for _, label in steps] == [READING, FINDING_COMMITMENTS]
    assert [c.who for c in body.commitments] == ["Anna"]


# ---- the reduce, handed drafts that are empty or missing ----

def test_reduce_of_no_drafts_is_empty_and_asks_nothing(llm) -> None:
    assert _reduce(chat_model(llm), "en", [], 200) == ""
    assert _reduce(chat_model(llm), "en", ["", "  \n"], 200) == ""
    assert llm.requests == []


def test_reduce_leaves_empty_drafts_out(llm) -> None:
    assert _reduce(chat_model(llm), "en", ["", "Pumps were ordered.", " "], 200) == (
        "Pumps were ordered.")
    assert llm.requests == []
    llm.when(is_reduce, "Both.")
    assert _reduce(chat_model(llm), "en", ["One.", "", "Two."], 200) == "Both."
    assert "Part 1: One.\n\nPart 2: Two." in llm.requests[0].last


def test_reduce_keeps_the_drafts_when_the_model_returns_nothing(llm) -> None:
    llm.when(is_reduce, "   ")
    assert _reduce(chat_model(llm), "en", ["One.", "Two."], 200) == "One. Two."


def test_a_draft_with_an_empty_summary_is_asked_again_in_plain_words(llm) -> None:
    """Valid JSON whose summary is empty: its decisions are kept, its summary is asked for in
    plain words, and the reduce never sees an empty draft."""
    def draft(request) -> str:
        first, last = turn_range(request)
        if first == 0:
            return ('{"summary": " ", "decisions": [{"text": "Order pumps.", "turn_start": 0, '
                    '"turn_end": 0}], "open_questions": []}')
        return draft_of(first, last)

    llm.when(is_map, draft)
    llm.when(is_plain, lambda r: f"Plain summary of turns {turn_range(r)[0]}-{turn_range(r)[1]}.")
    llm.when(is_reduce, lambda r: r.last)
    result = summarize(chat_model(llm), numbered_meeting(9), reply_tokens=200, part_tokens=64)

    first = map_ranges(llm)[0]
    assert [turn_range(r) for r in llm.requests if is_plain(r)] == [first]
    assert "Part 1: Plain summary of turns" in result.summary
    assert "Part 1:  " not in result.summary and "Part 1: \n" not in result.summary
    assert "Order pumps." in [p.text for p in result.decisions]


def test_unparseable_drafts_everywhere_still_give_a_summary_in_plain_words(llm) -> None:
    llm.when(is_map, INVALID_DRAFT)
    llm.when(is_plain, "Pumps were discussed.")
    llm.when(is_reduce, "The meeting discussed pumps.")
    result = summarize(chat_model(llm), numbered_meeting(9), reply_tokens=200, part_tokens=64)
    assert result.summary == "The meeting discussed pumps."


# ---- the job keeps the label for whoever polls it ----

def test_the_job_store_keeps_the_label_with_the_progress(tmp_path) -> None:
    jobs = JobStore(tmp_path / "docchat.db")
    job = jobs.add("summarize", {"text": "Anna: hi"}, "default")
    assert job.to_json()["progress_label"] == ""

    jobs.mark_running(job.id, 0.4, "Summarizing part 2 of 5…")
    running = jobs.get(job.id).to_json()
    assert (running["status"], running["progress"], running["progress_label"]) == (
        "running", 0.4, "Summarizing part 2 of 5…")

    jobs.mark_done(job.id, {"summary": "ok"})
    assert jobs.get(job.id).to_json()["progress_label"] == "Done"


def test_a_job_table_from_before_labels_gets_the_column(tmp_path) -> None:
    import sqlite3

    path = tmp_path / "old.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE jobs (id TEXT PRIMARY KEY, kind TEXT NOT NULL, status TEXT NOT "
                   "NULL, progress REAL NOT NULL DEFAULT 0, request TEXT NOT NULL, result TEXT,"
                   " error_code TEXT, error_message TEXT, created_at REAL NOT NULL, updated_at "
                   "REAL NOT NULL)")
        db.execute("INSERT INTO jobs VALUES ('old', 'summarize', 'running', 0.5, '{}', NULL,"
                   " NULL, NULL, 1, 1)")
    db.close()

    job = JobStore(path).get("old")
    assert job is not None and job.progress_label == "" and job.workspace == "default"
