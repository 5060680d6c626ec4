"""Rebuild the vector index while search goes on: for a new embedding model, or as another
index type once `auto` finds it large.

After a model change, the new model's index fills beside the active one from the chunk texts in
SQLite (no file is parsed again), with checkpoints, so a killed rebuild resumes where it
stopped. Its vectors go through the embedding cache under the new model's key: they miss and
fill it, and the old model's rows are deleted at the switch. Searches keep using the old model
and index until the end; then, under the index write lock, the rebuild catches up with what
changed meanwhile (documents indexed or deleted), saves, and switches.

A type switch (`switch_index_type`) needs no embedding: it trains the approximate index on the
flat index's own vectors, catches up the same way, and saves it over the flat one.
"""

from __future__ import annotations

import fcntl
import json
import logging
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from retrieval.core.settings import Settings
from retrieval.search.faiss_index import (
    APPROXIMATE_TYPE,
    TRAINERS,
    IndexWriter,
    all_vectors,
    approximate_due,
    faiss,
)
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


# ---- the background switch of a large `auto` index to APPROXIMATE_TYPE ----

def switch_index_type(runtime: Parts, on_built: Callable[[], None] | None = None) -> str:
    """Rebuild the active index as APPROXIMATE_TYPE when `auto` finds it due (approximate_due),
    while searches and index writes go on with the current one; the new one replaces it in
    one atomic save.

    Returns "off" (DOCCHAT_INDEX_TYPE is not auto), "busy" (another rebuild or switch runs),
    "current" (not due) or "switched". `on_built` is called once the new index is built,
    before the catch-up (a test writes to the old index there).
    """
    settings, spaces = runtime.settings, runtime.spaces
    if settings.index_type != "auto":
        return "off"
    if not spaces.active().index.approximate_due(settings.approximate_from):
        return "current"  # read from the file's first bytes: nothing loaded
    with _try_lock(settings.rebuild_lock_path) as mine:
        if not mine:
            return "busy"
        space = spaces.active()
        saved = space.index.open_for_build()  # a snapshot: writers go on with the file
        if not approximate_due(saved.index, settings.approximate_from):
            return "current"
        ids, vectors = all_vectors(saved.index)
        del saved
        with switching(settings, len(ids)):
            started = time.monotonic()
            built = IndexWriter(TRAINERS[APPROXIMATE_TYPE](vectors, ids), space.index.dim,
                                settings.index_type)
            del vectors
            log.info("%s index of %d vectors built in %.0f s; catching up and switching",
                     APPROXIMATE_TYPE, len(ids), time.monotonic() - started)
            if on_built is not None:
                on_built()
            with spaces.writing() as (current, writer):
                if current.model != space.model:  # cannot happen under the rebuild lock
                    raise RuntimeError("the embedding model changed during an index switch")
                _catch_up_from(writer, built)
                writer.index, writer.changed = built.index, True
        log.info("searches now use an %s index of %d vectors", APPROXIMATE_TYPE,
                 built.index.ntotal)
        return "switched"


def _catch_up_from(current: IndexWriter, built: IndexWriter) -> None:
    """Make `built` hold the vectors `current` holds: drop those deleted since the snapshot,
    add those written since (copied from `current`: nothing is embedded again)."""
    now, then = current.ids(), built.ids()
    built.remove_ids(then[~np.isin(then, now)].tolist())
    new = np.flatnonzero(~np.isin(now, then))
    if len(new):
        inner = faiss.downcast_index(current.index.index)
        if isinstance(inner, faiss.IndexIVF):  # reading vectors by position needs the map
            inner.make_direct_map()
        built.add(now[new].tolist(), inner.reconstruct_batch(new))


@contextmanager
def switching(settings: Settings, vectors: int) -> Iterator[None]:
    """Holds the switch file's lock, with what is being switched written in it, while the
    block runs; the lock goes with the process, so a killed switch never looks under way."""
    with open(settings.index_switch_path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            handle.truncate(0)
            handle.write(json.dumps({"to": APPROXIMATE_TYPE, "vectors": vectors,
                                     "started_at": time.time()}))
            handle.flush()
            yield
        finally:
            handle.truncate(0)
            fcntl.flock(handle, fcntl.LOCK_UN)


@dataclass(frozen=True)
class IndexSwitch:
    """A background switch to another index type, under way."""

    to: str
    vectors: int
    started_at: float

    def to_json(self) -> dict[str, object]:
        return {"to": self.to, "vectors": self.vectors, "started_at": self.started_at}


def index_switch(settings: Settings) -> IndexSwitch | None:
    """The type switch under way in some process, if any (read without disturbing it: a shared
    lock that fails while the switch holds its exclusive one)."""
    try:
        handle = open(settings.index_switch_path, encoding="utf-8")  # noqa: SIM115
    except FileNotFoundError:
        return None
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            try:
                held = json.loads(handle.read() or "{}")
                return IndexSwitch(str(held["to"]), int(held["vectors"]),
                                   float(held["started_at"]))
            except (ValueError, KeyError):  # caught between the lock and the write
                return IndexSwitch(APPROXIMATE_TYPE, 0, time.time())
        fcntl.flock(handle, fcntl.LOCK_UN)
        return None


def index_switch_due(runtime: Parts) -> bool:
    """Whether a worker should queue switch_index_type: `auto`, the active index due, and no
    switch under way already."""
    settings = runtime.settings
    return (settings.index_type == "auto"
            and runtime.spaces.active().index.approximate_due(settings.approximate_from)
            and index_switch(settings) is None)
