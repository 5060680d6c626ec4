"""A background meeting job as the meetings page polls it: its progress with the words for what
it is doing, and the page's controls, each with its label (no worker needed)."""

from __future__ import annotations

import re

from retrieval.core.settings import Settings
from web import create_app


def make_app(tmp_path):  # type: ignore[no-untyped-def]
    return create_app(Settings(data_dir=tmp_path, rate_limit_per_minute=0))


def test_polling_a_job_gives_its_progress_and_what_it_is_doing(tmp_path) -> None:
    app = make_app(tmp_path)
    jobs = app.extensions["docchat"].jobs
    job = jobs.add("summarize", {"text": "Anna: hi"}, "default")
    client = app.test_client()

    queued = client.get(f"/api/jobs/{job.id}").get_json()
    assert (queued["status"], queued["progress"], queued["progress_label"]) == ("queued", 0, "")

    jobs.mark_running(job.id, 0.25, "Summarizing part 2 of 4…")
    running = client.get(f"/api/jobs/{job.id}").get_json()
    assert (running["status"], running["progress"], running["progress_label"]) == (
        "running", 0.25, "Summarizing part 2 of 4…")


def test_a_finished_job_gives_its_stored_result_and_exports_it(tmp_path) -> None:
    app = make_app(tmp_path)
    jobs = app.extensions["docchat"].jobs
    stored = {"title": "sync.md", "summary": "We *planned*.", "decisions": [],
              "open_questions": [{"text": "Who pays?", "turn_start": 2, "turn_end": 3}],
              "commitments": [{"who": "Anna", "what": "send the deck", "to_whom": None,
                               "due": "2026-03-13", "due_text": "by Friday",
                               "quote": "I'll send the deck by Friday.", "turn_start": 0,
                               "turn_end": 0}],
              "dropped_unverified": 0, "meeting_date": "2026-03-10", "parts": 3,
              "model": "qwen", "warnings": []}
    job = jobs.add("summarize", {"text": "Anna: hi"}, "default")
    jobs.mark_done(job.id, stored)
    client = app.test_client()

    result = client.get(f"/api/jobs/{job.id}").get_json()["result"]
    assert result == {**stored, "summary_html": result["summary_html"]}
    assert "<em>planned</em>" in result["summary_html"]
    exported = client.get(f"/api/jobs/{job.id}?format=csv").get_data(as_text=True)
    assert exported.splitlines()[1] == (
        "Anna,send the deck,,2026-03-13,by Friday,I'll send the deck by Friday.,turn 0")


def test_another_workspace_cannot_poll_the_job(tmp_path) -> None:
    app = make_app(tmp_path)
    job = app.extensions["docchat"].jobs.add("summarize", {"text": "Anna: hi"}, "team-b")
    response = app.test_client().get(f"/api/jobs/{job.id}")
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"


def test_meetings_page_labels_its_controls_and_announces_progress_politely(tmp_path) -> None:
    html = make_app(tmp_path).test_client().get("/meetings").get_data(as_text=True)
    assert html.count("<h1") == 1
    for control in ("meeting-text", "meeting-file", "meeting-document", "meeting-date",
                    "meeting-keep", "slack-text"):
        assert f'<label for="{control}"' in html, control
    assert re.search(r'<span id="meeting-status" aria-live="polite">', html)
    assert 'aria-label="Summary progress"' in html
    assert "meetings.css" in html
