"""Uploads embedded together (retrieval.search.batches), with the real store, index and model:
a document is left waiting only while more uploads are queued, the tail is shared out, a
safety net embeds what nobody took, and a document deleted or started over while it waits
never gets vectors from the batch."""

from __future__ import annotations

import time

import pytest

from retrieval.runtime import Runtime
from retrieval.search import batches
from retrieval.search.indexing import embed_documents, index_document, prepare_document
from retrieval.storage.awaiting import AwaitingVectors
from tests.conftest import EVERYTHING, TEST_DATA, store_upload
from tests.retrieval.test_embedding_cache import CountingEmbedder, counted_runtime

HANDBOOK, NOTES, SUBTITLES = (TEST_DATA / name for name in
                              ("handbook.md", "notes.md", "planning.srt"))


@pytest.fixture()
def counting(embedder) -> CountingEmbedder:
    return CountingEmbedder(embedder)


@pytest.fixture()
def batched(tmp_path, counting) -> Runtime:
    return counted_runtime(tmp_path, counting, worker_concurrency=2)


class Helpers:
    """Records the helpers a task asks for."""

    def __init__(self) -> None:
        self.asked: list[int] = []

    def __call__(self, count: int) -> None:
        self.asked.append(count)


def statuses(runtime: Runtime, *ids: str) -> list[str]:
    return [runtime.store.get_document(i).status for i in ids]


def searchable_documents(runtime: Runtime) -> set[str]:
    hits = runtime.retriever.search("vacation days, the contract, the roadmap", 50, EVERYTHING)
    return {hit.document_id for hit in hits}


def test_uploads_wait_while_more_are_queued_and_the_last_embeds_them_in_shares(
        batched, counting) -> None:
    first, second, third = (store_upload(batched, path).id
                            for path in (HANDBOOK, NOTES, SUBTITLES))
    helpers = Helpers()

    assert batches.index_or_leave_waiting(batched, first, "task:1", helpers).waiting
    assert batches.index_or_leave_waiting(batched, second, "task:2", helpers).waiting
    assert statuses(batched, first, second, third) == ["processing", "processing", "queued"]
    assert counting.texts == []  # nothing embedded yet
    assert searchable_documents(batched) == set()  # stored chunk rows are not searchable
    counting.texts.clear()  # the query's embedding
    awaiting = AwaitingVectors(batched.store)
    waits = [awaiting.wait_of(first), awaiting.wait_of(second)]
    assert all(w is not None and w.texts > 0 and w.claim is None for w in waits)

    # The last upload finds nothing queued: it embeds its share (half, with two processes)
    # in one call and asks for a helper for the rest.
    outcome = batches.index_or_leave_waiting(batched, third, "task:3", helpers)
    assert not outcome.waiting and third in outcome.indexed
    assert helpers.asked == [1]
    assert len(outcome.indexed) < 3
    helper = batches.embed_waiting(batched, None, "task:helper", helpers)
    assert set(outcome.indexed) | set(helper.indexed) == {first, second, third}
    assert statuses(batched, first, second, third) == ["indexed"] * 3

    # Each chunk text was embedded once, in two calls, and every vector is in the index.
    chunks = sum(batched.store.get_document(i).chunks for i in (first, second, third))
    texts = [text for i in (first, second, third)
             for text in batched.store.chunk_texts_of(i)[1]]
    assert sorted(counting.texts) == sorted(set(texts))
    assert len(batched.index) == chunks == len(texts)
    assert all(awaiting.wait_of(i) is None for i in (first, second, third))
    assert searchable_documents(batched) == {first, second, third}


def test_a_batch_is_embedded_once_enough_texts_wait_even_with_uploads_queued(
        batched, counting, monkeypatch) -> None:
    first, second, third = (store_upload(batched, path).id
                            for path in (HANDBOOK, NOTES, SUBTITLES))
    sizes = [len(prepare_chunks(batched, document_id)) for document_id in (first, second)]
    monkeypatch.setattr(batches, "BATCH_TEXTS", sum(sizes))  # the two make a batch
    for document_id in (first, second):
        batched.store.requeue(document_id)
    helpers = Helpers()
    assert batches.index_or_leave_waiting(batched, first, "task:1", helpers).waiting
    outcome = batches.index_or_leave_waiting(batched, second, "task:2", helpers)
    assert set(outcome.indexed) == {first, second}  # past the batch size: both, now
    assert statuses(batched, first, second, third) == ["indexed", "indexed", "queued"]
    assert helpers.asked == []  # uploads are queued: no tail to share


def test_the_last_upload_failing_still_embeds_what_waited_for_it(batched, tmp_path) -> None:
    broken = tmp_path / "broken scan.pdf"
    broken.write_bytes(b"%PDF-1.7\n" + b"\x00garbage" * 200)
    waiting, failing = store_upload(batched, HANDBOOK).id, store_upload(batched, broken).id
    assert batches.index_or_leave_waiting(batched, waiting, "task:1", Helpers()).waiting
    # The queued upload was the last: it fails to parse, and embeds what waited for it
    # instead of leaving it to its safety net.
    outcome = batches.index_or_leave_waiting(batched, failing, "task:2", Helpers())
    assert outcome == batches.Outcome(indexed=(waiting,))
    assert statuses(batched, waiting, failing) == ["indexed", "failed"]


