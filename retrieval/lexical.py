"""BM25 over chunk texts (bm25s), for what a small embedding model misses: names, numbers,
ticket ids, and Russian inflections (words are stemmed: Snowball Russian for Cyrillic words,
English for Latin ones).

The index is rebuilt from SQLite when the chunk set changes; it lives in process memory.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Sequence
from functools import lru_cache

import numpy as np

_WORD = re.compile(r"\w+")
_CYRILLIC = re.compile(r"[а-яё]")


@lru_cache(maxsize=2)
def _stemmer(language: str):  # type: ignore[no-untyped-def]
    import Stemmer

    return Stemmer.Stemmer(language)


def tokenize(text: str) -> list[str]:
    """Lower-cased word tokens, stemmed by script; ids like 'CHI08CA047' stay whole."""
    words = _WORD.findall(text.lower())
    russian, english = _stemmer("russian"), _stemmer("english")
    return [
        (russian if _CYRILLIC.search(word) else english).stemWord(word)
        if not any(ch.isdigit() for ch in word) else word
        for word in words
    ]


class LexicalIndex:
    """BM25 over (id, text) pairs, rebuilt when `generation()` reports a new corpus."""

    def __init__(self, load: Callable[[], tuple[list[int], list[str]]],
                 generation: Callable[[], int]) -> None:
        self._load = load
        self._generation = generation
        self._lock = threading.Lock()
        self._built_for: int | None = None
        self._ids: np.ndarray = np.zeros(0, dtype=np.int64)
        self._position: dict[int, int] = {}
        self._bm25 = None

    def search(self, query: str, k: int, allowed: Sequence[int] | None = None,
               ) -> list[tuple[int, float]]:
        """Up to k (chunk id, BM25 score) with a positive score, best first; `allowed`
        restricts the search to those chunk ids."""
        bm25, ids, position = self._current()
        tokens = tokenize(query)
        if bm25 is None or not tokens or k <= 0:
            return []
        mask = None
        if allowed is not None:
            mask = np.zeros(len(ids), dtype=np.float32)
            mask[[position[i] for i in allowed if i in position]] = 1.0
        scores = bm25.get_scores(tokens, weight_mask=mask) if mask is not None else (
            bm25.get_scores(tokens))
        count = min(k, int(np.count_nonzero(scores > 0)))
        if count == 0:
            return []
        best = np.argpartition(-scores, count - 1)[:count]
        best = best[np.argsort(-scores[best])]
        return [(int(ids[i]), float(scores[i])) for i in best]

    def _current(self):  # type: ignore[no-untyped-def]
        generation = self._generation()
        with self._lock:
            if self._built_for != generation:
                self._build(generation)
            return self._bm25, self._ids, self._position

    def _build(self, generation: int) -> None:
        import bm25s

        ids, texts = self._load()
        self._ids = np.asarray(ids, dtype=np.int64)
        self._position = {chunk_id: i for i, chunk_id in enumerate(ids)}
        if ids:
            bm25 = bm25s.BM25()
            bm25.index([tokenize(text) for text in texts], show_progress=False)
            self._bm25 = bm25
        else:
            self._bm25 = None
        self._built_for = generation
