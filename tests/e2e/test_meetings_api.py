"""Meeting summaries and commitments through the API with the real LLM server: valid output,
quotes that really occur in the turns they cite, background jobs, exports and clear errors.

The LLM here is the bundled SmolLM2-135M, which often gives no decisions or open questions at
all; what docchat does with the turn numbers a model gives is checked with scripted replies in
tests/retrieval/test_llm_branches.py. Commitments are read without the model, so the ones the
notes hold are asserted here."""

from __future__ import annotations

import csv
import dataclasses
import io
import json

import pytest

from ingest.formats import parse_text_upload
from retrieval.llm.client import ChatModel
from retrieval.meetings.commitments import normalize
from retrieval.meetings.request import TOO_SMALL, MeetingRequest, load_meeting, run
from retrieval.meetings.summaries import map_messages, meeting_parts
from retrieval.runtime import Runtime
from tests.conftest import EVAL, TEST_DATA, wait_until

pytestmark = pytest.mark.e2e

NOTES = (TEST_DATA / "notes.md").read_text()
RUSSIAN = ("Анна: Пришлю презентацию Борису до пятницы.\n"
           "Борис: Спасибо. Договор я уже отправил вчера.\n"
           "Вера: Сделаю смету к понедельнику.\n"
           "Борис: Хорошо, тогда встречаемся в среду.\n")


def turns_of(text: str, name: str = "notes.md") -> list:
    return parse_text_upload(text, "x", name).turns


# (who, due) of the promises in NOTES when the meeting was on 2026-06-03: Anna's deck by
# Friday, Boris's pricing table tomorrow; "Let's review..." is a plan of "us", no promise.
NOTES_PROMISES = [("Anna", "2026-06-05"), ("Boris", "2026-06-04")]


def assert_commitments_are_verified(items: list[dict], text: str) -> None:
    """There are items; each has every field, and its quote occurs in the turn it cites."""
    assert items, "the notes hold commitments"
    turns = turns_of(text)
    for item in items:
        assert set(item) >= {"who", "what", "to_whom", "due", "due_text", "quote",
                             "turn_start", "turn_end"}
        cited = " ".join(t.text for t in turns[item["turn_start"]:item["turn_end"] + 1])
        assert normalize(item["quote"]) in normalize(cited), item


def test_summary_has_text_the_small_model_warning_and_verified_commitments(client,
                                                                          settings) -> None:
    response = client.post("/api/meetings/summarize", json={
        "text": NOTES, "filename": "notes.md", "meeting_date": "2026-06-03", "mode": "wait"})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert isinstance(body["summary"], str) and body["summary"].strip()
    assert body["model"] == settings.llm_model and body["parts"] == 1
    # The bundled model's decisions and open questions are not to be trusted, and it says so.
    assert TOO_SMALL in body["warnings"]
    assert isinstance(body["decisions"], list) and isinstance(body["open_questions"], list)
    assert isinstance(body["dropped_unverified"], int) and body["dropped_unverified"] >= 0
    assert body["meeting_date"] == "2026-06-03"
    assert [(c["who"], c["due"]) for c in body["commitments"]] == NOTES_PROMISES
    assert_commitments_are_verified(body["commitments"], NOTES)


def test_russian_notes_give_valid_commitments(client) -> None:
    response = client.post("/api/meetings/commitments", json={"text": RUSSIAN,
                                                               "meeting_date": "2026-03-12"})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert_commitments_are_verified(body["commitments"], RUSSIAN)
    # Boris's contract "уже отправил вчера" is done, not promised.
    assert [(c["who"], c["due"], c["due_text"]) for c in body["commitments"]] == [
        ("Анна", "2026-03-13", "до пятницы"), ("Вера", "2026-03-16", "к понедельнику")]


def test_commitments_export_as_csv_and_markdown(client) -> None:
    response = client.post("/api/meetings/commitments?format=csv", json={"text": NOTES})
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0] == ["who", "what", "to_whom", "due", "due_text", "quote", "where"]
    assert [(row[0], row[5], row[6]) for row in rows[1:]] == [
        ("Anna", "I'll send the deck by Friday.", "turn 1"),
        ("Boris", "I will share it tomorrow.", "turn 2")]
    markdown = client.post("/api/meetings/commitments?format=md", json={"text": NOTES})
    assert markdown.mimetype == "text/markdown"
    document = markdown.get_data(as_text=True)
    assert document.startswith("# Commitments: ")
    assert "I'll send the deck by Friday." in document and "I will share it tomorrow." in document


