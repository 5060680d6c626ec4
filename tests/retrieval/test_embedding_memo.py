"""One answer's checks embed each distinct text once (retrieval.search.embeddings.EmbeddingMemo),
with the vectors the model gives."""

from __future__ import annotations

import numpy as np

from retrieval.search.embeddings import EmbeddingMemo


class Counting:
    """The session's real embedder, counting the texts it is asked to embed."""

    def __init__(self, embedder) -> None:  # type: ignore[no-untyped-def]
        self.embedder = embedder
        self.asked: list[str] = []

    def embed(self, texts: list[str]) -> np.ndarray:
        self.asked += texts
        return self.embedder.embed(texts)


def test_each_text_is_embedded_once_and_keeps_its_vector(embedder) -> None:
    counting = Counting(embedder)
    memo = EmbeddingMemo(counting)
    first = memo.embed(["The engine lost power.", "Visibility was 10 miles."])
    again = memo.embed(["Visibility was 10 miles.", "The pilot held a private certificate.",
                        "The engine lost power.", "Visibility was 10 miles."])

    assert counting.asked == ["The engine lost power.", "Visibility was 10 miles.",
                              "The pilot held a private certificate."]
    assert again.shape == (4, first.shape[1])
    assert np.array_equal(again[0], first[1]) and np.array_equal(again[2], first[0])
    alone = embedder.embed(["The pilot held a private certificate."])[0]
    assert np.allclose(again[1], alone, atol=1e-5)
    assert memo.embed([]).shape == (0, first.shape[1])
