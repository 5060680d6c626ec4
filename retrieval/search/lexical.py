"""BM25 over chunk texts (bm25s), for what a small embedding model misses: names, numbers,
ticket ids, and Russian inflections (words are stemmed: Snowball Russian for Cyrillic words,
English for Latin ones).

Each workspace has its own index, built from SQLite when first searched after the chunk set
changed; they live in process memory.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any

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
    """BM25 per workspace over (id, text) pairs, each rebuilt when `generation(workspace)`
    reports a new corpus for that workspace (another team's upload leaves it as it is).

    Every workspace has an index of its own: BM25 weighs a word by how rare it is in the
    corpus, so one index over all teams would let the ranking of one team's results reveal
    whether a word occurs in another team's documents."""

    def __init__(self, load: Callable[[str], tuple[list[int], list[str]]],
                 generation: Callable[[str], int]) -> None:
        """`load(workspace)`: the ids (ascending) and texts of that workspace's searchable
        chunks."""
        self._load = load
        self._generation = generation
        self._lock = threading.Lock()
        self._indexes: dict[str, tuple[int, _WorkspaceIndex]] = {}

    def search(self, query: str, k: int, workspace: str,
               allowed: np.ndarray | Sequence[int] | None = None) -> list[tuple[int, float]]:
        """Up to k (chunk id, BM25 score) of the workspace's chunks with a positive score,
        best first; `allowed` (ascending ids) restricts the search to those chunk ids."""
        found = self._current(workspace)
        tokens = tokenize(query)
        if found.bm25 is None or not tokens or k <= 0:
            return []
        scores = (found.bm25.get_scores(tokens) if allowed is None
                  else found.bm25.get_scores(tokens, weight_mask=found.mask(allowed)))
        count = min(k, int(np.count_nonzero(scores > 0)))
        if count == 0:
            return []
        best = np.argpartition(-scores, count - 1)[:count]
        best = best[np.argsort(-scores[best])]
        return [(int(found.ids[i]), float(scores[i])) for i in best]

    def _current(self, workspace: str) -> _WorkspaceIndex:
        generation = self._generation(workspace)
        with self._lock:
            built = self._indexes.get(workspace)
            if built is None or built[0] != generation:
                built = (generation, _WorkspaceIndex.build(*self._load(workspace)))
                self._indexes[workspace] = built
            return built[1]


class _WorkspaceIndex:
    def __init__(self, ids: np.ndarray, bm25: Any) -> None:
        self.ids = ids  # (n,) int64 chunk ids, ascending, in the order BM25 holds them
        self.bm25 = bm25  # None when the workspace has no searchable chunk

    @classmethod
    def build(cls, ids: list[int], texts: list[str]) -> _WorkspaceIndex:
        import bm25s

        bm25 = None
        if ids:
            bm25 = bm25s.BM25()
            bm25.index([tokenize(text) for text in texts], show_progress=False)
        order = np.argsort(np.asarray(ids, dtype=np.int64), kind="stable")
        if np.any(order != np.arange(len(ids))):
            raise ValueError("a lexical index is built from ids in ascending order")
        return cls(np.asarray(ids, dtype=np.int64), bm25)

    def mask(self, allowed: np.ndarray | Sequence[int]) -> np.ndarray:
        """1.0 at the positions of the `allowed` ids this index holds, else 0.0."""
        wanted = np.asarray(allowed, dtype=np.int64)
        at = np.searchsorted(self.ids, wanted)
        held = at < len(self.ids)
        held[held] = self.ids[at[held]] == wanted[held]
        mask = np.zeros(len(self.ids), dtype=np.float32)
        mask[at[held]] = 1.0
        return mask