def test_background_job_reports_progress_and_its_result(client) -> None:
    response = client.post("/api/meetings/summarize", json={"text": NOTES,
                                                           "mode": "background"})
    assert response.status_code == 202, response.get_json()
    body = response.get_json()
    assert body["status_url"] == f"/api/jobs/{body['job_id']}"

    def done():
        job = client.get(body["status_url"]).get_json()
        return job if job["status"] in ("done", "failed") else None

    job = wait_until(done, 300, 0.5, what="the meeting job")
    assert job["status"] == "done", job
    assert job["progress"] == 1.0 and job["result"]["summary"].strip()
    assert TOO_SMALL in job["result"]["warnings"]
    assert_commitments_are_verified(job["result"]["commitments"], NOTES)
    exported = client.get(f"{body['status_url']}?format=csv")
    assert exported.status_code == 200 and exported.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(exported.get_data(as_text=True))))
    assert [row[0] for row in rows[1:]] == [c["who"] for c in job["result"]["commitments"]]


def test_commitments_of_an_uploaded_meeting_are_read_by_document_id(client) -> None:
    upload = client.post("/api/documents", data={
        "file": (io.BytesIO((TEST_DATA / "standup.vtt").read_bytes()), "standup.vtt"),
        "collection": "meetings-api"}, content_type="multipart/form-data")
    document_id = upload.get_json()["documents"][0]["id"]
    response = client.post("/api/meetings/commitments",
                           json={"document_id": document_id, "mode": "wait"})
    assert response.status_code == 200, response.get_json()
    text = (TEST_DATA / "standup.vtt").read_text()
    turns = parse_text_upload(text, "x", "standup.vtt").turns
    items = response.get_json()["commitments"]
    quotes = {(item["who"], item["quote"]) for item in items}
    assert {("Boris Ivanov", "I'll send the deck to the client by Friday."),
            ("Chen Wu", "I will fix it before the demo.")} <= quotes
    for item in items:
        cited = " ".join(t.text for t in turns[item["turn_start"]:item["turn_end"] + 1])
        assert normalize(item["quote"]) in normalize(cited)


def test_long_meeting_is_map_reduced_in_parts(settings, embedder) -> None:
    """Forty turns with parts of 250 tokens: several map requests, then a reduce."""
    small = dataclasses.replace(settings, summary_part_tokens=250, summary_max_tokens=200)
    runtime = Runtime(small, embedder=embedder)
    text = "\n".join(NOTES.splitlines()[3:]) * 6
    request = MeetingRequest(task="summarize", text=text, filename="long.md")
    result = run(runtime, request)
    assert result.parts > 2
    assert (result.summary or "").strip()
    assert TOO_SMALL in result.warnings


def test_three_hour_transcript_parts_all_fit_the_context_window(settings, embedder) -> None:
    """The longest QMSum meeting, counted with the LLM server's own tokenizer."""
    meetings = [json.loads(line) for line in (EVAL / "qmsum" / "val.jsonl").open()]
    longest = max(meetings, key=lambda m: sum(len(t["content"])
                                              for t in m["meeting_transcripts"]))
    runtime = Runtime(settings, embedder=embedder)
    meeting = load_meeting(runtime, MeetingRequest(task="summarize", text=json.dumps(longest),
                                                   filename="qmsum.json"))
    assert len(meeting.segments) > 300
    chat = ChatModel(settings)
    reply = settings.summary_max_tokens
    parts = meeting_parts(chat, meeting, reply, 0, map_messages(meeting, meeting.segments[:1]))
    assert len(parts) > 5
    for part in parts:
        prompt = "\n".join(str(m.content) for m in map_messages(meeting, part))
        assert chat.count_tokens(prompt) + reply < chat.context_window()
    numbers = [s.number for part in parts for s in part]
    assert sorted(set(numbers)) == meeting.segment_numbers()


@pytest.mark.parametrize(("body", "status", "code"), [
    ({}, 400, "bad_request"),
    ({"text": "a", "document_id": "b"}, 400, "bad_request"),
    ({"document_id": "nope"}, 404, "not_found"),
    ({"text": "   "}, 400, "bad_request"),
    ({"text": "Anna: hi", "meeting_date": "next week"}, 400, "bad_request"),
    ({"text": "Anna: hi", "mode": "later"}, 400, "bad_request"),
])
def test_bad_meeting_requests_say_what_is_wrong(client, body, status, code) -> None:
    response = client.post("/api/meetings/summarize", json=body)
    assert response.status_code == status
    assert response.get_json()["error"]["code"] == code
    assert response.get_json()["error"]["message"]


def test_pdf_sent_inline_is_refused_with_the_way_forward(client, ntsb_pdf) -> None:
    response = client.post("/api/meetings/summarize", data={
        "file": (io.BytesIO(ntsb_pdf.read_bytes()), "report.pdf")},
        content_type="multipart/form-data")
    assert response.status_code == 415
    assert "/api/documents" in response.get_json()["error"]["message"]


def test_unknown_job_is_404(client) -> None:
    assert client.get("/api/jobs/missing").status_code == 404
