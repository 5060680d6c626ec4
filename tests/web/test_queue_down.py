"""When the broker does not take a task: the API answers 503 `queue_unavailable` saying what
became of the request, a job made for the task is marked failed, and Slack gets a notice it can
show (web/enqueue.py). The broker is Redis on a port nobody listens on; results stay in the
app's own SQLite file."""

from __future__ import annotations

import io
import time

from retrieval.core.settings import Settings
from retrieval.storage.store import DocumentFilter
from tests.conftest import SLACK_SIGNING_SECRET, free_port, slack_signed
from web import create_app
from web.slack import QUEUE_DOWN
from workers import create_celery

NOTES = "Anna: I'll send the deck by Friday.\nBen: Thanks, I will review it on Monday.\n"


def make_app(tmp_path, redis_results: bool = False):  # type: ignore[no-untyped-def]
    settings = Settings(data_dir=tmp_path, rate_limit_per_minute=0,
                        slack_signing_secret=SLACK_SIGNING_SECRET)
    celery = create_celery(settings)
    celery.conf.broker_url = f"redis://:secret@127.0.0.1:{free_port()}/0"
    if redis_results:  # as in production, where DOCCHAT_REDIS_URL is both
        celery.conf.result_backend = celery.conf.broker_url
    return create_app(settings, celery=celery)


def test_an_upload_is_kept_and_the_503_says_it_runs_later(tmp_path) -> None:
    app = make_app(tmp_path)
    response = app.test_client().post(
        "/api/documents", data={"file": (io.BytesIO(NOTES.encode()), "sync.md")},
        content_type="multipart/form-data")

    assert response.status_code == 503
    error = response.get_json()["error"]
    assert error["code"] == "queue_unavailable"
    assert error["message"].startswith("The upload is saved")
    stored = app.extensions["docchat"].store.list_documents(DocumentFilter("default"))
    assert [(d.filename, d.status) for d in stored] == [("sync.md", "queued")]


def test_every_file_of_an_upload_is_kept_when_the_queue_is_down(tmp_path) -> None:
    """Files are queued as they are stored; when the first cannot be queued, the rest are
    still stored (recovery queues them at the restart), and one 503 says so."""
    app = make_app(tmp_path)
    response = app.test_client().post(
        "/api/documents", data={"file": [(io.BytesIO(NOTES.encode()), "sync.md"),
                                         (io.BytesIO(b"# Other\n\nSecond file."), "other.md")]},
        content_type="multipart/form-data")

    assert response.status_code == 503
    assert response.get_json()["error"]["message"].startswith("The upload is saved")
    stored = app.extensions["docchat"].store.list_documents(DocumentFilter("default"))
    assert sorted((d.filename, d.status) for d in stored) == [("other.md", "queued"),
                                                              ("sync.md", "queued")]


def test_a_background_meeting_job_is_failed_and_the_503_names_redis(tmp_path,
                                                                     monkeypatch) -> None:
    app = make_app(tmp_path)
    jobs = app.extensions["docchat"].jobs
    added = []
    add = jobs.add
    monkeypatch.setattr(jobs, "add", lambda *args: added.append(add(*args)) or added[-1])
    response = app.test_client().post("/api/meetings/summarize?mode=background",
                                      json={"text": NOTES, "mode": "background"})

    assert response.status_code == 503
    error = response.get_json()["error"]
    assert (error["code"], error["message"]) == (
        "queue_unavailable",
        "The processing queue is not reachable: check Redis (DOCCHAT_REDIS_URL) and try again.")
    assert len(added) == 1
    job = jobs.get(added[0].id)
    assert job is not None and (job.status, job.error_code) == ("failed", "queue_unavailable")


def test_a_slack_question_gets_a_notice_instead_of_an_error(tmp_path) -> None:
    app = make_app(tmp_path)
    body = (b"command=%2Fask&text=What+did+we+decide%3F"
            b"&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1%2F2%2Fabc")
    response = app.test_client().post("/slack/commands", data=body,
                                      content_type="application/x-www-form-urlencoded",
                                      headers=slack_signed(body))

    assert response.status_code == 200
    assert QUEUE_DOWN in str(response.get_json())


def test_with_redis_as_broker_and_result_store_the_answer_is_a_prompt_503(tmp_path) -> None:
    """Production's setup: Redis holds the queue and the results. The web app keeps no result,
    so it does not wait on the result store (a RuntimeError after about 20 s, a 500)."""
    app = make_app(tmp_path, redis_results=True)
    started = time.monotonic()
    response = app.test_client().post(
        "/api/documents", data={"file": (io.BytesIO(NOTES.encode()), "sync.md")},
        content_type="multipart/form-data")

    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "queue_unavailable"
    assert time.monotonic() - started < 10