def prepare_chunks(runtime: Runtime, document_id: str) -> list[str]:
    assert prepare_document(runtime, document_id) is not None
    return runtime.store.chunk_texts_of(document_id)[1]


def test_a_safety_net_embeds_a_document_nobody_took(batched) -> None:
    waiting, never_started = (store_upload(batched, path).id for path in (HANDBOOK, NOTES))
    assert batches.index_or_leave_waiting(batched, waiting, "task:1", Helpers()).waiting
    # The queued upload's task never comes (its queue lost it): the safety net does the work.
    outcome = batches.embed_waiting(batched, waiting, "task:net", Helpers())
    assert outcome.indexed == (waiting,)
    assert statuses(batched, waiting, never_started) == ["indexed", "queued"]
    # Once done, another safety net for it does nothing.
    assert batches.embed_waiting(batched, waiting, "task:net2", Helpers()) == batches.Outcome()


def test_a_safety_net_leaves_a_document_a_live_task_holds_until_its_lease_ends(
        batched) -> None:
    document, other = (store_upload(batched, path).id for path in (HANDBOOK, NOTES))
    assert batches.index_or_leave_waiting(batched, document, "task:1", Helpers()).waiting
    awaiting = AwaitingVectors(batched.store)
    assert awaiting.claim("task:busy", batches.claim_lease(batched), 10_000) == [document]

    outcome = batches.embed_waiting(batched, document, "task:net", Helpers())
    assert outcome.held_elsewhere and outcome.indexed == ()
    assert statuses(batched, document) == ["processing"]

    # The holder died (its claim is older than any task may live): the net takes over.
    lease = batches.claim_lease(batched)
    assert lease > batched.settings.task_time_limit + 60  # the worker's hard limit
    with batched.store._connect() as db:
        db.execute("UPDATE awaiting_vectors SET claimed_at = ?", (time.time() - lease - 1,))
    assert batches.embed_waiting(batched, document, "task:net", Helpers()).indexed == (
        document,)
    assert statuses(batched, document, other) == ["indexed", "queued"]


def test_a_task_tried_again_takes_back_what_it_held(batched) -> None:
    held, other = (store_upload(batched, path).id for path in (HANDBOOK, NOTES))
    assert batches.index_or_leave_waiting(batched, held, "task:1", Helpers()).waiting
    awaiting = AwaitingVectors(batched.store)
    lease = batches.claim_lease(batched)
    assert awaiting.claim("task:flusher", lease, 10_000) == [held]
    assert awaiting.claim("task:someone", lease, 10_000) == []  # held: nobody else gets it
    # The flusher's worker died; its task is delivered again under the same id.
    assert awaiting.claim("task:flusher", lease, 10_000) == [held]
    assert awaiting.release("task:flusher") == [held]
    assert awaiting.wait_of(held).claim is None
    assert statuses(batched, other) == ["queued"]


def test_documents_deleted_or_started_over_while_waiting_get_no_vectors(batched) -> None:
    from retrieval.search.indexing import delete_document

    deleted, requeued, kept = (store_upload(batched, path).id
                               for path in (HANDBOOK, NOTES, SUBTITLES))
    for document_id in (deleted, requeued, kept):
        assert prepare_document(batched, document_id) is not None
    awaiting = AwaitingVectors(batched.store)
    claimed = awaiting.claim("task:batch", batches.claim_lease(batched), 10_000)
    assert set(claimed) == {deleted, requeued, kept}
    assert delete_document(batched, deleted)
    batched.store.requeue(requeued)  # a re-index asked for while it waited
    assert embed_documents(batched, claimed, "task:batch") == [kept]
    assert batched.store.get_document(deleted) is None
    assert statuses(batched, requeued, kept) == ["queued", "indexed"]
    assert len(batched.index) == batched.store.get_document(kept).chunks
    assert awaiting.wait_of(requeued) is None


def test_a_document_left_waiting_by_a_crash_is_indexed_once_by_its_rerun(batched) -> None:
    document = store_upload(batched, HANDBOOK).id
    assert prepare_document(batched, document) is not None
    AwaitingVectors(batched.store).claim("task:dead", batches.claim_lease(batched), 10_000)
    # `docchat serve` queues every unfinished upload again; the task starts it over.
    index_document(batched, document)
    done = batched.store.get_document(document)
    assert done.status == "indexed" and len(batched.index) == done.chunks
    assert AwaitingVectors(batched.store).wait_of(document) is None


def test_the_same_text_in_two_workspaces_is_embedded_once_and_cached_for_each(
        batched, counting) -> None:
    mine = store_upload(batched, HANDBOOK, workspace="team-a").id
    theirs = store_upload(batched, HANDBOOK, workspace="team-b").id
    for document_id in (mine, theirs):
        assert prepare_document(batched, document_id) is not None
    claimed = AwaitingVectors(batched.store).claim("task:b", batches.claim_lease(batched),
                                                   10_000)
    assert sorted(embed_documents(batched, claimed, "task:b")) == sorted([mine, theirs])
    texts = batched.store.chunk_texts_of(mine)[1]
    assert sorted(counting.texts) == sorted(set(texts))  # one call, each text once
    counting.texts.clear()
    # Each workspace has its own cached vectors: a re-upload to either embeds nothing.
    for workspace in ("team-a", "team-b"):
        again = store_upload(batched, HANDBOOK, workspace=workspace).id
        index_document(batched, again)
        assert statuses(batched, again) == ["indexed"]
    assert counting.texts == []
