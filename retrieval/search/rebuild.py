"""Rebuild the vector index after the embedding model changed, while search goes on.

The new model's index fills beside the active one from the chunk texts in SQLite (no file is
parsed again), with checkpoints, so a killed rebuild resumes where it stopped. Its vectors go
through the embedding cache under the new model's key: they miss and fill it, and the old
model's rows are deleted at the switch. Searches keep
using the old model and index until the end; then, under the index write lock, the rebuild
catches up with what changed meanwhile (documents indexed or deleted), saves, and switches.
"""

from __future__ import annotations

import fcntl
import logging
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from retrieval.search.faiss_index import IndexWriter
from retrieval.search.indexing import EmbedTally, Parts, embed_texts, usable_cache
from retrieval.search.spaces import VectorSpace, model_label
from retrieval.storage.embedding_cache import EmbeddingCache

log = logging.getLogger(__name__)

BATCH = 1024


@contextmanager
def _try_lock(path: Path) -> Iterator[bool]:
    """True inside when this process holds the lock; False when another one does."""
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def rebuild_index(runtime: Parts, *, batch: int = BATCH, checkpoint_seconds: float = 60.0,
                  on_batch: Callable[[int, int], None] | None = None) -> str:
    """Make the configured embedding model the one that serves searches.

    Returns "current" (it already is), "busy" (another process is rebuilding) or "switched".
    `on_batch(done, total)` is called after every batch.
    """
    spaces, store = runtime.spaces, runtime.store
    target = spaces.configured
    runtime.settings.data_dir.mkdir(parents=True, exist_ok=True)
    with _try_lock(runtime.settings.rebuild_lock_path) as mine:
        if not mine:
            return "busy"
        old = spaces.active_model()
        if old == target:
            return "current"
        try:
            space = spaces.space(target)
            writer = space.index.open_for_build()
        except Exception as exc:
            store.fail_rebuild(target, f"the embedding model {model_label(target)} could not be "
                                       f"loaded ({exc}); fix DOCCHAT_EMBEDDING_MODEL")
            raise
        cache, tally = usable_cache(runtime), EmbedTally()
        _fill(runtime, space, writer, batch, checkpoint_seconds, on_batch, cache, tally)
        with spaces.writing():  # no index write can happen between the catch-up and the switch
            _catch_up(runtime, space, writer, cache, tally)
            space.index.commit(writer)
            store.switch_model(target)
        spaces.space(old).index.path.unlink(missing_ok=True)
        log.info("searches now use %s (%d vectors; %d texts embedded, %d from the cache)",
                 model_label(target), writer.index.ntotal, tally.embedded, tally.cached)
        _forget_other_models(cache, target)
        return "switched"


def _forget_other_models(cache: EmbeddingCache | None, model: str) -> None:
    """Delete the cached vectors of the models no index uses any more. Keyed by model they
    could never be returned wrongly, and eviction would reach them in time, but they would
    hold room in the size bound until then; a model switch is rare, so deleting them here
    costs one statement now and then."""
    if cache is None:
        return
    try:
        gone = cache.keep_only(model)
    except sqlite3.Error as exc:
        log.warning("the old model's cached vectors stay (eviction will reach them): %s", exc)
    else:
        log.info("embedding cache: %d vectors of other models deleted", gone)


def _fill(runtime: Parts, space: VectorSpace, writer: IndexWriter, batch: int,
          checkpoint_seconds: float, on_batch: Callable[[int, int], None] | None,
          cache: EmbeddingCache | None, tally: EmbedTally) -> None:
    store = runtime.store
    held = set(writer.ids().tolist())
    todo = [i for i in store.all_chunk_ids() if i not in held]
    done, total = len(held), len(held) + len(todo)
    store.begin_rebuild(space.model, done, total)
    log.info("rebuilding the index for %s: %d of %d chunks to embed",
             model_label(space.model), len(todo), total)
    saved = time.monotonic()
    for first in range(0, len(todo), batch):
        _embed_into(space, writer, store.chunk_texts(todo[first:first + batch]), cache, tally)
        done = min(done + batch, total)
        store.rebuild_progress(done)
        if time.monotonic() - saved >= checkpoint_seconds:
            space.index.commit(writer)
            saved = time.monotonic()
        if on_batch is not None:
            on_batch(done, total)


def _catch_up(runtime: Parts, space: VectorSpace, writer: IndexWriter,
              cache: EmbeddingCache | None, tally: EmbedTally) -> None:
    """Add the chunks written since the fill and drop those deleted meanwhile."""
    wanted = runtime.store.all_chunk_ids()
    held = writer.ids()
    writer.remove_ids(held[~np.isin(held, wanted)].tolist())
    missing = sorted(set(wanted) - set(held.tolist()))
    for first in range(0, len(missing), BATCH):
        _embed_into(space, writer, runtime.store.chunk_texts(missing[first:first + BATCH]),
                    cache, tally)


def _embed_into(space: VectorSpace, writer: IndexWriter, texts: dict[int, tuple[str, str]],
                cache: EmbeddingCache | None, tally: EmbedTally) -> None:
    """Add the vectors of chunks given as id -> (workspace, text), each workspace's texts
    looked up in the cache under its own key."""
    by_workspace: dict[str, list[int]] = {}
    for i in sorted(texts):
        by_workspace.setdefault(texts[i][0], []).append(i)
    for workspace, ids in by_workspace.items():
        writer.add(ids, embed_texts(cache, space, [texts[i][1] for i in ids], tally, workspace))
