"""A new embedding model: the index is rebuilt beside the old one, which serves until the end."""

from __future__ import annotations

import dataclasses

import pytest

from retrieval.runtime import Runtime
from retrieval.search.indexing import delete_document, index_document
from retrieval.search.rebuild import rebuild_index
from retrieval.search.spaces import model_key
from tests.conftest import EVAL_PDFS, EVERYTHING, TEST_DATA, store_upload

NTSB = EVAL_PDFS / "ntsb"


@pytest.fixture(scope="module")
def other_model(tmp_path_factory) -> str:
    """A second, genuinely different model on disk: the bundled encoder with CLS pooling and a
    128-dimensional projection (so the index dimension changes too)."""
    import torch
    from sentence_transformers import SentenceTransformer, models

    from retrieval.search.embeddings import bundled_model_path

    torch.manual_seed(0)
    encoder = models.Transformer(str(bundled_model_path()), max_seq_length=256)
    pooling = models.Pooling(384, pooling_mode="cls")  # all-MiniLM-L6-v2's width
    dense = models.Dense(384, 128,
                         activation_function=torch.nn.Identity())
    path = tmp_path_factory.mktemp("models") / "minilm-cls-128"
    SentenceTransformer(modules=[encoder, pooling, dense, models.Normalize()],
                        device="cpu").save(str(path))
    return str(path)


def indexed(runtime: Runtime, path, collection: str = "default") -> str:
    record = store_upload(runtime, path, collection=collection)
    index_document(runtime, record.id)
    assert runtime.store.get_document(record.id).status == "indexed"
    return record.id


def test_search_serves_the_old_index_until_the_new_one_is_complete(runtime, other_model):
    first = indexed(runtime, NTSB / "20080104X00020.pdf")
    doomed = indexed(runtime, NTSB / "20080111X00040.pdf")
    old_key = model_key("")
    assert runtime.settings.index_path(old_key).exists()
    # The same data directory, now configured with another model (as after a restart).
    after = Runtime(dataclasses.replace(runtime.settings, embedding_model=other_model))
    assert after.spaces.needs_rebuild() and after.embedder.dim == 384
    query = "probable cause of the accident"
    before = [h.chunk_id for h in after.retriever.search(query, 5, EVERYTHING)]
    assert before
    seen: list[tuple[int, int]] = []
    late: list[str] = []

    def meanwhile(done: int, total: int) -> None:
        seen.append((done, total))
        if len(seen) == 1:
            # Mid-rebuild: search still answers from the old model's index...
            assert [h.chunk_id for h in after.retriever.search(query, 5, EVERYTHING)] == before
            state = after.store.rebuild_state()
            assert state is not None and state.total == total and state.error is None
            # ...and workers go on indexing and deleting with the old model.
            late.append(indexed(runtime, TEST_DATA / "standup.vtt", "late"))
            assert delete_document(runtime, doomed)

    assert rebuild_index(after, batch=16, on_batch=meanwhile) == "switched"
    assert len(seen) > 1 and seen[-1][0] == seen[-1][1]
    assert not after.spaces.needs_rebuild() and after.store.rebuild_state() is None
    assert after.embedder.dim == 128 and after.index.dim == 128
    assert not runtime.settings.index_path(old_key).exists()
    # Exactly one vector per chunk row: the late meeting is in, the deleted report is out.
    assert sorted(after.index.open_for_build().ids().tolist()) == after.store.all_chunk_ids()
    hits = after.retriever.search("send the deck to the client", 3, EVERYTHING)
    assert hits[0].document_id == late[0]
    found = after.retriever.search(query, 20, EVERYTHING)
    assert {h.document_id for h in found} <= {first, late[0]}
    # The runtime still configured with the old model follows the switch, and indexes with
    # the new model from now on.
    assert runtime.embedder.dim == 128
    indexed(runtime, NTSB / "20080116X00055.pdf")
    assert sorted(after.index.open_for_build().ids().tolist()) == after.store.all_chunk_ids()


def test_an_interrupted_rebuild_resumes_without_duplicates(runtime, other_model):
    indexed(runtime, NTSB / "20080104X00020.pdf")
    after = Runtime(dataclasses.replace(runtime.settings, embedding_model=other_model))

    def crash(done: int, total: int) -> None:
        if done >= 8:
            raise KeyboardInterrupt("worker killed")

    with pytest.raises(KeyboardInterrupt):
        rebuild_index(after, batch=4, checkpoint_seconds=0, on_batch=crash)
    assert after.spaces.needs_rebuild()  # still the old model
    partial = after.spaces.space(other_model).index.open_for_build().ids()
    assert len(partial) == 8
    resumed: list[int] = []
    again = Runtime(after.settings)
    assert rebuild_index(again, batch=4, on_batch=lambda d, t: resumed.append(d)) == "switched"
    assert resumed[0] == 12  # went on from the checkpoint
    assert sorted(again.index.open_for_build().ids().tolist()) == again.store.all_chunk_ids()
    assert rebuild_index(again) == "current"


def test_a_model_that_cannot_load_is_reported_and_search_goes_on(runtime, tmp_path):
    indexed(runtime, NTSB / "20080104X00020.pdf")
    broken = Runtime(dataclasses.replace(runtime.settings,
                                         embedding_model=str(tmp_path / "no-such-model")))
    with pytest.raises(Exception):  # noqa: B017 - whatever sentence-transformers raises
        rebuild_index(broken)
    state = broken.store.rebuild_state()
    assert state is not None and "could not be loaded" in state.error
    assert broken.retriever.search("probable cause", 3, EVERYTHING)
