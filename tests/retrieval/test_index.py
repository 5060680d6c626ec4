"""The FAISS index on disk: search, range removal, atomic saves, readers that follow writers."""

from __future__ import annotations

import os

import numpy as np
import pytest

from retrieval.search.faiss_index import VectorIndex


def unit(rng: np.random.Generator, n: int, dim: int = 8) -> np.ndarray:
    vectors = rng.standard_normal((n, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def test_written_vectors_are_found_by_a_separate_reader(tmp_path) -> None:
    rng = np.random.default_rng(0)
    vectors = unit(rng, 10)
    writer_side = VectorIndex(tmp_path / "index.faiss", 8)
    reader_side = VectorIndex(tmp_path / "index.faiss", 8)
    assert reader_side.search(vectors[0], 3) == []
    with writer_side.writing() as writer:
        writer.add(list(range(100, 110)), vectors)
    best_id, best_score = reader_side.search(vectors[3], 1)[0]
    assert best_id == 103 and best_score == pytest.approx(1.0, abs=1e-5)


def test_range_removal_drops_exactly_one_documents_ids(tmp_path) -> None:
    rng = np.random.default_rng(1)
    index = VectorIndex(tmp_path / "index.faiss", 8)
    with index.writing() as writer:
        writer.add([10, 11, 12, 20, 21], unit(rng, 5))
    with index.writing() as writer:
        assert writer.remove_range(10, 20) == 3
    assert len(index) == 2
    assert {i for i, _ in index.search(unit(rng, 1)[0], 10)} == {20, 21}


def test_failed_write_leaves_the_previous_index_intact(tmp_path) -> None:
    rng = np.random.default_rng(2)
    index = VectorIndex(tmp_path / "index.faiss", 8)
    with index.writing() as writer:
        writer.add([1, 2], unit(rng, 2))
    before = (tmp_path / "index.faiss").read_bytes()
    with pytest.raises(RuntimeError), index.writing() as writer:
        writer.add([3], unit(rng, 1))
        raise RuntimeError("crash before save")
    assert (tmp_path / "index.faiss").read_bytes() == before
    assert len(VectorIndex(tmp_path / "index.faiss", 8)) == 2
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]


def test_index_built_by_another_model_is_refused_with_advice(tmp_path) -> None:
    with VectorIndex(tmp_path / "index.faiss", 8).writing() as writer:
        writer.add([1], unit(np.random.default_rng(3), 1))
    with pytest.raises(ValueError, match="rebuild the index"):
        len(VectorIndex(tmp_path / "index.faiss", 16))


def test_hnsw_is_known_for_what_it_cannot_do() -> None:
    """HNSW can neither remove vectors nor be copied to a GPU (faiss has no GPU version): the
    index keeps it on the CPU instead of trying the copy again on every reload."""
    from retrieval.search.faiss_index import is_hnsw, new_index

    assert is_hnsw(new_index("hnsw", 8))
    assert not is_hnsw(new_index("flat", 8))
