"""The FAISS vector index on disk: inner product over normalized vectors, ids = chunk ids.

Readers (web processes) reload it when the file changes; writers (workers) take a file lock,
apply their change to the latest saved version and save atomically (temp file, then rename),
so a crash mid-save leaves the previous index readable.

Index types (DOCCHAT_INDEX_TYPE): `flat` is exact; `auto` (the default) is flat until the
collection passes DOCCHAT_APPROXIMATE_FROM chunks, then a worker rebuilds it in the background
as `ivfflat` (retrieval/search/rebuild.py: switch_index_type); `ivfflat` keeps the exact
vectors in inverted lists and searches the nearest few; `hnsw` is a graph (deleting from it
rebuilds the graph from its stored vectors); `ivfpq` compresses vectors. ivfflat and ivfpq
are trained automatically once enough vectors exist (until then the index stays flat). The
settings of each type were measured on real chunks grown to 1M (tests/benchmarks/ann_recall.py).
When the installed faiss can use the GPU (retrieval/search/devices.py decides, once per
process), searches run on a GPU copy of the index.
"""

from __future__ import annotations

import fcntl
import logging
import os
import struct
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import faiss as _faiss
import numpy as np

from retrieval.search.devices import Placement, faiss_placement
from retrieval.search.filters import AllowedIds
from retrieval.search.subsets import (
    GATHER_MAX,
    HNSW_EF_RESTRICTED_MAX,
    SUBSET_SCAN_MAX,
    ListVectors,
    PositionBitmap,
    Positions,
    Subset,
    loads,
    stored_vectors,
)

# faiss's bundled stubs miss most of its SWIG API (IndexIDMap2.index, SearchParametersHNSW...).
faiss: Any = _faiss

log = logging.getLogger(__name__)

INDEX_TYPES = ("auto", "flat", "ivfflat", "hnsw", "ivfpq")
# What `auto` switches a large index to, and the settings of the approximate types: measured on
# real chunks grown to 1M, asked real questions (python -m tests.benchmarks.ann_recall; the
# README's figures). ivfflat reads 128 lists: at 1M (4,000 lists) recall@10 of exact 0.997 for
# questions and 0.995 for passages, p95 5.7 ms. 64 lists would do at 1M (0.993, 3.1 ms), but
# between 20k and 100k, where `auto` switches, they find 0.960-0.968 of the questions' top 10
# (128: 0.981-0.989), and the generated 1M set may be kinder to lists than real chunks would
# be (its neighbours descend from the same few real ones). ivfflat serves docchat better than
# HNSW, which is faster: it deletes in place (HNSW rebuilds its graph, minutes at 1M), takes
# 14% less memory and has a GPU version. HNSW needs efSearch 512 for 0.95 on questions at 1M.
APPROXIMATE_TYPE = "ivfflat"
HNSW_NEIGHBOURS = 32
HNSW_EF_CONSTRUCTION = 40
HNSW_EF_SEARCH = 512
IVF_TRAIN_PER_LIST = 39  # faiss wants about this many training vectors per inverted list
IVF_SAMPLE_PER_LIST = 64  # k-means trains on at most this many per list: minutes, not hours
IVF_FLAT_PROBES = 128  # lists an ivfflat search reads


def ivf_lists(count: int) -> int:
    """Inverted lists for `count` vectors: about 4 * sqrt(n), at least 16."""
    return max(16, int(4 * np.sqrt(count)))


def new_index(index_type: str, dim: int) -> Any:
    """An empty index of the given type, before any training."""
    if index_type == "hnsw":
        inner = faiss.IndexHNSWFlat(dim, HNSW_NEIGHBOURS, faiss.METRIC_INNER_PRODUCT)
        inner.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        inner.hnsw.efSearch = HNSW_EF_SEARCH
        return faiss.IndexIDMap2(inner)
    if index_type in INDEX_TYPES:  # the others start flat until they are trained
        return faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
    raise ValueError(f"unknown index type {index_type!r}; choose one of {INDEX_TYPES}")


