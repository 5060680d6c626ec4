"""Exact search over the part of a FAISS index that a filter allows.

With many teams in one index, every search is restricted to one team's chunks, a small share
of the index. FAISS restricted by a selector still visits the whole index (flat: every vector
is tested for membership; HNSW: the graph search wanders through other teams' nodes, and at a
1% share needs a search list a hundred times longer to find k of this team's). Reading only
the allowed vectors is exact and costs what the team's own chunks cost.

The allowed vectors are read where they lie, without a copy: a document's chunk ids are
consecutive and added to the index together, so a team's vectors are a few runs of the index's
storage (one per document, fewer where documents were added one after another). Runs too short
to be worth a call each are gathered instead.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import faiss as _faiss
import numpy as np

faiss: Any = _faiss

# Runs shorter than this on average are gathered into one matrix instead (numpy's per-call
# cost outweighs the copy).
_MIN_MEAN_RUN = 16
# A restricted search of an approximate index reads the allowed vectors alone (exact) up to
# this many of them, and searches the index with a selector beyond
# (tests/benchmarks/filtered_search.py).
SUBSET_SCAN_MAX = 100_000
# The longest search list a restricted HNSW search walks.
HNSW_EF_RESTRICTED_MAX = 4096

# Each load of an index in a process gets its own number (VectorIndex._current_serial): what
# is derived from a loaded index is kept under it.
loads = itertools.count(1)


def stored_vectors(index: Any) -> np.ndarray | None:
    """The exact vectors an IndexIDMap2 over a flat or HNSW-flat inner-product index stores,
    as a read-only (ntotal, dim) view in storage order; None for other indexes (IVF, PQ: their
    vectors are in lists, or only approximated)."""
    inner = faiss.downcast_index(index.index)
    if isinstance(inner, faiss.IndexHNSW):
        inner = faiss.downcast_index(inner.storage)
    if (not isinstance(inner, faiss.IndexFlat) or inner.ntotal == 0
            or inner.metric_type != faiss.METRIC_INNER_PRODUCT):
        return None
    view = faiss.rev_swig_ptr(inner.get_xb(), inner.ntotal * inner.d)
    vectors: np.ndarray = np.asarray(view).reshape(inner.ntotal, inner.d)
    vectors.setflags(write=False)
    return vectors


class Positions:
    """Where each id of an IndexIDMap2 sits in its storage."""

    def __init__(self, index: Any) -> None:
        self.ids = faiss.vector_to_array(index.id_map).astype(np.int64)  # by position
        self._order = np.argsort(self.ids, kind="stable")
        self._sorted = self.ids[self._order]

    def of(self, wanted: np.ndarray) -> np.ndarray:
        """The positions (ascending) of the `wanted` ids that the index holds."""
        at = np.searchsorted(self._sorted, wanted)
        held = at < len(self._sorted)
        held[held] = self._sorted[at[held]] == wanted[held]
        return np.sort(self._order[at[held]])


@dataclass(frozen=True)
class Subset:
    """Positions of an index's storage, ascending, and the runs they make."""

    positions: np.ndarray
    runs: list[tuple[int, int]] | None  # (start, end) storage slices; None: gather instead

    @classmethod
    def at(cls, positions: np.ndarray) -> Subset:
        if not len(positions):
            return cls(positions, [])
        breaks = np.flatnonzero(np.diff(positions) != 1) + 1
        if len(positions) < _MIN_MEAN_RUN * (len(breaks) + 1):
            return cls(positions, None)
        firsts = positions[np.concatenate(([0], breaks))]
        lasts = positions[np.concatenate((breaks - 1, [len(positions) - 1]))]
        return cls(positions, [(int(a), int(b) + 1) for a, b in zip(firsts, lasts, strict=True)])

    def __len__(self) -> int:
        return len(self.positions)

    @property
    def nbytes(self) -> int:
        return int(self.positions.nbytes) + 16 * len(self.runs or ())

    def search(self, vectors: np.ndarray, query: np.ndarray, k: int,
               ) -> tuple[np.ndarray, np.ndarray]:
        """(positions, inner products) of the k best, best first. vectors: the index's stored
        vectors (`stored_vectors`); query: (dim,) float32."""
        if not len(self.positions) or k <= 0:
            return _best(self.positions, np.zeros(0, dtype=np.float32), k)
        if self.runs is None:
            scores = vectors[self.positions] @ query
        else:
            scores = np.concatenate([vectors[start:end] @ query for start, end in self.runs])
        return _best(self.positions, scores, k)


