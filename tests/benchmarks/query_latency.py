"""Query latency of the vector index at 10k, 100k and 1M chunks, per index type.

Measured: one query at a time (k=50, what hybrid search asks FAISS for), on synthetic unit
vectors of the bundled model's size (384) grouped around 2,000 random topics (each at cosine
about 0.7 to its topic), queries near random chunks; after a warm-up, p50/p95 over the
queries. The
baseline is the LangChain recipe's index, a flat FAISS index searched the same way (its
`similarity_search_by_vector` calls exactly that). recall@10 is against the exact flat index.
ivfpq is built as docchat builds it: flat until it holds enough vectors to train, trained then,
later vectors added to its lists. MB/1M: the serialized index per million vectors.

    python -m tests.benchmarks.query_latency [--sizes 10000,100000,1000000] [--queries 200]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from retrieval.search.faiss_index import (
    IVF_TRAIN_PER_LIST,
    faiss,
    ivf_lists,
    new_index,
    train_ivfpq,
)
from tests.benchmarks.common import header

DIM = 384
K = 50


CLUSTERS = 2000


def unit_vectors(rng: np.random.Generator, n: int, around: np.ndarray | None = None,
                 spread: float = 1.0) -> np.ndarray:
    """n unit vectors: uniform on the sphere, or each near a random row of `around` (a noise
    vector of norm about `spread` added, then normalized), as embeddings of texts on a few
    thousand topics are."""
    out = np.empty((n, DIM), dtype=np.float32)
    for first in range(0, n, 100_000):  # in slices: 1M x 384 float64 would be 3 GB at once
        size = min(100_000, n - first)
        block = rng.standard_normal((size, DIM)).astype(np.float32)
        if around is not None:
            block = around[rng.integers(0, len(around), size)] + block * (spread / DIM**0.5)
        out[first:first + size] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out


def ivfpq_training_size() -> int:
    """How many vectors docchat's ivfpq index holds when it trains (IndexWriter.train_when_due);
    until then it is flat, and afterwards new vectors are added to the trained lists."""
    count = 1
    while count < IVF_TRAIN_PER_LIST * ivf_lists(count):
        count += 1
    return count


def build(index_type: str, vectors: np.ndarray):  # type: ignore[no-untyped-def]
    """The index docchat holds after adding `vectors` in order, as the workers would."""
    ids = np.arange(len(vectors), dtype=np.int64)
    trained_at = ivfpq_training_size()
    if index_type == "ivfpq" and len(vectors) >= trained_at:
        index = train_ivfpq(vectors[:trained_at], ids[:trained_at])
        for first in range(trained_at, len(vectors), 100_000):
            index.add_with_ids(vectors[first:first + 100_000], ids[first:first + 100_000])
        return index
    index = new_index(index_type, DIM)
    index.add_with_ids(vectors, ids)
    return index


def megabytes_per_million(index, count: int) -> float:  # type: ignore[no-untyped-def]
    """The serialized index's size (what is on disk and, roughly, in memory) per 1M vectors."""
    return faiss.serialize_index(index).nbytes / count * 1_000_000 / 2**20


def latencies_ms(index, queries: np.ndarray) -> np.ndarray:  # type: ignore[no-untyped-def]
    for query in queries[:10]:
        index.search(query.reshape(1, -1), K)
    times = []
    for query in queries:
        started = time.perf_counter()
        index.search(query.reshape(1, -1), K)
        times.append((time.perf_counter() - started) * 1000)
    return np.asarray(times)


def recall_vs_flat(index, flat, queries: np.ndarray) -> float:  # type: ignore[no-untyped-def]
    """Share of the exact top 10 that the index also returns in its top 10."""
    _, exact = flat.search(queries, 10)
    _, found = index.search(queries, 10)
    return float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(exact, found, strict=True)]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--types", default="flat,hnsw,ivfpq")
    args = parser.parse_args()
    header("vector index query latency, k=50, one query at a time, synthetic clustered "
           "384-d vectors")
    rng = np.random.default_rng(7)
    topics = unit_vectors(rng, CLUSTERS)
    print(f"{'chunks':>9} {'index':>16} {'build s':>8} {'p50 ms':>8} {'p95 ms':>8} "
          f"{'recall@10':>9} {'p95 vs recipe':>13} {'MB/1M':>7}")
    for size in (int(s) for s in args.sizes.split(",")):
        vectors = unit_vectors(rng, size, topics)
        queries = unit_vectors(rng, args.queries, vectors, spread=0.5)  # near some chunk
        started = time.perf_counter()
        flat = build("flat", vectors)
        flat_build = time.perf_counter() - started
        baseline = latencies_ms(flat, queries)
        p50, p95 = np.percentile(baseline, 50), np.percentile(baseline, 95)
        print(f"{size:>9} {'langchain flat':>16} {flat_build:>8.1f} {p50:>8.2f} {p95:>8.2f}"
              f" {1.0:>9.2f} {1.0:>12.1f}x {megabytes_per_million(flat, size):>7.0f}",
              flush=True)
        for index_type in args.types.split(","):
            started = time.perf_counter()
            index = flat if index_type == "flat" else build(index_type, vectors)
            built = flat_build if index_type == "flat" else time.perf_counter() - started
            times = latencies_ms(index, queries)
            recall = recall_vs_flat(index, flat, queries[:100])
            ratio = np.percentile(baseline, 95) / np.percentile(times, 95)
            print(f"{size:>9} {'docchat ' + index_type:>16} {built:>8.1f} "
                  f"{np.percentile(times, 50):>8.2f} {np.percentile(times, 95):>8.2f} "
                  f"{recall:>9.2f} {ratio:>12.1f}x {megabytes_per_million(index, size):>7.0f}",
                  flush=True)
            del index
        del flat, vectors


if __name__ == "__main__":
    main()