def served_type(index: Any) -> str:
    """What an IndexIDMap2 holds: "flat", "ivfflat", "hnsw" or "ivfpq"."""
    inner = faiss.downcast_index(index.index)
    if isinstance(inner, faiss.IndexHNSW):
        return "hnsw"
    if isinstance(inner, faiss.IndexIVFFlat):
        return "ivfflat"
    if isinstance(inner, faiss.IndexIVF):
        return "ivfpq"
    return "flat"


def _training_sample(vectors: np.ndarray, lists: int) -> np.ndarray:
    """At most IVF_SAMPLE_PER_LIST vectors per list, spread over `vectors` (n, dim)."""
    limit = IVF_SAMPLE_PER_LIST * lists
    if len(vectors) <= limit:
        return vectors
    picked = np.random.default_rng(0).choice(len(vectors), limit, replace=False)
    return vectors[np.sort(picked)]


def _filled(inner: Any, vectors: np.ndarray, ids: np.ndarray) -> Any:
    """`inner` trained, wrapped with ids and holding `vectors` (added in slices, so that the
    list assignment's temporaries stay small)."""
    inner.train(_training_sample(vectors, inner.nlist))
    index = faiss.IndexIDMap2(inner)
    for first in range(0, len(vectors), 100_000):
        index.add_with_ids(vectors[first:first + 100_000], ids[first:first + 100_000])
    return index


def train_ivfflat(vectors: np.ndarray, ids: np.ndarray) -> Any:
    """An IVF-Flat index trained on and holding `vectors` (n, dim) float32 with `ids`."""
    dim = vectors.shape[1]
    inner = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, ivf_lists(len(vectors)),
                               faiss.METRIC_INNER_PRODUCT)
    inner.nprobe = IVF_FLAT_PROBES
    return _filled(inner, vectors, ids)


def train_ivfpq(vectors: np.ndarray, ids: np.ndarray) -> Any:
    """An IVF-PQ index trained on and holding `vectors` (n, dim) float32 with `ids`."""
    dim = vectors.shape[1]
    subquantizers = next(m for m in (48, 32, 24, 16, 12, 8, 4, 2, 1) if dim % m == 0)
    inner = faiss.IndexIVFPQ(faiss.IndexFlatIP(dim), dim, ivf_lists(len(vectors)),
                             subquantizers, 8, faiss.METRIC_INNER_PRODUCT)
    inner.nprobe = 16
    return _filled(inner, vectors, ids)


TRAINERS: dict[str, Callable[[np.ndarray, np.ndarray], Any]] = {
    "ivfflat": train_ivfflat, "ivfpq": train_ivfpq}


def approximate_due(index: Any, threshold: int) -> bool:
    """Whether `auto` should rebuild this index as APPROXIMATE_TYPE in the background: it is
    flat and holds `threshold` vectors or more, or its lists were made for a quarter of what it
    holds now (searches read ever longer lists: rebuilding doubles their number)."""
    inner = faiss.downcast_index(index.index)
    lists = inner.nlist if isinstance(inner, faiss.IndexIVF) else 0
    return _due(int(index.ntotal), served_type(index), lists, threshold)


def _due(count: int, kind: str, lists: int, threshold: int) -> bool:
    if count < max(threshold, 2 * ivf_lists(count)):  # k-means wants points for every list
        return False
    return kind == "flat" or (kind == "ivfflat" and ivf_lists(count) >= 2 * lists)


# A saved IndexIDMap2 starts with its fourcc, then its header (d: int32, ntotal: int64, two
# int64 placeholders, is_trained: bool, metric: int32), then the inner index's fourcc and the
# same header, then, for an IVF index, its number of lists (size_t): faiss's own format
# (faiss/impl/index_write.cpp), unchanged since faiss 1.5.
_HEADER = struct.Struct("<4siq")
_INNER_AT, _LISTS_AT = 37, 74
_KINDS = {b"IxFI": "flat", b"IxF2": "flat", b"IwFl": "ivfflat", b"IHNf": "hnsw",
          b"IwPQ": "ivfpq"}


