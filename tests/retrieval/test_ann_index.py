"""The approximate index types: they find what exact search finds on real chunk vectors, and
deleting from them leaves every other id naming its own vector."""

from __future__ import annotations

import numpy as np
import pytest

from ingest.chunking import chunk_document
from ingest.pdf import parse_pdf
from retrieval.search.faiss_index import (
    TRAINERS,
    VectorIndex,
    all_vectors,
    faiss,
    new_index,
    saved_shape,
)
from tests.benchmarks.ann_recall import generator_over, grow
from tests.conftest import EVAL_PDFS


@pytest.fixture(scope="module")
def ntsb_vectors(embedder) -> np.ndarray:
    """The NTSB reports' chunks as docchat chunks them, embedded: (288, 384)."""
    texts = []
    for path in sorted((EVAL_PDFS / "ntsb").glob("*.pdf")):
        document = parse_pdf(path.read_bytes(), path.stem, path.name, 2000)
        texts += [c.text for c in chunk_document(document, embedder.count_tokens, 128, 16,
                                                 embedder.max_tokens)]
    return embedder.embed(texts)


def recall_at_10(index, vectors: np.ndarray, queries: np.ndarray) -> float:
    exact = faiss.IndexFlatIP(vectors.shape[1])
    exact.add(vectors)
    _, truth = exact.search(queries, 10)
    found = [index.search(q.reshape(1, -1), 10)[1][0] for q in queries]
    return float(np.mean([len(set(t) & set(f)) / 10 for t, f in zip(truth, found,
                                                                      strict=True)]))


@pytest.mark.parametrize("index_type", ["ivfflat", "hnsw"])
def test_the_tuned_types_find_what_exact_search_finds_on_real_chunks(ntsb_vectors,
                                                                     index_type) -> None:
    rng = np.random.default_rng(0)
    order = rng.permutation(len(ntsb_vectors))
    held_out, anchors = ntsb_vectors[order[:40]], ntsb_vectors[order[40:]]
    generator = generator_over(anchors, noise=0.5)
    vectors = np.concatenate([anchors, grow(generator, 20_000, rng)])
    ids = np.arange(len(vectors), dtype=np.int64)
    if index_type in TRAINERS:
        index = TRAINERS[index_type](vectors, ids)
    else:
        index = new_index(index_type, vectors.shape[1])
        index.add_with_ids(vectors, ids)
    # Queries the index does not hold: chunks left out, and others moved as `grow` moves them.
    queries = np.concatenate([held_out, grow(generator_over(held_out, 0.5), 60, rng)])
    assert recall_at_10(index, vectors, queries) >= 0.95


def unit(rng: np.random.Generator, n: int, dim: int = 16) -> np.ndarray:
    vectors = rng.standard_normal((n, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


@pytest.mark.parametrize("index_type", ["ivfflat", "ivfpq"])
def test_deleting_from_an_ivf_index_leaves_every_other_id_on_its_own_vector(
        tmp_path, index_type) -> None:
    rng = np.random.default_rng(1)
    count = 25_000  # trained once 39 vectors per list exist: about 24,000
    vectors = unit(rng, count)
    ids = np.arange(count, dtype=np.int64) * 10 + 7
    index = VectorIndex(tmp_path / "index.faiss", 16, index_type)
    with index.writing() as writer:
        writer.add(ids.tolist(), vectors)
    assert index.served_type == index_type  # trained when saved: enough vectors
    with index.writing() as writer:
        assert writer.remove_range(int(ids[100]), int(ids[200])) == 100
        assert writer.remove_ids(ids[:50].tolist()) == 50
        writer.add(ids[:5].tolist(), vectors[:5])  # back again, after the removals
    reread = VectorIndex(tmp_path / "index.faiss", 16, index_type)
    saved = reread.open_for_build().index
    held, stored = all_vectors(saved)
    # What a worker reads from the file's first bytes to decide on a switch.
    assert saved_shape(tmp_path / "index.faiss") == (
        len(held), index_type, faiss.downcast_index(saved.index).nlist)
    kept = np.ones(count, dtype=bool)
    kept[5:50] = kept[100:200] = False
    assert sorted(held.tolist()) == sorted(ids[kept].tolist())
    # Each id still names its own vector (ivfpq stores it compressed)...
    position = {int(i): p for p, i in enumerate(held)}
    similarity = [float(stored[position[int(i)]] @ v) for i, v in zip(ids[kept], vectors[kept],
                                                                       strict=True)]
    assert min(similarity) > (0.99 if index_type == "ivfflat" else 0.8)
    # ...and a search for a kept vector returns its id, never a deleted one.
    if index_type == "ivfflat":
        for row in (0, 3, 60, 250, count - 1):
            assert reread.search(vectors[row], 1)[0][0] == ids[row]
