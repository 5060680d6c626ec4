"""GET /metrics: Prometheus text that parses, request counters by route, LLM requests and tokens,
and the documents, pages and queue depth read from the store and the broker when scraped."""

from __future__ import annotations

import uuid

import numpy as np
import redis
from langchain_core.messages import HumanMessage
from prometheus_client.parser import text_string_to_metric_families

from retrieval.core.settings import Settings
from retrieval.llm.client import ChatModel, LLMUnavailable
from retrieval.storage.embedding_cache import EmbedderKey, EmbeddingCache, text_hash
from tests.conftest import free_port, store_upload, text_pdf
from web import create_app
from workers import INGEST_TASK


def scrape(client) -> dict[tuple[str, frozenset], float]:
    """Every sample of GET /metrics, by (sample name, labels)."""
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain")
    return {(sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(response.get_data(as_text=True))
            for sample in family.samples}


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def embedded_app(tmp_path, **overrides):
    settings = Settings(data_dir=tmp_path / "data",
                        llm_base_url=overrides.pop("llm_base_url",
                                                   f"http://127.0.0.1:{free_port()}/v1"),
                        **overrides)
    return create_app(settings)


def test_requests_are_counted_and_timed_by_route_method_and_status(tmp_path) -> None:
    client = embedded_app(tmp_path).test_client()
    before = scrape(client)
    for _ in range(3):
        assert client.get("/api/documents").status_code == 200
    assert client.get("/api/documents/no-such-id").status_code == 404
    assert client.get("/no/such/page").status_code == 404
    after = scrape(client)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    listing = {"endpoint": "/api/documents", "method": "GET", "status": "200"}
    assert moved("docchat_http_requests_total", **listing) == 3
    assert moved("docchat_http_request_seconds_count", **listing) == 3
    assert moved("docchat_http_request_seconds_sum", **listing) > 0
    # The route, not the path: one series however many documents there are.
    assert moved("docchat_http_requests_total", endpoint="/api/documents/<document_id>",
                 method="GET", status="404") == 1
    assert moved("docchat_http_requests_total", endpoint="unmatched", method="GET",
                 status="404") == 1


def test_documents_by_status_and_ingested_pages_come_from_the_store(tmp_path) -> None:
    app = embedded_app(tmp_path)
    runtime = app.extensions["docchat"]
    pdf = tmp_path / "three.pdf"
    pdf.write_bytes(text_pdf([["One."], ["Two."], ["Three."]]))
    indexed = store_upload(runtime, pdf, "indexed.pdf")
    store_upload(runtime, pdf, "queued.pdf")
    runtime.store.mark_parsed(indexed.id, "pdf", pages=3, turns=None, empty_pages=[])
    runtime.store.mark_indexed(indexed.id, chunks=3)

    samples = scrape(app.test_client())
    assert value(samples, "docchat_documents", status="indexed") == 1
    assert value(samples, "docchat_documents", status="queued") == 1
    assert value(samples, "docchat_documents", status="failed") == 0
    assert value(samples, "docchat_ingested_pages_total") == 3


def test_embedding_cache_hits_and_misses_come_from_the_store(tmp_path) -> None:
    app = embedded_app(tmp_path)
    client = app.test_client()
    before = scrape(client)  # no worker has made the cache's tables yet
    assert ("docchat_embedding_cache_hits_total", frozenset()) in before
    assert value(before, "docchat_embedding_cache_hits_total") == 0
    # What a worker process does as it indexes: its own connection to the same file.
    worker_side = EmbeddingCache(app.extensions["docchat"].settings.database_path, 1 << 20)
    key = EmbedderKey("", "fp32", 4)
    digests = [text_hash("Probable cause.", "default"), text_hash("Findings.", "default")]
    worker_side.add(key, digests, np.ones((2, 4), dtype=np.float32))
    worker_side.lookup(key, digests)
    worker_side.lookup(key, digests[:1])
    after = scrape(client)
    assert value(after, "docchat_embedding_cache_hits_total") == 3
    assert value(after, "docchat_embedding_cache_misses_total") == 2
    assert value(after, "docchat_embedding_cache_bytes") == 2 * key.row_bytes


def test_queue_depth_counts_tasks_waiting_in_the_embedded_broker(tmp_path) -> None:
    app = embedded_app(tmp_path)
    celery = app.extensions["docchat.celery"]
    client = app.test_client()
    assert value(scrape(client), "docchat_queue_depth", queue="docchat") == 0
    for _ in range(2):  # no worker consumes this data folder's queue
        celery.send_task(INGEST_TASK, args=[uuid.uuid4().hex])
    assert value(scrape(client), "docchat_queue_depth", queue="docchat") == 2


def test_queue_depth_counts_tasks_waiting_in_redis(tmp_path, redis_url) -> None:
    queue = f"docchat-metrics-{uuid.uuid4().hex[:8]}"
    app = embedded_app(tmp_path, redis_url=redis_url, queue=queue)
    try:
        for _ in range(3):
            app.extensions["docchat.celery"].send_task(INGEST_TASK, args=[uuid.uuid4().hex])
        assert value(scrape(app.test_client()), "docchat_queue_depth", queue=queue) == 3
    finally:
        redis.Redis.from_url(redis_url).delete(queue)


def test_llm_requests_count_seconds_and_generated_tokens(tmp_path, llm_url) -> None:
    app = embedded_app(tmp_path, llm_base_url=llm_url)
    client = app.test_client()
    chat = ChatModel(Settings(llm_base_url=llm_url, llm_max_tokens=8))
    question = [HumanMessage("Name three colours.")]
    before = scrape(client)
    assert chat.complete(question)
    pieces = list(chat.stream(question))
    after = scrape(client)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    for kind in ("complete", "stream"):
        assert moved("docchat_llm_request_seconds_count", kind=kind, outcome="ok") == 1
        assert moved("docchat_llm_request_seconds_sum", kind=kind, outcome="ok") > 0
    # llama-cpp-python reports usage for whole answers; a stream's pieces are counted.
    assert 1 <= moved("docchat_llm_tokens_generated_total", kind="complete") <= 8
    assert moved("docchat_llm_tokens_generated_total", kind="stream") == len(pieces) > 0


def test_a_failed_llm_request_is_counted_as_an_error(tmp_path) -> None:
    dead = f"http://127.0.0.1:{free_port()}/v1"
    app = embedded_app(tmp_path, llm_base_url=dead)
    client = app.test_client()
    before = value(scrape(client), "docchat_llm_request_seconds_count", kind="complete",
                   outcome="error")
    try:
        ChatModel(Settings(llm_base_url=dead)).complete([HumanMessage("Hello?")])
    except LLMUnavailable:
        pass
    else:
        raise AssertionError("a dead LLM server answered")
    after = value(scrape(client), "docchat_llm_request_seconds_count", kind="complete",
                  outcome="error")
    assert after - before == 1
