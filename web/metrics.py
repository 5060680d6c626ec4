"""Prometheus metrics at GET /metrics: the HTTP requests and LLM requests of this process, and,
read when scraped, the queue depth, the documents by status, the pages ingested and the
embedding cache's hits and misses (counted by the workers in the store). They count
every workspace together, so with logins on only administrators and the scrape token read them.

Counters live in each process. `docchat serve` runs one gunicorn process (with threads), so
one scrape sees them all; under several processes set PROMETHEUS_MULTIPROC_DIR (README,
Observability) and every process's counters are summed at each scrape.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from collections.abc import Iterable

from flask import Blueprint, Flask, Response, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from retrieval.llm.client import LLMCall, add_llm_listener
from retrieval.runtime import Runtime
from retrieval.storage.embedding_cache import cache_totals
from retrieval.storage.library_stats import library_stats
from web.context import current_runtime
from web.errors import ApiError
from web.identity import is_admin
from workers.queue_status import BrokerUnavailable, queue_depth

log = logging.getLogger(__name__)

bp = Blueprint("metrics", __name__)

# prometheus_client reads this itself when it starts; docchat only needs to know whether the
# counters of other processes are to be summed.
MULTIPROCESS_DIR = os.environ.get("PROMETHEUS_MULTIPROC_DIR")

HTTP_REQUESTS = Counter(
    "docchat_http_requests", "HTTP requests answered, by route (the Flask rule), method and "
    "status", ["endpoint", "method", "status"])
HTTP_SECONDS = Histogram(
    "docchat_http_request_seconds", "Seconds from a request's start until its response was "
    "sent (a streamed answer: until its last event)", ["endpoint", "method", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120))
LLM_SECONDS = Histogram(
    "docchat_llm_request_seconds", "Seconds of each request to the LLM server: kind stream or "
    "complete; outcome ok, error or closed (a stream stopped early)", ["kind", "outcome"],
    buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 40, 80, 160))
LLM_TOKENS = Counter(
    "docchat_llm_tokens_generated", "Tokens the LLM wrote: the server's usage figure, else the "
    "streamed pieces", ["kind"])

UNMATCHED = "unmatched"  # the endpoint label of a request no route took (404, 405)


def init_app(app: Flask) -> None:
    """Serve /metrics and count every request of `app` and every LLM request of the process."""
    app.register_blueprint(bp)
    app.before_request(_start_clock)
    app.after_request(_count_request)
    add_llm_listener(count_llm_call)


def _start_clock() -> None:
    g.docchat_started = time.perf_counter()


def _count_request(response: Response) -> Response:
    started = g.get("docchat_started", time.perf_counter())
    labels = (request.url_rule.rule if request.url_rule else UNMATCHED, request.method,
              str(response.status_code))
    HTTP_REQUESTS.labels(*labels).inc()

    def observe() -> None:
        HTTP_SECONDS.labels(*labels).observe(time.perf_counter() - started)

    # A streamed body is still being written when after_request runs: time it to the end.
    if response.is_streamed:
        response.call_on_close(observe)
    else:
        observe()
    return response


def count_llm_call(call: LLMCall) -> None:
    LLM_SECONDS.labels(call.kind, call.outcome).observe(call.seconds)
    LLM_TOKENS.labels(call.kind).inc(call.tokens)


@bp.get("/metrics")
def metrics() -> Response:
    """The figures of every workspace together: with logins on, only for administrators and
    for a scraper that sends DOCCHAT_METRICS_TOKEN as its bearer token."""
    runtime = current_runtime()
    if runtime.settings.login_required and not g.get("metrics_scraper"):
        caller = g.get("principal")
        if caller is None:
            raise ApiError(401, "login_required",
                           "Metrics need an administrator's login, or the scrape token "
                           "(DOCCHAT_METRICS_TOKEN) as 'Authorization: Bearer <token>'.")
        if not is_admin(caller):
            raise ApiError(403, "forbidden", "Only a docchat administrator reads the metrics.")
    registry = CollectorRegistry(auto_describe=False)
    if MULTIPROCESS_DIR:
        MultiProcessCollector(registry)
    else:
        registry.register(_ThisProcess())
    registry.register(_LibraryAndQueue(runtime))
    return Response(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)


class _ThisProcess(Collector):
    """The counters above and prometheus_client's process and Python metrics."""

    def collect(self) -> Iterable[Metric]:
        return REGISTRY.collect()


class _LibraryAndQueue(Collector):
    """Read at each scrape from the store and the broker, so every web process reports the
    same figures and nothing has to be counted as it happens."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def collect(self) -> Iterable[Metric]:
        settings = self.runtime.settings
        try:
            self.runtime.store  # noqa: B018 - a fresh install's database, as any request makes
            stats = library_stats(settings.database_path)
        except sqlite3.Error as exc:
            log.warning("metrics: the document database cannot be read: %s", exc)
        else:
            documents = GaugeMetricFamily("docchat_documents", "Documents by status",
                                          labels=["status"])
            for status, count in stats.by_status.items():
                documents.add_metric([status], count)
            yield documents
            # Pages of the indexed PDFs: rate() of it is pages ingested per second. Deleting
            # documents lowers it, which Prometheus takes for a counter reset.
            yield CounterMetricFamily("docchat_ingested_pages", "Pages of indexed PDFs",
                                      value=stats.indexed_pages)
            yield from self._embedding_cache()
        try:
            depth = queue_depth(settings)
        except BrokerUnavailable as exc:
            log.warning("metrics: %s", exc)
        else:
            queue = GaugeMetricFamily("docchat_queue_depth", "Tasks waiting in the queue",
                                      labels=["queue"])
            queue.add_metric([settings.queue], depth)
            yield queue

    def _embedding_cache(self) -> Iterable[Metric]:
        """The workers count in the store's totals row as they index, so every process that
        indexes is in it whatever multiprocess setting the web app has."""
        try:
            totals = cache_totals(self.runtime.settings.database_path)
        except sqlite3.Error as exc:
            log.warning("metrics: the embedding cache's totals cannot be read: %s", exc)
            return
        yield CounterMetricFamily("docchat_embedding_cache_hits", "Chunk texts whose vector "
                                  "came from the embedding cache", value=totals.hits)
        yield CounterMetricFamily("docchat_embedding_cache_misses", "Chunk texts embedded (and "
                                  "added to the cache)", value=totals.misses)
        yield GaugeMetricFamily("docchat_embedding_cache_bytes", "What the embedding cache's "
                                "rows take, as counted against DOCCHAT_EMBEDDING_CACHE_MB",
                                value=totals.bytes)
