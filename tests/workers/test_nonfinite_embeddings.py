"""An upload whose embeddings come out NaN (a model that overflows in fp16) fails with a message
that says it is the server's setting, not the file, and nothing of it reaches the index. The
ingest task runs eagerly over the real runtime, model and index."""

from __future__ import annotations

from pathlib import Path

import torch

from retrieval.core.settings import Settings
from tests.conftest import TEST_DATA, store_upload
from workers import create_celery
from workers.celery_app import INGEST_TASK, _runtimes, runtime_for


def test_an_upload_with_nan_embeddings_fails_naming_the_setting_and_indexes_nothing(
        tmp_path: Path) -> None:
    import workers.tasks  # noqa: F401 - registers the tasks

    # One process: the last upload's task embeds every document waiting, not its share.
    celery = create_celery(Settings(data_dir=tmp_path / "data", embedding_device="cpu",
                                    embedding_precision="fp16", worker_concurrency=1))
    runtime = runtime_for(celery)
    try:
        overflow_and_ingest(celery, runtime)
    finally:  # no later app that gets this one's id may find the broken model
        _runtimes.pop(id(celery), None)


def overflow_and_ingest(celery, runtime) -> None:  # type: ignore[no-untyped-def]
    weights = next(p for name, p in runtime.embedder.model.named_parameters()
                   if name.endswith("word_embeddings.weight"))
    with torch.no_grad():
        weights.mul_(1e5)  # past fp16's largest number: the model now overflows
    record = store_upload(runtime, TEST_DATA / "notes.md")

    assert celery.tasks[INGEST_TASK].apply(args=[record.id]).get() == "failed"
    failed = runtime.store.get_document(record.id)
    assert failed is not None and failed.error_code == "embedding_not_finite"
    assert "not from your file" in failed.error_message
    assert "DOCCHAT_EMBEDDING_PRECISION=fp32" in failed.error_message
    assert len(runtime.index) == 0

    # Two uploads: the first waits for the second's task, which embeds both; both fail with
    # the reason, not only the task's own.
    waiting, last = (store_upload(runtime, TEST_DATA / name) for name in ("notes.md",
                                                                         "handbook.md"))
    assert celery.tasks[INGEST_TASK].apply(args=[waiting.id]).get() == "processing"
    assert celery.tasks[INGEST_TASK].apply(args=[last.id]).get() == "failed"
    for record in (waiting, last):
        failed = runtime.store.get_document(record.id)
        assert failed is not None and failed.error_code == "embedding_not_finite"
    assert len(runtime.index) == 0
