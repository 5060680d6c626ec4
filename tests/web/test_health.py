"""GET /healthz and GET /readyz: liveness always, readiness only when the broker, the store
and index, and the LLM server all answer, each failure named with what to check."""

from __future__ import annotations

from pathlib import Path

import pytest

from retrieval.core.settings import Settings
from retrieval.search.spaces import model_key
from tests.conftest import free_port, store_upload, text_pdf
from web import create_app


def dead_url() -> str:
    """An address on this machine where nothing listens."""
    return f"http://127.0.0.1:{free_port()}/v1"


def probe(settings: Settings, path: str = "/readyz"):
    return create_app(settings).test_client().get(path)


def test_dead_llm_makes_readyz_503_naming_the_llm_while_healthz_stays_200(tmp_path) -> None:
    settings = Settings(data_dir=tmp_path / "data", llm_base_url=dead_url())
    client = create_app(settings).test_client()

    alive = client.get("/healthz")
    assert alive.status_code == 200 and alive.get_json() == {"status": "ok"}

    ready = client.get("/readyz")
    assert ready.status_code == 503
    body = ready.get_json()
    assert body["status"] == "unavailable"
    llm = body["checks"]["llm"]
    assert llm["ok"] is False
    assert settings.llm_url in llm["error"] and "DOCCHAT_LLM_BASE_URL" in llm["error"]
    # Only the LLM is down: the embedded broker and the fresh store are fine.
    assert body["checks"]["broker"]["ok"] is True
    assert body["checks"]["store"]["ok"] is True


def test_readyz_is_200_with_redis_and_the_real_llm_server(tmp_path, redis_url, llm_url) -> None:
    settings = Settings(data_dir=tmp_path / "data", redis_url=redis_url, llm_base_url=llm_url)
    ready = probe(settings)
    assert ready.status_code == 200, ready.get_json()
    checks = ready.get_json()["checks"]
    assert set(checks) == {"broker", "store", "llm"}
    assert all(check["ok"] for check in checks.values()), checks
    assert "Redis" in checks["broker"]["detail"]


def test_unreachable_redis_makes_readyz_503_naming_the_broker(tmp_path, llm_url) -> None:
    redis_url = f"redis://:secret@127.0.0.1:{free_port()}/0"
    ready = probe(Settings(data_dir=tmp_path / "data", redis_url=redis_url,
                           llm_base_url=llm_url))
    assert ready.status_code == 503
    checks = ready.get_json()["checks"]
    assert checks["broker"]["ok"] is False and "Redis" in checks["broker"]["error"]
    assert "secret" not in checks["broker"]["error"], "the broker password leaked"
    assert checks["llm"]["ok"] is True


def test_a_model_the_server_does_not_list_is_pointed_out(tmp_path, llm_url) -> None:
    """Reported, not failed: llama.cpp's own server answers under any model name."""
    ready = probe(Settings(data_dir=tmp_path / "data", llm_base_url=llm_url,
                           llm_model="no-such-model"))
    assert ready.status_code == 200
    detail = ready.get_json()["checks"]["llm"]["detail"]
    assert "no-such-model" in detail and "DOCCHAT_LLM_MODEL" in detail


def test_indexed_documents_without_their_index_file_are_not_ready(tmp_path) -> None:
    settings = Settings(data_dir=tmp_path / "data", llm_base_url=dead_url())
    app = create_app(settings)
    runtime = app.extensions["docchat"]
    pdf = tmp_path / "one.pdf"
    pdf.write_bytes(text_pdf([["One page."]]))
    record = store_upload(runtime, pdf)
    runtime.store.mark_indexed(record.id, chunks=1)
    assert not settings.index_path(model_key(settings.embedding_model)).exists()

    store = app.test_client().get("/readyz").get_json()["checks"]["store"]
    assert store["ok"] is False
    assert "1 documents are indexed" in store["error"] and "index file" in store["error"]


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_probes_need_no_login(tmp_path: Path, path: str) -> None:
    """Load balancers probe without an account, even when people must log in (/metrics needs
    an administrator or the scrape token then: tests/web/test_security.py)."""
    settings = Settings(data_dir=tmp_path / "data", llm_base_url=dead_url(), auth="required")
    answer = probe(settings, path)
    assert answer.status_code in (200, 503), (answer.status_code, answer.get_data()[:200])
    if path != "/readyz":
        assert answer.status_code == 200


def test_metrics_need_no_login_in_embedded_mode(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", llm_base_url=dead_url())
    answer = probe(settings, "/metrics")
    assert answer.status_code == 200 and b"docchat_documents" in answer.data


def test_readyz_tells_strangers_only_ok_or_not_when_logins_are_on(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", llm_base_url=dead_url(), auth="required")
    checks = probe(settings, "/readyz").get_json()["checks"]
    assert checks["llm"] == {"ok": False}  # no URL, path or count for an unauthenticated caller
