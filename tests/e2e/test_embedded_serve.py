"""The README's serve command on embedded defaults: SQLite broker, its own worker and LLM."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from retrieval.core.settings import Settings
from retrieval.runtime import Runtime
from retrieval.storage.store import DocumentFilter, Store
from tests.conftest import store_upload, wait_until
from tests.processes import docchat_serve

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, ntsb_pdf: Path,
           ) -> Iterator[tuple[str, Path]]:
    data_dir = tmp_path_factory.mktemp("embedded")
    # An upload accepted just before a crash: stored and recorded, but its task never sent.
    stranded = Runtime(Settings(data_dir=data_dir))
    store_upload(stranded, ntsb_pdf, "stranded.pdf")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCCHAT_")}
    with docchat_serve(data_dir, {**env, "DOCCHAT_LLM_MAX_TOKENS": "120"},
                       ready_path="/api/documents") as base:
        yield base, data_dir


def test_embedded_service_uploads_indexes_and_answers_with_citations(served, ntsb_pdf) -> None:
    served, data_dir = served
    page = requests.get(served + "/", timeout=10)  # follows the redirect to the chat page
    assert page.status_code == 200 and 'id="ask-form"' in page.text

    with open(ntsb_pdf, "rb") as handle:
        response = requests.post(f"{served}/api/documents",
                                 files={"file": (ntsb_pdf.name, handle, "application/pdf")},
                                 timeout=30)
    assert response.status_code == 202
    document_id = response.json()["documents"][0]["id"]
    seen: set[str] = set()

    def indexed():
        doc = requests.get(f"{served}/api/documents/{document_id}", timeout=10).json()
        seen.add(doc["status"])
        assert doc["status"] != "failed", doc
        return doc["status"] == "indexed"

    wait_until(indexed, 180, 0.2, what="the embedded worker to index the upload")
    # No Redis in this mode: the queue is a SQLite file in the data directory.
    assert (data_dir / "broker.sqlite").exists()
    assert "indexed" in seen

    with requests.post(f"{served}/api/ask", json={
        "question": "What was the probable cause of the accident?", "stream": True,
    }, stream=True, timeout=120) as answer:
        assert answer.status_code == 200
        assert answer.headers["Content-Type"].startswith("text/event-stream")
        body = answer.text
    events = [block for block in body.split("\n\n") if block.strip()]
    assert events[0].startswith("event: status")  # searching, reading, writing, then the text
    assert any(event.startswith("event: token") for event in events)
    assert events[-1].startswith("event: answer")
    final = json.loads(events[-1].split("data: ", 1)[1])
    # The stranded upload is the same report under another name: either may be cited.
    assert final["citations"], final
    assert {c["filename"] for c in final["citations"]} <= {ntsb_pdf.name, "stranded.pdf"}


def test_upload_stranded_by_a_crash_is_indexed_after_restart(served) -> None:
    _, data_dir = served
    store = Store(Settings(data_dir=data_dir).database_path)
    (stranded,) = [d for d in store.list_documents(DocumentFilter("default"))
                   if d.filename == "stranded.pdf"]

    def indexed() -> bool:
        record = store.get_document(stranded.id)
        assert record is not None and record.status != "failed", record
        return record.status == "indexed"

    wait_until(indexed, 120, 0.3, what="the stranded upload to be indexed")


def test_a_web_page_on_a_rebound_name_cannot_reach_the_local_docchat(served) -> None:
    """DNS rebinding: a page on evil.example whose name re-resolves to 127.0.0.1 is same-origin
    with itself, so the Origin check alone let it list and upload. The Host header gives it
    away: docchat answers only to loopback names (and DOCCHAT_TRUSTED_HOSTS)."""
    base, _ = served
    port = base.rsplit(":", 1)[1]
    rebound = {"Host": f"evil.example:{port}", "Origin": f"http://evil.example:{port}"}
    listed = requests.get(f"{base}/api/documents", headers=rebound, timeout=10)
    assert listed.status_code == 400 and listed.json()["error"]["code"] == "untrusted_host"
    uploaded = requests.post(f"{base}/api/documents", headers=rebound, timeout=10,
                             files={"file": ("x.txt", b"planted")})
    assert uploaded.status_code == 400
    assert requests.get(f"{base}/api/documents", timeout=10,
                        headers={"Host": f"localhost:{port}"}).status_code == 200


def test_the_data_folder_is_owner_only(served) -> None:
    _, data_dir = served
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    store = Store(Settings(data_dir=data_dir).database_path)
    made_by_the_test = {Path(d.stored_path).name for d in store.list_documents(
        DocumentFilter("default")) if d.filename == "stranded.pdf"}
    uploads = [p for p in (data_dir / "uploads").iterdir() if p.name not in made_by_the_test]
    assert uploads
    for path in (data_dir / "docchat.sqlite", data_dir / "broker.sqlite",
                 data_dir / "admin-password", *uploads,
                 *data_dir.glob("index-*.faiss"), *(data_dir / "logs").iterdir()):
        assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, path
