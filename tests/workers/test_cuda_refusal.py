"""A worker told to embed on cuda (DOCCHAT_EMBEDDING_DEVICE=cuda) where CUDA does not work
refuses to start, saying what is wrong and what to do, and takes no task: the uploads stay in
the queue for a worker that can embed them instead of failing as internal errors.

This machine has no GPU and a CPU-only torch: CUDA does not work here, for real."""

from __future__ import annotations

import os
import subprocess

from retrieval.core.settings import Settings
from retrieval.runtime import Runtime
from tests.conftest import REPO, TEST_DATA, store_upload
from workers import INGEST_TASK, create_celery, worker_command
from workers.queue_status import queue_depth
from workers.tasks import EXIT_NO_CUDA


def test_a_cuda_worker_without_cuda_exits_with_the_reason_and_takes_no_task(tmp_path) -> None:
    settings = Settings(data_dir=tmp_path / "data", embedding_device="cuda",
                        worker_concurrency=1)
    record = store_upload(Runtime(settings), TEST_DATA / "notes.md")
    create_celery(settings).send_task(INGEST_TASK, args=[record.id], ignore_result=True)
    assert queue_depth(settings) == 1

    log_path = tmp_path / "worker.log"
    with open(log_path, "wb") as log:
        worker = subprocess.Popen(
            worker_command(settings, "--loglevel", "INFO"), cwd=REPO,
            env={**os.environ, **settings.to_env()}, stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        code = worker.wait(timeout=120)
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, 9)
            worker.wait(timeout=30)
    said = log_path.read_text(errors="replace")
    assert code == EXIT_NO_CUDA, said[-3000:]
    assert ("this worker stops without taking a task. DOCCHAT_EMBEDDING_DEVICE=cuda, but CUDA "
            "does not work here: the installed torch") in said
    assert "make install-gpu" in said and "DOCCHAT_EMBEDDING_DEVICE=auto" in said
    assert queue_depth(settings) == 1
    document = Runtime(settings).store.get_document(record.id)
    assert document is not None and document.status == "queued"
