"""Losing nothing under faults, with real processes: a worker killed (SIGKILL, whole) in the
middle of an ingest, Redis restarted with uploads queued, the LLM server stopped and started
again, and 20 chat users at once while uploads stream in.

Every test brings its own Redis server, data directory and queue (never the session's worker),
and stops every process it started, also when it fails."""

from __future__ import annotations

import io
import json
import random
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from retrieval.core.settings import Settings
from retrieval.search.indexing import index_document
from retrieval.storage.store import Store, chunk_id_range
from tests.benchmarks import load
from tests.conftest import store_upload, text_pdf, wait_until
from tests.processes import LLMServer, RedisServer, Worker, http_server
from web import create_app
from workers import INGEST_TASK, create_celery
from workers.celery_app import visibility_timeout

pytestmark = pytest.mark.e2e

FINISH_TIMEOUT = 300  # two cores shared with other work: generous
WORDS = ("the pump valve was inspected after the audit and the contract names a delivery date "
         "for each shipment while the budget report lists the supplier costs per quarter").split()


def large_pdf(pages: int = 30) -> bytes:
    """Enough text (about 180 chunks) that embedding it takes seconds: a kill lands mid-way."""
    rng = random.Random(11)
    return text_pdf([[f"Section {page}.{line}: " + " ".join(rng.choice(WORDS) for _ in range(13))
                      for line in range(42)] for page in range(pages)])


def small_pdf(number: int) -> bytes:
    return text_pdf([[f"Purchase order {number}: {number * 7 + 3} valves for the north plant.",
                      f"Delivery of order {number} is due in week {number + 10}."]])


@pytest.fixture()
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "redis").start()
    try:
        yield server
    finally:
        server.stop()


class Workers:
    """Starts workers for one test; stops every one of them at its end."""

    def __init__(self) -> None:
        self.started: list[Worker] = []

    def start(self, settings: Settings, name: str) -> Worker:
        worker = Worker(settings, name)
        self.started.append(worker)
        return worker.start()


@pytest.fixture()
def workers() -> Iterator[Workers]:
    held = Workers()
    try:
        yield held
    finally:
        for worker in held.started:
            worker.stop()


@pytest.fixture(scope="module")
def llm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LLMServer]:
    server = LLMServer(tmp_path_factory.mktemp("llm"))
    try:
        yield server.start()
    finally:
        server.stop()


def broker_settings(tmp_path: Path, redis_server: RedisServer, **extra: Any) -> Settings:
    return Settings(data_dir=tmp_path / "data", redis_url=redis_server.url(),
                    queue=f"reliability-{uuid.uuid4().hex[:8]}", worker_concurrency=1, **extra)


def upload(client: Any, data: bytes, name: str, collection: str) -> str:
    response = client.post("/api/documents", data={
        "file": (io.BytesIO(data), name), "collection": collection},
        content_type="multipart/form-data")
    assert response.status_code == 202, response.get_json()
    return str(response.get_json()["documents"][0]["id"])


def document(client: Any, document_id: str) -> dict[str, Any]:
    return dict(client.get(f"/api/documents/{document_id}").get_json())


def wait_finished(client: Any, document_id: str) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        doc = document(client, document_id)
        return doc if doc["status"] in ("indexed", "failed") else None

    result: dict[str, Any] = wait_until(done, FINISH_TIMEOUT, 0.3,
                                        what=f"document {document_id} to finish")
    return result


def vector_ids(settings: Settings, seq: int) -> list[int]:
    """The ids of the vectors the saved index holds for the document numbered `seq`."""
    from retrieval.search.faiss_index import faiss
    from retrieval.search.spaces import model_key

    index = faiss.read_index(str(settings.index_path(model_key(settings.embedding_model))))
    ids = faiss.vector_to_array(index.id_map)
    first, end = chunk_id_range(seq)
    return sorted(int(i) for i in ids if first <= i < end)


