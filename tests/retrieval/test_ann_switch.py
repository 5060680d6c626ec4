"""DOCCHAT_INDEX_TYPE=auto: past DOCCHAT_APPROXIMATE_FROM chunks the index is rebuilt as ivfflat
in the background; searches and uploads go on with the flat one until the atomic switch, and
GET /api/index says which type serves and whether a switch is under way."""

from __future__ import annotations

import dataclasses
import fcntl
import os
import subprocess
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from jsonschema import Draft202012Validator

from retrieval.core.settings import Settings
from retrieval.runtime import Runtime
from retrieval.search.indexing import delete_document, index_document
from retrieval.search.rebuild import (
    index_switch,
    index_switch_due,
    switch_index_type,
    switching,
)
from tests.conftest import EVAL_PDFS, EVERYTHING, REPO, TEST_DATA, store_upload, wait_until

NTSB = sorted((EVAL_PDFS / "ntsb").glob("*.pdf"))
QUERY = "probable cause of the accident"


def indexed(runtime: Runtime, path: Path, collection: str = "default") -> str:
    record = store_upload(runtime, path, collection=collection)
    index_document(runtime, record.id)
    assert runtime.store.get_document(record.id).status == "indexed"
    return record.id


def chunk_ids(runtime: Runtime) -> list[int]:
    return sorted(runtime.index.open_for_build().ids().tolist())


def test_below_the_threshold_or_with_another_type_nothing_is_switched(tmp_path,
                                                                      embedder) -> None:
    runtime = Runtime(Settings(data_dir=tmp_path / "data", approximate_from=10_000),
                      embedder=embedder)
    indexed(runtime, NTSB[0])
    assert not index_switch_due(runtime)
    assert switch_index_type(runtime) == "current"
    exact = Runtime(dataclasses.replace(runtime.settings, index_type="flat",
                                        approximate_from=1), embedder=embedder)
    assert switch_index_type(exact) == "off"
    assert runtime.index.served_type == "flat"


def test_past_the_threshold_the_index_is_rebuilt_while_searches_and_uploads_go_on(
        tmp_path, embedder) -> None:
    runtime = Runtime(Settings(data_dir=tmp_path / "data", approximate_from=60),
                      embedder=embedder)
    first = indexed(runtime, NTSB[0])
    doomed = indexed(runtime, NTSB[1])
    while len(runtime.index) < 80:  # past the threshold, with points for every list
        indexed(runtime, NTSB[len(runtime.store.all_chunk_ids()) % len(NTSB)])
    assert index_switch_due(runtime)
    before = [h.chunk_id for h in runtime.retriever.search(QUERY, 5, EVERYTHING)]
    late: list[str] = []

    def meanwhile() -> None:
        # Built, not yet switched: searches read the flat index, the switch shows as under way,
        # and uploads and deletions go on.
        assert runtime.index.served_type == "flat"
        switch = index_switch(runtime.settings)
        assert switch is not None and switch.to == "ivfflat" and switch.vectors >= 80
        assert [h.chunk_id for h in runtime.retriever.search(QUERY, 5, EVERYTHING)] == before
        late.append(indexed(runtime, TEST_DATA / "standup.vtt", "late"))
        assert delete_document(runtime, doomed)

    assert switch_index_type(runtime, on_built=meanwhile) == "switched"
    assert runtime.index.served_type == "ivfflat" and index_switch(runtime.settings) is None
    # Exactly one vector per chunk row: the late meeting is in, the deleted report is out.
    assert chunk_ids(runtime) == runtime.store.all_chunk_ids()
    assert runtime.retriever.search("send the deck to the client", 3,
                                    EVERYTHING)[0].document_id == late[0]
    assert doomed not in {h.document_id for h in runtime.retriever.search(QUERY, 20,
                                                                          EVERYTHING)}
    # The new type takes uploads and deletions like the flat one did.
    assert delete_document(runtime, first)
    indexed(runtime, NTSB[-1])
    assert chunk_ids(runtime) == runtime.store.all_chunk_ids()
    assert runtime.index.served_type == "ivfflat"
    assert switch_index_type(runtime) == "current"


