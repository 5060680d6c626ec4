"""GET /healthz (the process answers) and GET /readyz (it can do its work: the broker, the store
and index, the LLM server). For load balancers and orchestrators; no login, nothing loaded."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from flask import Blueprint, Response, g, jsonify

from retrieval.llm.client import LLMUnavailable, list_models
from retrieval.runtime import Runtime
from retrieval.search.spaces import model_key
from retrieval.storage.library_stats import library_stats
from web.context import current_runtime
from web.identity import is_admin
from workers.queue_status import BrokerUnavailable, queue_depth

bp = Blueprint("health", __name__)

# Seconds each check may wait: a readiness probe must answer before its own timeout.
CHECK_TIMEOUT = 2.0


class NotReady(Exception):
    """A check failed; the message says what and, where it can, what to do."""


@bp.get("/healthz")
def healthz() -> Response:
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz() -> tuple[Response, int]:
    """200 when every check passes, else 503; each check as {"ok", "detail"} or {"ok", "error"}."""
    runtime = current_runtime()
    checks: dict[str, Callable[[Runtime], str]] = {
        "broker": check_broker, "store": check_store, "llm": check_llm}
    results: dict[str, dict[str, object]] = {}
    for name, check in checks.items():
        try:
            results[name] = {"ok": True, "detail": check(runtime)}
        except NotReady as exc:
            results[name] = {"ok": False, "error": str(exc)}
    ready = all(result["ok"] for result in results.values())
    if runtime.settings.login_required and not is_admin(g.get("principal")):
        # Probes need no login, but only administrators see paths, counts and hosts (they
        # count every workspace's documents): the others get ok or not.
        results = {name: {"ok": result["ok"]} for name, result in results.items()}
    return jsonify({"status": "ready" if ready else "unavailable", "checks": results}), (
        200 if ready else 503)


def check_broker(runtime: Runtime) -> str:
    settings = runtime.settings
    try:
        depth = queue_depth(settings)
    except BrokerUnavailable as exc:
        raise NotReady(str(exc)) from exc
    broker = "embedded SQLite broker" if settings.embedded_broker else "Redis"
    return f"{broker}: {depth} tasks waiting in {settings.queue}"


def check_store(runtime: Runtime) -> str:
    """The document database answers a query, and the active index file (once there is one)
    can be opened; the index itself is not loaded."""
    settings = runtime.settings
    try:
        runtime.store  # noqa: B018 - creates the database of a fresh install, as any request would
        stats = library_stats(settings.database_path, CHECK_TIMEOUT)
        active = runtime.spaces.active_model()
    except sqlite3.Error as exc:
        raise NotReady(f"the document database {settings.database_path} cannot be read: "
                       f"{exc}") from exc
    index = settings.index_path(model_key(active))
    indexed = stats.by_status["indexed"]
    if not index.exists():
        if indexed:
            raise NotReady(f"{indexed} documents are indexed but the index file {index} is "
                           "missing: check DOCCHAT_DATA_DIR is the folder the workers write to")
        return f"{stats.documents} documents, no index yet"
    try:
        with open(index, "rb") as handle:
            handle.read(1)
    except OSError as exc:
        raise NotReady(f"the index file {index} cannot be read: {exc}") from exc
    return f"{stats.documents} documents ({indexed} indexed), index {index.name}"


def check_llm(runtime: Runtime) -> str:
    """The LLM server lists its models (GET /v1/models, cheap on every server). A listing
    without the configured model is reported but passes: some servers (llama.cpp's) answer
    under any model name."""
    settings = runtime.settings
    try:
        served = [model.id for model in list_models(settings.llm_url, settings.llm_api_key,
                                                    CHECK_TIMEOUT)]
    except LLMUnavailable as exc:  # says what failed: a status, no answer, or not JSON
        raise NotReady(str(exc)) from exc
    if settings.llm_model not in served:
        return (f"{settings.llm_url} answers but does not list {settings.llm_model!r} (it lists "
                f"{served}): if answers fail, check DOCCHAT_LLM_MODEL")
    return f"{settings.llm_url} serves {settings.llm_model}"