def test_a_worker_killed_mid_ingest_leaves_the_document_to_another_indexed_once(
        tmp_path, redis_server, workers) -> None:
    settings = broker_settings(tmp_path, redis_server)
    client = create_app(settings).test_client()
    pdf = large_pdf()
    doomed = workers.start(settings, "doomed")
    document_id = upload(client, pdf, "large.pdf", "killed")

    def embedding() -> bool:  # progress is 0.4 once the chunks are made and embedding begins
        doc = document(client, document_id)
        return doc["status"] == "processing" and doc["progress"] >= 0.4

    wait_until(embedding, FINISH_TIMEOUT, 0.05, what="the worker to be embedding the PDF")
    doomed.kill()
    assert document(client, document_id)["status"] == "processing", (
        "the PDF was indexed before the kill: make large_pdf() bigger")

    # The task was acknowledged late, so Redis still holds it as delivered and unacknowledged,
    # and gives it to another worker once the visibility timeout (2 h 12 min by default) has
    # passed since its delivery. Move the delivery back by that much instead of waiting.
    broker = redis_server.client()
    ((tag, delivered_at),) = broker.zrange("unacked_index", 0, -1, withscores=True)
    broker.zadd("unacked_index", {tag: delivered_at - visibility_timeout(settings) - 1})
    workers.start(settings, "rescuer")
    rescued = wait_finished(client, document_id)
    assert rescued["status"] == "indexed", rescued

    # A late duplicate delivery of the same task changes nothing.
    again = create_celery(settings).send_task(INGEST_TASK, args=[document_id])
    assert again.get(timeout=FINISH_TIMEOUT) == "indexed"

    # A clean run of the same file, for comparison.
    clean = wait_finished(client, upload(client, pdf, "large.pdf", "clean"))
    assert clean["status"] == "indexed", clean
    killed = document(client, document_id)
    assert (killed["pages"], killed["chunks"]) == (clean["pages"], clean["chunks"])
    # Each chunk is in the store once and in the index once: no vector of the killed attempt
    # survives beside the ones of the finished run.
    seq = Store(settings.database_path).get_document(document_id).seq
    first, end = chunk_id_range(seq)
    stored = [i for i in Store(settings.database_path).all_chunk_ids() if first <= i < end]
    assert len(stored) == killed["chunks"]
    assert vector_ids(settings, seq) == stored


def test_uploads_accepted_with_no_worker_survive_redis_restarts(tmp_path, redis_server,
                                                                workers) -> None:
    settings = broker_settings(tmp_path, redis_server)
    client = create_app(settings).test_client()
    accepted = [upload(client, small_pdf(n), f"order-{n}.pdf", "orders") for n in range(3)]
    redis_server.crash()  # SIGKILL: only what is on disk is left
    redis_server.start()
    # The same app goes on accepting uploads once Redis is back: no docchat restart.
    accepted += [upload(client, small_pdf(n), f"order-{n}.pdf", "orders") for n in range(3, 5)]
    redis_server.shutdown()  # and a clean restart, as an operator does it
    redis_server.start()
    assert redis_server.client().llen(settings.queue) == len(accepted)

    workers.start(settings, "after-restart")
    for document_id in accepted:
        doc = wait_finished(client, document_id)
        assert doc["status"] == "indexed", doc


def test_with_the_llm_server_stopped_ask_is_503_search_works_and_ask_recovers(
        tmp_path, llm) -> None:
    settings = Settings(data_dir=tmp_path / "data", llm_base_url=llm.url, llm_max_tokens=32,
                        llm_timeout=60, rate_limit_per_minute=0)
    app = create_app(settings)
    runtime = app.extensions["docchat"]
    source = tmp_path / "agreement.pdf"
    source.write_bytes(load.seed_pdfs()[0][1])
    record = store_upload(runtime, source)
    index_document(runtime, record.id)
    client = app.test_client()
    question = {"question": "How long is the hardware warranty period?"}
    assert client.post("/api/ask", json=question).status_code == 200

    llm.stop()
    try:
        response = client.post("/api/ask", json=question)
        assert response.status_code == 503
        error = response.get_json()["error"]
        assert error["code"] == "llm_unavailable"
        assert "Search still works" in error["message"]
        # Streamed, the status events have gone out already: the stream ends with the error.
        streamed = client.post("/api/ask", json={**question, "stream": True})
        assert streamed.status_code == 200
        last = streamed.get_data(as_text=True).strip().split("\n\n")[-1]
        assert last.startswith("event: error\n"), last
        error = json.loads(last.split("data: ", 1)[1])["error"]
        assert error["code"] == "llm_unavailable"
        assert "Search still works" in error["message"]
        search = client.post("/api/search", json={"query": "hardware warranty period"})
        assert search.status_code == 200
        assert search.get_json()["hits"][0]["document_id"] == record.id
    finally:
        llm.start()  # on the same port: the other tests use it too

    response = client.post("/api/ask", json=question)  # the same app: docchat never restarted
    assert response.status_code == 200
    assert response.get_json()["answer"].strip()


def test_twenty_chat_users_and_a_stream_of_uploads_get_no_errors(
        tmp_path, redis_server, workers, llm, capsys) -> None:
    settings = broker_settings(
        tmp_path, redis_server, llm_base_url=llm.url,
        # Short prompts and answers keep the run bounded: the LLM server answers one request at
        # a time, and 30 wait for it here.
        llm_max_tokens=32, answer_context_chars=800, llm_timeout=300,
        # One local user stands for all 20 here: no per-user rate limit applies.
        rate_limit_per_minute=0)
    workers.start(settings, "load")
    with http_server(create_app(settings)) as base_url:
        load.wait_indexed(base_url, [load.upload(base_url, n, d) for n, d in load.seed_pdfs()])
        report = load.run_load(base_url, users=20, questions=2, uploads=load.stream_pdfs(5))
    with capsys.disabled():
        print("\n# load: 20 users asking 1-2 questions each, 5 uploads meanwhile\n"
              + report.summary())
    assert report.errors == []
    assert len(report.ask_seconds) == 30 and len(report.indexed_seconds) == 5
    assert report.grounded > 0  # the LLM answered, not only the refusals