def saved_shape(path: Path) -> tuple[int, str, int] | None:
    """(vectors, kind, lists) of the index saved at `path`, from its first bytes: a worker
    decides on a switch without loading gigabytes. None when there is no such file (or it is
    not an IndexIDMap2 over an inner metric-IP index)."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(_LISTS_AT + 8)
    except FileNotFoundError:
        return None
    if len(head) < _INNER_AT + 4 or head[:4] != b"IxM2":
        return None
    _, _, count = _HEADER.unpack_from(head)
    kind = _KINDS.get(head[_INNER_AT:_INNER_AT + 4], "other")
    lists = struct.unpack_from("<Q", head, _LISTS_AT)[0] if kind.startswith("ivf") else 0
    return int(count), kind, int(lists)


class VectorIndex:
    def __init__(self, path: Path, dim: int, index_type: str = "flat", use_gpu: bool = True,
                 lock_path: Path | None = None, gpu_temp_mb: int = 0) -> None:
        """`lock_path`: the file whose lock serializes writers (several indexes may share one);
        by default one beside the index. `use_gpu`: search on a GPU copy when the gate
        (devices.faiss_placement) allows it; `gpu_temp_mb`: its scratch memory (0: faiss's)."""
        if index_type not in INDEX_TYPES:
            raise ValueError(f"unknown index type {index_type!r}; choose one of {INDEX_TYPES}")
        self.path = path
        self.dim = dim
        self.index_type = index_type
        self.use_gpu = use_gpu
        self.gpu_temp_mb = gpu_temp_mb
        self._placement: Placement | None = None
        self._lock_path = lock_path or path.with_suffix(path.suffix + ".lock")
        self._index: Any = None
        self._gpu_index: Any = None
        self._version: tuple[int, int, int] | None = None
        self._serial = 0
        self._reload_lock = threading.Lock()
        self._positions_of: tuple[int, Positions] | None = None
        self._lists_of: tuple[int, ListVectors | None] | None = None
        self._positions_lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)

    def search(self, query: np.ndarray, k: int,
               allowed: AllowedIds | Sequence[int] | None = None) -> list[tuple[int, float]]:
        """Nearest chunk ids for one query, best first. query: (dim,) float32, normalized.
        `allowed` restricts the search to those ids before ranking (not a post-filter)."""
        index, gpu_index, serial = self._current_serial()
        if index.ntotal == 0 or k <= 0 or (allowed is not None and not len(allowed)):
            return []
        vector = np.asarray(query, dtype=np.float32).reshape(1, self.dim)
        if allowed is not None:
            if not isinstance(allowed, AllowedIds):
                allowed = AllowedIds(np.asarray(allowed, dtype=np.int64))
            return self._search_allowed(index, serial, vector, k, allowed)
        k = min(k, index.ntotal)
        if gpu_index is not None:
            with _gpu_lock:  # GPU indexes and their resources are not thread-safe, even to read
                scores, ids = gpu_index.search(vector, k)
        else:
            scores, ids = index.search(vector, k)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i != -1]

    def _search_allowed(self, index: Any, serial: int, vector: np.ndarray, k: int,
                        allowed: AllowedIds) -> list[tuple[int, float]]:
        """A restricted search: exact over the allowed vectors where the index stores them
        whole (flat always; HNSW up to SUBSET_SCAN_MAX of them, where that is faster than a
        restricted graph search; IVF-Flat up to GATHER_MAX, copied out of its lists); IVF-Flat
        beyond that reads more of its lists with a bitmap of the allowed positions; else FAISS
        with a selector."""
        stored = stored_vectors(index)
        if stored is not None and (not is_hnsw(index) or len(allowed) <= SUBSET_SCAN_MAX):
            positions = self._positions(index, serial)
            subset = allowed.derived(("subset", serial),
                                     lambda: Subset.at(positions.of(allowed.ids)))
            found, scores = subset.search(stored, vector[0], k)
            return [(int(i), float(s))
                    for i, s in zip(positions.ids[found], scores, strict=True)]
        lists = self._list_vectors(index, serial)
        if lists is not None:
            positions = self._positions(index, serial)
            wanted = allowed.derived(("positions", serial), lambda: positions.of(allowed.ids))
            if len(wanted) <= GATHER_MAX:
                found, scores = lists.search(wanted, vector[0], k)
            else:
                bitmap = allowed.derived(("bitmap", serial),
                                         lambda: PositionBitmap(wanted, index.ntotal))
                found, scores = lists.search_lists(bitmap, vector, k)
            return [(int(i), float(s))
                    for i, s in zip(positions.ids[found], scores, strict=True)]
        share = len(allowed) / max(index.ntotal, 1)
        params = allowed.derived(("selector", serial),
                                 lambda: _restricted(index, allowed.ids, share, k))
        scores, ids = index.search(vector, min(k, len(allowed)), params=params)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i != -1]

    def _positions(self, index: Any, serial: int) -> Positions:
        """Where each id sits in the storage of the loaded index `serial`."""
        with self._positions_lock:
            if self._positions_of is None or self._positions_of[0] != serial:
                self._positions_of = (serial, Positions(index))
            return self._positions_of[1]

    def _list_vectors(self, index: Any, serial: int) -> ListVectors | None:
        """The exact vectors of the loaded index `serial` by position, when it is an IVF-Flat
        index (its vectors are in lists); None for others."""
        if not isinstance(faiss.downcast_index(index.index), faiss.IndexIVFFlat):
            return None
        with self._positions_lock:
            if self._lists_of is None or self._lists_of[0] != serial:
                try:
                    self._lists_of = (serial, ListVectors(index))
                except RuntimeError as exc:  # lists not numbered by position: use a selector
                    log.warning("filtered searches of %s use a selector: %s", self.path, exc)
                    self._lists_of = (serial, None)
            return self._lists_of[1]

    def __len__(self) -> int:
        return int(self._current()[0].ntotal)

    @property
    def served_type(self) -> str:
        """The kind of index searches read now: with `auto`, flat or APPROXIMATE_TYPE."""
        return served_type(self._current()[0])

    def approximate_due(self, threshold: int) -> bool:
        """Whether `auto` should rebuild the saved index as APPROXIMATE_TYPE (see the
        function of that name), read from the file's first bytes."""
        shape = saved_shape(self.path)
        return shape is not None and _due(*shape, threshold)

    @property
    def placement(self) -> Placement:
        """Where searches run ("gpu" or "cpu") and why."""
        if self._placement is None:
            if self.index_type == "hnsw":
                self._placement = Placement("cpu", "faiss has no GPU version of an HNSW index")
            else:
                self._placement = faiss_placement(self.use_gpu, gpu_count())
        return self._placement

    @contextmanager
    def writing(self) -> Iterator[IndexWriter]:
        """Exclusive, cross-process write access; the change is saved when the block exits."""
        with open(self._lock_path, "a+") as lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX)
            try:
                writer = self.open_for_build()
                yield writer
                if writer.changed:
                    self.commit(writer)
            finally:
                fcntl.flock(lock_file, fcntl.LOCK_UN)

    def open_for_build(self) -> IndexWriter:
        """A writer over the saved index, without the lock: for an index nobody else writes
        yet (one being rebuilt for a new embedding model). Save it with `commit`."""
        return IndexWriter(self._read_from_disk(), self.dim, self.index_type)

    def commit(self, writer: IndexWriter) -> None:
        """Save what the writer holds, atomically (training IVF-PQ first when it is due)."""
        writer.train_when_due()
        self._save(writer.index)

    def _current(self) -> tuple[Any, Any]:
        index, gpu_index, _ = self._current_serial()
        return index, gpu_index

    def _current_serial(self) -> tuple[Any, Any, int]:
        """The loaded index, its GPU copy (or None) and a number no other load in this process
        has (what is derived from a loaded index is kept under it: a loaded index is never
        changed, writers save a new file)."""
        version = self._disk_version()
        with self._reload_lock:
            # A file that vanished (an old model's index, deleted after a switch) keeps
            # serving what was loaded until the caller moves to the new index.
            gone = version is None and self._index is not None
            if self._index is None or (version != self._version and not gone):
                self._index = self._read_from_disk()
                self._gpu_index = self._gpu_copy(self._index)
                self._version = version
                self._serial = next(loads)
            return self._index, self._gpu_index, self._serial

    def _gpu_copy(self, index: Any) -> Any:
        """The index on the GPU, or None where searches run on the CPU."""
        if self.placement.device != "gpu":
            return None
        if is_hnsw(index):  # an HNSW file under another DOCCHAT_INDEX_TYPE
            self._placement = Placement("cpu", "faiss has no GPU version of an HNSW index")
            log.info("FAISS has no GPU version of an HNSW index; searching it on the CPU")
            return None
        try:
            with _gpu_lock:  # the copy uses the GPU resources that searches use
                return _to_gpu(index, self.gpu_temp_mb)
        except RuntimeError as exc:  # faiss's own refusals (out of memory, a parameter)
            self._placement = Placement("cpu", f"faiss could not copy the index to the GPU "
                                               f"({exc})")
            log.warning("FAISS could not copy the index to the GPU (%s); searching on the CPU",
                        exc)
            return None

    def _disk_version(self) -> tuple[int, int, int] | None:
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return None
        return (stat.st_ino, stat.st_mtime_ns, stat.st_size)

    def _read_from_disk(self) -> Any:
        if not self.path.exists():
            return new_index(self.index_type, self.dim)
        index = _with_search_settings(faiss.read_index(str(self.path)))
        if index.d != self.dim:
            raise ValueError(
                f"the index at {self.path} holds {index.d}-dimensional vectors but the embedding "
                f"model makes {self.dim}: rebuild the index, or configure the model it was "
                "built with"
            )
        return index

    def _save(self, index: Any) -> None:
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        faiss.write_index(index, str(tmp))
        with open(tmp, "rb") as written:
            os.fsync(written.fileno())
        os.replace(tmp, self.path)
        directory = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)


