"""The worker's indexing: uploads parsed by different tasks are embedded together.

A document's own task parses and chunks it (retrieval.search.indexing.prepare_document); its
chunk rows then await vectors. While more uploads are queued and fewer than `BATCH_TEXTS`
texts wait, the task leaves them waiting: a later task embeds them with its own, in one pass
through the model. Encoding each document on its own cost 5-10% more CPU than one call over
the same texts on this machine (small documents make small, ragged batches; a text two
documents share, indexed at the same time, was embedded twice), and a GPU gains more from
larger batches. With nothing queued, the waiting texts are shared out between the worker's
processes, so that none idles while another embeds the tail.

No document waits for long, or forever: the task that leaves one waiting queues a safety net
(`embed_waiting` for it, due in `WAIT_LIMIT_S`), which embeds it if nobody has, or comes back
later while a live task holds it. A claim outlives its task's hard time limit (`claim_lease`),
after which its documents are free again; a task tried again takes back what it held.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from retrieval.search.indexing import Parts, embed_documents, prepare_document
from retrieval.storage.awaiting import AwaitingVectors

# Texts waiting that make a batch worth embedding while more uploads are queued, and the most a
# claim takes then (a larger document alone): about 8 CPU-seconds of the bundled model here.
# Larger batches save little more, and a long batch started just before the queue runs dry
# leaves the other processes idle at the end.
BATCH_TEXTS = 256
# Seconds a document left waiting waits at most before its safety net embeds it (if no later
# upload's task did).
WAIT_LIMIT_S = 30.0
# A claim is held this much longer than a task may run: the worker kills a task 60 s after its
# soft time limit (workers.celery_app.HARD_LIMIT_GRACE), so a claim older than this belongs to a
# dead task.
LEASE_GRACE_S = 180.0


def claim_lease(runtime: Parts) -> float:
    return runtime.settings.task_time_limit + LEASE_GRACE_S


@dataclass(frozen=True)
class Outcome:
    """What a task did: whether its document was left waiting (its safety net is then due),
    the documents it indexed, and whether a live task holds the document it came for."""

    waiting: bool = False
    indexed: tuple[str, ...] = ()
    held_elsewhere: bool = False


Helpers = Callable[[int], None]


def index_or_leave_waiting(runtime: Parts, document_id: str, claim: str,
                           helpers: Helpers) -> Outcome:
    """The ingest task's work for one upload: parse and chunk it, then embed it now with what
    else waits, or leave it waiting for a later task while more uploads are queued and too few
    texts wait to make a batch. `claim`: the task's name (the same on a retry); `helpers(n)`
    asks for n tasks to embed shares of the tail (nothing queued, more waiting than this
    process's share), before this one embeds its own."""
    # None: nothing of its own to embed (it failed, was deleted or is indexed already); what
    # others left waiting for it is still this task's to embed once nothing is queued.
    own = document_id if prepare_document(runtime, document_id) is not None else None
    waiting = AwaitingVectors(runtime.store).waiting(claim, claim_lease(runtime))
    if waiting.queued and waiting.texts < BATCH_TEXTS:
        return Outcome(waiting=own is not None)
    if not waiting.texts:
        return Outcome()
    return _embed_share(runtime, claim, waiting.queued, waiting.texts, own, helpers,
                        runtime.settings.worker_concurrency)


def embed_waiting(runtime: Parts, document_id: str | None, claim: str,
                  helpers: Helpers) -> Outcome:
    """A safety net, or a helper with the tail: embed `document_id` (if it still waits and no
    live task holds it) with what else waits, or a share of what waits (None)."""
    awaiting = AwaitingVectors(runtime.store)
    lease = claim_lease(runtime)
    if document_id is not None:
        wait = awaiting.wait_of(document_id)
        if wait is None:
            return Outcome()  # indexed, failed, deleted or started over
        if wait.held_by_another(claim, lease):
            return Outcome(held_elsewhere=True)
    waiting = awaiting.waiting(claim, lease)
    if not waiting.texts and document_id is None:
        return Outcome()
    # A helper shares the tail with the other processes but the one that asked for it.
    sharing = runtime.settings.worker_concurrency - (1 if document_id is None else 0)
    return _embed_share(runtime, claim, waiting.queued, waiting.texts, document_id, helpers,
                        sharing)


def _embed_share(runtime: Parts, claim: str, queued: int, texts: int, first: str | None,
                 helpers: Helpers, sharing: int) -> Outcome:
    """Claim `first` and what waits longest, a batch while uploads are queued, else a share
    of the `texts` waiting (split between `sharing` processes); ask for helpers for what is
    left with nothing queued; embed what was claimed."""
    awaiting, lease = AwaitingVectors(runtime.store), claim_lease(runtime)
    processes = max(1, runtime.settings.worker_concurrency)
    share = BATCH_TEXTS if queued else max(1, math.ceil(texts / max(1, sharing)))
    claimed = awaiting.claim(claim, lease, share, first=first)
    if not claimed:
        return Outcome()
    if not queued:
        left = awaiting.waiting(claim, lease).texts
        if left:
            helpers(min(processes - 1, math.ceil(left / share)))
    return Outcome(indexed=tuple(embed_documents(runtime, claimed, claim)))