@pytest.mark.needs_worker
def test_a_worker_switches_in_the_background_once_an_upload_crosses_the_threshold(
        tmp_path, embedder, bare_settings: Settings, redis_url: str) -> None:
    from workers import create_celery, worker_command
    from workers.celery_app import INGEST_TASK

    settings = dataclasses.replace(bare_settings, data_dir=tmp_path / "data",
                                   redis_url=redis_url,
                                   queue=f"docchat-test-{uuid.uuid4().hex[:8]}")
    runtime = Runtime(settings, embedder=embedder)
    for path in NTSB[:6]:
        indexed(runtime, path)
    # The worker's threshold: one more chunk than the index holds before its upload.
    settings = dataclasses.replace(settings, approximate_from=len(runtime.index) + 1)
    runtime = Runtime(settings, embedder=embedder)
    log_path = tmp_path / "worker.log"
    with open(log_path, "ab") as log:
        worker = subprocess.Popen(
            worker_command(settings, "--loglevel", "INFO",
                           "--hostname", f"ann-{uuid.uuid4().hex[:6]}@%h"),
            env={**os.environ, **settings.to_env()}, cwd=REPO, stdout=log,
            stderr=subprocess.STDOUT)
    celery = create_celery(settings)
    try:
        wait_until(lambda: worker.poll() is not None or celery.control.ping(timeout=0.5), 90,
                   what="the Celery worker to answer a ping")
        assert worker.poll() is None, log_path.read_text()[-3000:]
        crossing = store_upload(runtime, NTSB[6])
        celery.send_task(INGEST_TASK, args=[crossing.id])
        served: list[str] = []

        def switched() -> bool:
            # Searches answer all along, from whichever index serves at the moment.
            assert runtime.retriever.search(QUERY, 5, EVERYTHING)
            served.append(runtime.index.served_type)
            return served[-1] == "ivfflat"

        wait_until(switched, 180, interval=0.1, what="the switch to ivfflat")
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    assert "flat" in served  # it served the flat index first...
    assert served.index("ivfflat") == len(served) - 1  # ...and switched once, for good
    assert runtime.store.get_document(crossing.id).status == "indexed"
    assert chunk_ids(runtime) == runtime.store.all_chunk_ids()
    assert "switch_index_type" in log_path.read_text()


def test_the_index_status_says_which_type_serves_and_whether_a_switch_runs(tmp_path) -> None:
    from web import create_app

    settings = Settings(data_dir=tmp_path / "data")
    client = create_app(settings).test_client()
    spec: dict[str, Any] = client.get("/api/openapi.json").get_json()
    schema = Draft202012Validator(
        {"$ref": "#/components/schemas/IndexStatus", "components": spec["components"]})
    status = client.get("/api/index").get_json()
    assert (status["index_type"], status["configured_index_type"]) == ("flat", "auto")
    assert status["index_switch"] is None
    with switching(settings, 250_000):
        during = client.get("/api/index").get_json()
    assert during["index_switch"]["to"] == "ivfflat"
    assert during["index_switch"]["vectors"] == 250_000
    assert client.get("/api/index").get_json()["index_switch"] is None
    assert [e.message for s in (status, during) for e in schema.iter_errors(s)] == []


def test_a_switch_delivered_again_while_one_runs_returns_busy(tmp_path, embedder) -> None:
    runtime = Runtime(Settings(data_dir=tmp_path / "data", approximate_from=100),
                      embedder=embedder)
    vectors = np.random.default_rng(0).standard_normal((200, 384)).astype(np.float32)
    with runtime.index.writing() as writer:
        writer.add(list(range(1, 201)), vectors / np.linalg.norm(vectors, axis=1,
                                                                 keepdims=True))
    assert index_switch_due(runtime)
    with open(runtime.settings.rebuild_lock_path, "a+") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # another worker's switch (or model rebuild) runs
        assert switch_index_type(runtime) == "busy"
    assert runtime.index.served_type == "flat"
    assert switch_index_type(runtime) == "switched"
    assert runtime.index.served_type == "ivfflat" and len(runtime.index) == 200