class IndexWriter:
    """The index as one writer sees it inside `VectorIndex.writing()`."""

    def __init__(self, index: Any, dim: int, index_type: str) -> None:
        self.index = index
        self.dim = dim
        self.index_type = index_type
        self.changed = False

    def add(self, ids: Sequence[int], vectors: np.ndarray) -> None:
        """vectors: (n, dim) float32, normalized; ids: n chunk ids."""
        if len(ids) != len(vectors):
            raise ValueError(f"{len(ids)} ids for {len(vectors)} vectors")
        if not len(ids):
            return
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if not np.isfinite(vectors).all():  # faiss would store them, and rank them anywhere
            raise ValueError("refusing to index NaN or infinite vectors")
        self.index.add_with_ids(vectors, np.asarray(ids, dtype=np.int64))
        self.changed = True

    def ids(self) -> np.ndarray:
        """The ids of every vector held, (n,) int64."""
        return faiss.vector_to_array(self.index.id_map).astype(np.int64)

    def remove_range(self, first: int, end: int) -> int:
        """Remove every vector whose id is in [first, end); returns how many there were."""
        return self._remove(faiss.IDSelectorRange(first, end),
                            lambda held: (held >= first) & (held < end))

    def remove_ids(self, ids: Sequence[int]) -> int:
        """Remove the vectors with these ids; returns how many there were."""
        if not len(ids):
            return 0
        wanted = np.asarray(ids, dtype=np.int64)
        return self._remove(faiss.IDSelectorBatch(wanted), lambda held: np.isin(held, wanted))

    def _remove(self, selector: Any, goes: Callable[[np.ndarray], np.ndarray]) -> int:
        """`selector` picks the ids to remove for faiss, `goes` for numpy (held ids -> mask)."""
        kind = served_type(self.index)
        if kind == "flat":
            removed = int(self.index.remove_ids(selector))
        else:
            gone = goes(self.ids())
            removed = int(gone.sum())
            if removed and kind == "hnsw":
                self._rebuild_without(gone)
            elif removed:
                _remove_from_lists(self.index, gone)
        self.changed = self.changed or removed > 0
        return removed

    def _rebuild_without(self, gone: np.ndarray) -> None:
        """Graph indexes cannot delete: rebuild from the stored vectors that stay."""
        ids, vectors = all_vectors(self.index)
        self.index = new_index("hnsw", self.dim)
        if not gone.all():
            self.index.add_with_ids(vectors[~gone], ids[~gone])

    def train_when_due(self) -> None:
        """ivfflat and ivfpq: once the flat start-up index holds enough vectors, train and
        convert. (`auto` converts in the background instead: rebuild.switch_index_type.)"""
        train = TRAINERS.get(self.index_type)
        if train is None or served_type(self.index) != "flat":
            return
        count = self.index.ntotal
        if count < IVF_TRAIN_PER_LIST * ivf_lists(count):
            return
        ids, vectors = all_vectors(self.index)
        log.info("training %s on %d vectors", self.index_type, count)
        self.index = train(vectors, ids)