def _best(positions: np.ndarray, scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(positions, scores) of the k highest scores, best first (`scores` row for row with
    `positions`)."""
    k = min(k, len(scores))
    if k <= 0:
        return positions[:0], scores[:0]
    best = np.argpartition(-scores, k - 1)[:k]
    best = best[np.argsort(-scores[best], kind="stable")]
    return positions[best], scores[best]


# An IVF-Flat index keeps the exact vectors in its inverted lists, grouped by cluster, not by
# document: up to this many of a filter's vectors are copied out of the lists for each search
# (faiss's reconstruct_batch through the index's direct map); more are searched in the lists,
# with a bitmap of their positions as the selector, reading more lists the fewer they are
# (`restricted_probes`). At 1M chunks in 4,000 lists, an 8,600-chunk workspace: the copy cost
# 2.1x an unfiltered search at p95, the lists read with a selector 0.24x at 0.98 of the exact
# top 10 (tests/benchmarks/filtered_search.py).
GATHER_MAX = 3_000
# A restricted IVF search reads enough lists to meet about this many of the filter's vectors
# (a list holds about ntotal / nlist of them): 1,000 found 0.98 of an 8,600-chunk workspace's
# exact top 10 at 1M chunks, 500 found 0.94.
RESTRICTED_LIST_MEMBERS = 1_000


def restricted_probes(nlist: int, probes: int, allowed: int) -> int:
    """Lists a search restricted to `allowed` vectors reads: at least an unrestricted
    search's `probes`, enough to meet RESTRICTED_LIST_MEMBERS of them, at most all `nlist`."""
    wanted = -(-RESTRICTED_LIST_MEMBERS * nlist // max(allowed, 1))
    return int(min(nlist, max(probes, wanted)))


class PositionBitmap:
    """Positions of an index's storage as a faiss selector: one bit per stored vector."""

    def __init__(self, positions: np.ndarray, ntotal: int) -> None:
        mask = np.zeros(ntotal, dtype=bool)
        mask[positions] = True
        self.bits = np.packbits(mask, bitorder="little")  # faiss: bit i & 7 of byte i >> 3
        self.selector = faiss.IDSelectorBitmap(len(self.bits), faiss.swig_ptr(self.bits))
        self.count = len(positions)
        self.nbytes = int(self.bits.nbytes)


class ListVectors:
    """The exact vectors of an IVF-Flat index by position, read from its lists through a
    direct map (the lists hold the IndexIDMap2's positions as their ids)."""

    def __init__(self, index: Any) -> None:
        self.inner = faiss.downcast_index(index.index)
        if not isinstance(self.inner, faiss.IndexIVFFlat):
            raise ValueError("not an IVF-Flat index")
        self.inner.make_direct_map(True)  # this process's copy: 8 bytes per vector

    def search(self, positions: np.ndarray, query: np.ndarray, k: int,
               ) -> tuple[np.ndarray, np.ndarray]:
        """(positions, inner products) of the k best of `positions` (ascending), best first:
        their vectors copied out of the lists for this search."""
        if not len(positions) or k <= 0:
            return _best(positions, np.zeros(0, dtype=np.float32), k)
        matrix = np.asarray(self.inner.reconstruct_batch(positions), dtype=np.float32)
        return _best(positions, matrix @ query, k)

    def search_lists(self, bitmap: PositionBitmap, query: np.ndarray, k: int,
                     ) -> tuple[np.ndarray, np.ndarray]:
        """(positions, inner products) of the best k of `bitmap`'s positions that the lists
        the query reads hold, best first; query: (1, dim) float32. Reads
        `restricted_probes` lists."""
        probes = restricted_probes(self.inner.nlist, self.inner.nprobe, bitmap.count)
        params = faiss.SearchParametersIVF(sel=bitmap.selector, nprobe=probes)
        scores, found = self.inner.search(query, min(k, bitmap.count), params=params)
        held = found[0] >= 0
        return found[0][held], scores[0][held]
