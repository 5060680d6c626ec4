"""The FAISS vector index on disk: inner product over normalized vectors, ids = chunk ids.

Readers (web processes) reload it when the file changes; writers (workers) take a file lock,
apply their change to the latest saved version and save atomically (temp file, then rename),
so a crash mid-save leaves the previous index readable.

Index types (DOCCHAT_INDEX_TYPE): `flat` is exact and the default; `hnsw` is a graph for large
collections (deleting from it rebuilds the graph from its stored vectors); `ivfpq` compresses
vectors and is trained automatically once enough exist (until then the index stays flat).
When the installed faiss can use the GPU (retrieval/search/devices.py decides, once per
process), searches run on a GPU copy of the index.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import faiss as _faiss
import numpy as np

from retrieval.search.devices import Placement, faiss_placement

# faiss's bundled stubs miss most of its SWIG API (IndexIDMap2.index, SearchParametersHNSW...).
faiss: Any = _faiss

log = logging.getLogger(__name__)

INDEX_TYPES = ("flat", "hnsw", "ivfpq")
HNSW_NEIGHBOURS = 32
HNSW_EF_SEARCH = 128
IVF_TRAIN_PER_LIST = 39  # faiss wants about this many training vectors per inverted list


def ivf_lists(count: int) -> int:
    """Inverted lists for `count` vectors: about 4 * sqrt(n), at least 16."""
    return max(16, int(4 * np.sqrt(count)))


def new_index(index_type: str, dim: int) -> Any:
    """An empty index of the given type, before any training."""
    if index_type == "hnsw":
        inner = faiss.IndexHNSWFlat(dim, HNSW_NEIGHBOURS, faiss.METRIC_INNER_PRODUCT)
        inner.hnsw.efSearch = HNSW_EF_SEARCH
        return faiss.IndexIDMap2(inner)
    if index_type in ("flat", "ivfpq"):  # ivfpq starts flat until it can be trained
        return faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
    raise ValueError(f"unknown index type {index_type!r}; choose one of {INDEX_TYPES}")


def train_ivfpq(vectors: np.ndarray, ids: np.ndarray) -> Any:
    """An IVF-PQ index trained on and holding `vectors` (n, dim) float32 with `ids`."""
    dim = vectors.shape[1]
    quantizer = faiss.IndexFlatIP(dim)
    subquantizers = next(m for m in (48, 32, 24, 16, 12, 8, 4, 2, 1) if dim % m == 0)
    inner = faiss.IndexIVFPQ(quantizer, dim, ivf_lists(len(vectors)), subquantizers, 8,
                             faiss.METRIC_INNER_PRODUCT)
    inner.train(vectors)
    inner.nprobe = 16
    inner.set_direct_map_type(faiss.DirectMap.Hashtable)
    index = faiss.IndexIDMap2(inner)
    index.add_with_ids(vectors, ids)
    return index


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
        self._reload_lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)

    def search(self, query: np.ndarray, k: int, allowed: Sequence[int] | None = None,
               ) -> list[tuple[int, float]]:
        """Nearest chunk ids for one query, best first. query: (dim,) float32, normalized.
        `allowed` restricts the search to those ids inside FAISS (not a post-filter)."""
        index, gpu_index = self._current()
        if index.ntotal == 0 or k <= 0 or (allowed is not None and not len(allowed)):
            return []
        vector = np.asarray(query, dtype=np.float32).reshape(1, self.dim)
        k = min(k, index.ntotal if allowed is None else len(allowed))
        if allowed is None and gpu_index is not None:
            with _gpu_lock:  # GPU indexes and their resources are not thread-safe, even to read
                scores, ids = gpu_index.search(vector, k)
        elif allowed is None:
            scores, ids = index.search(vector, k)
        else:
            scores, ids = index.search(vector, k, params=_restricted(index, allowed))
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i != -1]

    def __len__(self) -> int:
        return int(self._current()[0].ntotal)

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
        version = self._disk_version()
        with self._reload_lock:
            # A file that vanished (an old model's index, deleted after a switch) keeps
            # serving what was loaded until the caller moves to the new index.
            gone = version is None and self._index is not None
            if self._index is None or (version != self._version and not gone):
                self._index = self._read_from_disk()
                self._gpu_index = self._gpu_copy(self._index)
                self._version = version
            return self._index, self._gpu_index

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
        index = faiss.read_index(str(self.path))
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
        if not is_hnsw(self.index):
            removed = int(self.index.remove_ids(faiss.IDSelectorRange(first, end)))
        else:
            removed = self._rebuild_without(lambda ids: (ids < first) | (ids >= end))
        self.changed = self.changed or removed > 0
        return removed

    def remove_ids(self, ids: Sequence[int]) -> int:
        """Remove the vectors with these ids; returns how many there were."""
        if not len(ids):
            return 0
        wanted = np.asarray(ids, dtype=np.int64)
        if not is_hnsw(self.index):
            removed = int(self.index.remove_ids(faiss.IDSelectorBatch(wanted)))
        else:
            removed = self._rebuild_without(lambda held: ~np.isin(held, wanted))
        self.changed = self.changed or removed > 0
        return removed

    def _rebuild_without(self, keeps: Callable[[np.ndarray], np.ndarray]) -> int:
        """Graph indexes cannot delete: rebuild from the stored vectors that stay."""
        ids, vectors = all_vectors(self.index)
        keep = keeps(ids)
        removed = int(len(ids) - keep.sum())
        if removed:
            self.index = new_index(self.index_type, self.dim)
            if keep.any():
                self.index.add_with_ids(vectors[keep], ids[keep])
        return removed

    def train_when_due(self) -> None:
        """ivfpq: once the flat start-up index holds enough vectors, train and convert."""
        if self.index_type != "ivfpq" or not isinstance(faiss.downcast_index(
                self.index.index), faiss.IndexFlat):
            return
        count = self.index.ntotal
        if count < IVF_TRAIN_PER_LIST * ivf_lists(count):
            return
        ids, vectors = all_vectors(self.index)
        log.info("training IVF-PQ on %d vectors", count)
        self.index = train_ivfpq(vectors, ids)


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


def _restricted(index: Any, allowed: Sequence[int]) -> Any:
    selector = faiss.IDSelectorBatch(np.asarray(allowed, dtype=np.int64))
    inner = faiss.downcast_index(index.index)
    if isinstance(inner, faiss.IndexHNSW):
        return faiss.SearchParametersHNSW(sel=selector, efSearch=max(HNSW_EF_SEARCH, 256))
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