def _remove_from_lists(index: Any, gone: np.ndarray) -> None:
    """Remove the vectors at the positions where `gone` (n,) bool is true from an IndexIDMap2
    over an IVF index. IndexIDMap2 takes the inner index's ids for positions in its id map,
    and compacts that map after a removal as IndexFlat compacts its storage; an IVF index keeps
    the ids it was given, so faiss's own remove_ids would leave them naming other chunks. Here
    the survivors' ids in the lists are renumbered to their new positions."""
    inner = faiss.downcast_index(index.index)
    inner.remove_ids(faiss.IDSelectorBatch(np.flatnonzero(gone).astype(np.int64)))
    position = np.cumsum(~gone) - 1  # old position -> new, for the vectors that stay
    lists = inner.invlists
    for number in range(inner.nlist):
        size = lists.list_size(number)
        if size:
            held = faiss.rev_swig_ptr(lists.get_ids(number), size)
            held[:] = position[held]
    faiss.copy_array_to_vector(faiss.vector_to_array(index.id_map)[~gone], index.id_map)
    index.ntotal = inner.ntotal
    index.construct_rev_map()


def _with_search_settings(index: Any) -> Any:
    """The index with today's search settings: a file keeps the efSearch or nprobe it was
    saved with, which may predate them."""
    inner = faiss.downcast_index(index.index)
    if isinstance(inner, faiss.IndexHNSW):
        inner.hnsw.efSearch = HNSW_EF_SEARCH
    elif isinstance(inner, faiss.IndexIVFFlat):
        inner.nprobe = IVF_FLAT_PROBES
    return index


