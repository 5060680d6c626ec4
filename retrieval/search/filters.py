"""What a search filter allows, resolved once per change of the workspace's chunks.

Every search is one workspace's at least. Resolving a filter to chunk ids is a query over the
workspace's chunk rows (O(its chunks)); with many teams in one index it would run on every
search. Here the ids are kept per (filter, workspace generation): the store bumps a
workspace's generation whenever its searchable chunks change, so a cached answer is exact,
and another team's upload leaves it valid. What each loaded vector index derives from the ids
(their positions in it, a FAISS selector) is kept with them (`AllowedIds.derived`).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np

from retrieval.storage.store import ChunkFilter, Store

T = TypeVar("T")

# Filters kept at most (their ids and what indexes derived from them count against
# DOCCHAT_FILTER_CACHE_MB as well).
MAX_ENTRIES = 256
# What one AllowedIds keeps derived: an index reloaded after a write derives anew, and the
# older derivations go first.
_MAX_DERIVED = 4


class AllowedIds:
    """The chunk ids a filter allows: unique, ascending, read-only."""

    def __init__(self, ids: np.ndarray) -> None:
        ids = np.unique(np.asarray(ids, dtype=np.int64))
        ids.setflags(write=False)
        self.ids = ids
        self._derived: OrderedDict[object, Any] = OrderedDict()
        self._lock = threading.Lock()
        self.nbytes = int(ids.nbytes)  # with what is derived (the values' own `nbytes`)

    def __len__(self) -> int:
        return len(self.ids)

    def __contains__(self, chunk_id: object) -> bool:
        if not isinstance(chunk_id, int | np.integer):
            return False
        at = int(np.searchsorted(self.ids, chunk_id))
        return at < len(self.ids) and int(self.ids[at]) == chunk_id

    def derived(self, key: object, make: Callable[[], T]) -> T:
        """What `make` derives from these ids under `key` (an index version, say), made once
        and kept with them while they are cached."""
        with self._lock:
            if key in self._derived:
                self._derived.move_to_end(key)
                return self._derived[key]  # type: ignore[no-any-return]
        value = make()  # outside the lock: derivations of other keys go on meanwhile
        with self._lock:
            self._derived[key] = value
            while len(self._derived) > _MAX_DERIVED:
                self._derived.popitem(last=False)
            self.nbytes = int(self.ids.nbytes) + sum(
                int(getattr(v, "nbytes", 0)) for v in self._derived.values())
        return value


class FilterCache:
    """`allowed(where)`: the ids `where` allows, or None when nothing needs restricting (the
    store holds only this workspace's documents and the filter narrows nothing else).

    Holds at most MAX_ENTRIES filters and `max_bytes` of ids and what indexes derived from
    them; the least recently used go first. A filter larger than that is resolved on every
    search (as without the cache)."""

    def __init__(self, store: Store, max_bytes: int = 256 * 2**20) -> None:
        self.store = store
        self.max_bytes = max_bytes
        self._entries: OrderedDict[tuple[ChunkFilter, int], AllowedIds] = OrderedDict()
        self._only: tuple[str, int, bool] | None = None  # (workspace, generation, holds_only)
        self._lock = threading.Lock()

    def allowed(self, where: ChunkFilter) -> AllowedIds | None:
        generation, own = self.store.generations(where.workspace)
        if where.workspace_only and self._holds_only(where.workspace, generation):
            return None
        key = (where, own)
        with self._lock:
            self._trim()  # what searches derived since grows the entries
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
                return found
        found = AllowedIds(np.asarray(self.store.chunk_ids_matching(where), dtype=np.int64))
        if found.nbytes <= self.max_bytes:
            with self._lock:
                self._entries.setdefault(key, found)
                self._trim()
        return found

    def _trim(self) -> None:
        held = sum(entry.nbytes for entry in self._entries.values())
        while self._entries and (held > self.max_bytes or len(self._entries) > MAX_ENTRIES):
            _, dropped = self._entries.popitem(last=False)
            held -= dropped.nbytes

    def _holds_only(self, workspace: str, generation: int) -> bool:
        """store.holds_only, asked again only when some workspace's chunks changed."""
        known = self._only
        if known is not None and known[:2] == (workspace, generation):
            return known[2]
        only = self.store.holds_only(workspace)
        self._only = (workspace, generation, only)
        return only
