"""Which embedding model serves searches, and the FAISS index built with it.

Every embedding model gets its own index file. The store records the active model; after the
configured model changes, a rebuild (retrieval/search/rebuild.py) fills the new model's index beside
the active one, which keeps serving searches until the switch. Index writes of every model
share one lock, so a write and a switch never interleave.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from retrieval.core.settings import Settings
from retrieval.search.embeddings import Embedder
from retrieval.search.faiss_index import IndexWriter, VectorIndex
from retrieval.storage.store import Store


def model_key(model: str) -> str:
    """A short stable name for an embedding model setting ('' is the bundled model)."""
    return hashlib.sha1((model or "bundled").encode()).hexdigest()[:12]


def model_label(model: str) -> str:
    return model or "bundled (all-MiniLM-L6-v2)"


@dataclass(frozen=True)
class VectorSpace:
    model: str  # the embedding model setting it was built with ('' = bundled)
    embedder: Embedder
    index: VectorIndex


class VectorSpaces:
    def __init__(self, settings: Settings, store: Store, embedder: Embedder | None = None,
                 ) -> None:
        """`embedder`: an already loaded model for the configured setting, to share."""
        self.settings = settings
        self.store = store
        self._embedders: dict[str, Embedder] = {}
        if embedder is not None:
            self._embedders[settings.embedding_model] = embedder
        self._spaces: dict[str, VectorSpace] = {}
        self._lock = threading.Lock()

    @property
    def configured(self) -> str:
        return self.settings.embedding_model

    def active_model(self) -> str:
        return self.store.active_model(self.configured)

    def active(self) -> VectorSpace:
        """The model and index that serve searches now (followed on every call)."""
        return self.space(self.active_model())

    def needs_rebuild(self) -> bool:
        return self.active_model() != self.configured

    def space(self, model: str) -> VectorSpace:
        with self._lock:
            if model not in self._spaces:
                s = self.settings
                embedder = self._embedders.get(model) or Embedder(
                    model, s.embedding_device, s.embedding_batch_size, s.embedding_precision)
                self._embedders[model] = embedder
                index = VectorIndex(s.index_path(model_key(model)), embedder.dim, s.index_type,
                                    s.faiss_gpu, lock_path=s.index_lock_path,
                                    gpu_temp_mb=s.faiss_gpu_temp_mb)
                self._spaces[model] = VectorSpace(model, embedder, index)
            return self._spaces[model]

    @contextmanager
    def writing(self) -> Iterator[tuple[VectorSpace, IndexWriter]]:
        """Exclusive write access to the active index, as it is once the lock is held."""
        while True:
            space = self.active()
            with space.index.writing() as writer:
                if self.active_model() == space.model:
                    yield space, writer
                    return
            # A rebuild switched models while we waited for the lock: write to the new one.