def all_vectors(index: Any) -> tuple[np.ndarray, np.ndarray]:
    """(ids (n,) int64, vectors (n, dim) float32) of an IndexIDMap2."""
    ids = faiss.vector_to_array(index.id_map).astype(np.int64)
    vectors = index.index.reconstruct_n(0, index.ntotal) if index.ntotal else np.zeros(
        (0, index.d), dtype=np.float32)
    return ids, np.asarray(vectors, dtype=np.float32)


def is_hnsw(index: Any) -> bool:
    """Whether the IndexIDMap2 holds an HNSW graph: it cannot remove vectors, and faiss has no
    GPU version of it."""
    return isinstance(faiss.downcast_index(index.index), faiss.IndexHNSW)


def _restricted(index: Any, allowed: np.ndarray, share: float, k: int) -> Any:
    """Search parameters that keep a FAISS search to the `allowed` ids, a `share` of the
    index. An HNSW search list must be about k / share long to meet k allowed nodes."""
    selector = faiss.IDSelectorBatch(allowed)
    inner = faiss.downcast_index(index.index)
    if isinstance(inner, faiss.IndexHNSW):
        wanted = int(k / max(share, 1e-6))
        return faiss.SearchParametersHNSW(
            sel=selector, efSearch=min(max(HNSW_EF_SEARCH, 256, wanted), HNSW_EF_RESTRICTED_MAX))
    if isinstance(inner, faiss.IndexIVF):
        return faiss.SearchParametersIVF(sel=selector, nprobe=inner.nprobe)
    return faiss.SearchParameters(sel=selector)


def gpu_count() -> int:
    """GPUs the installed faiss can use: 0 with faiss-cpu."""
    get = getattr(faiss, "get_num_gpus", None)
    return int(get()) if get is not None else 0


# GPU resources must outlive the GPU indexes that use them: one per process, kept here, and
# used by one thread at a time (web processes search from several threads).
_gpu_resources: list[Any] = []
_gpu_lock = threading.Lock()


def _to_gpu(index: Any, temp_mb: int) -> Any:
    """A GPU copy of `index`; only once faiss_placement said yes (on a GPU this faiss was not
    built for, the copy aborts the process rather than raise). HNSW has no GPU version: the
    caller keeps those on the CPU, so that a failed copy is not tried again on every reload."""
    if not _gpu_resources:
        resources = faiss.StandardGpuResources()
        if temp_mb > 0:
            resources.setTempMemory(temp_mb * 1024 * 1024)
        _gpu_resources.append(resources)
    return faiss.index_cpu_to_gpu(_gpu_resources[0], 0, index)
