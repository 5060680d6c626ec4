"""Filtered search with many teams in one index: a million chunks across a hundred workspaces.

Measured, one query at a time (k=50, what hybrid search asks the vector index for), after a
warm-up: the p50/p95 of docchat's vector search restricted the way hybrid search restricts it
(the filter resolved through `FilterCache`, then `VectorIndex.search` with the allowed ids),
for a team's whole workspace, one collection of it, and one document; beside the same index
searched without a filter (one team alone: nothing to restrict). recall@10 is against the
exact top 10 of the allowed chunks. The filter's first resolution after a change of the
workspace (the SQLite query) is timed apart: it runs once per change, not per search.

The store is real (SQLite, documents added, chunked and marked indexed through `Store`), as is
the index. Documents of 100 chunks are uploaded in turn by the teams, so each team's vectors
are scattered over the index in runs of one document; one team holds 15% of the chunks (a
search of it walks an HNSW graph with a selector, above `SUBSET_SCAN_MAX`). Vectors are the
synthetic clustered unit vectors of `query_latency` (an exact restricted search costs the same
on any vectors; the graph's recall depends on them, see `ann_recall`).

The recipe is LangChain's FAISS vector store over a flat index (the plain recipe's), whose
`filter=` keeps the matching documents among the `fetch_k` nearest (20 by default): its
recall shows what a post-filter finds when a team holds 1% of the index; it is also run
with `fetch_k` = 100 x k.

    python -m tests.benchmarks.filtered_search [--chunks 1000000] [--workspaces 100]
        [--types flat,ivfflat,hnsw] [--queries 200]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ingest.documents import Chunk
from retrieval.search.faiss_index import VectorIndex, faiss
from retrieval.search.filters import FilterCache
from retrieval.storage.store import ChunkFilter, Store
from tests.benchmarks.common import header
from tests.benchmarks.query_latency import CLUSTERS, DIM, unit_vectors

K = 50
PER_DOCUMENT = 100
COLLECTIONS = 10
BIG_SHARE = 0.15


def build_store(path: Path, chunks: int, workspaces: int, rng: np.random.Generator,
                ) -> tuple[Store, np.ndarray, dict[str, tuple[str, str]]]:
    """A store of `chunks` chunks in documents of PER_DOCUMENT, uploaded in turn by the
    workspaces (workspace w0 uploading BIG_SHARE of them); the chunk ids in upload order, and
    each document's (workspace, collection)."""
    store = Store(path)
    documents = chunks // PER_DOCUMENT
    big = int(documents * BIG_SHARE)
    owners = np.concatenate([np.zeros(big, dtype=int),
                             1 + np.arange(documents - big) % (workspaces - 1)])
    rng.shuffle(owners)
    ids: list[int] = []
    where: dict[str, tuple[str, str]] = {}
    for n, owner in enumerate(owners):
        name, workspace = f"d{n}", f"w{owner}"
        collection = f"c{rng.integers(COLLECTIONS)}"
        record = store.add_document(name, f"{name}.txt", path.parent / name, 1,
                                    workspace=workspace, stored_kind="text",
                                    collection=collection)
        ids += store.replace_chunks(record, [
            Chunk(document_id=name, filename=f"{name}.txt", ordinal=i, text="x")
            for i in range(PER_DOCUMENT)])
        store.mark_processing(name, 0.5)
        store.mark_indexed(name, PER_DOCUMENT)
        where[name] = (workspace, collection)
    return store, np.asarray(ids, dtype=np.int64), where


def timed(search: Callable[[int, np.ndarray], object], queries: np.ndarray) -> np.ndarray:
    """Milliseconds of each search(n, the nth query), after ten unmeasured."""
    for n, query in enumerate(queries[:10]):
        search(n, query)
    times = []
    for n, query in enumerate(queries):
        started = time.perf_counter()
        search(n, query)
        times.append((time.perf_counter() - started) * 1000)
    return np.asarray(times)


def recall(found: list[list[int]], exact: list[list[int]]) -> float:
    return float(np.mean([len(set(f[:10]) & set(e[:10])) / max(1, min(10, len(e)))
                          for f, e in zip(found, exact, strict=True)]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chunks", type=int, default=1_000_000)
    parser.add_argument("--workspaces", type=int, default=100)
    parser.add_argument("--types", default="flat,ivfflat,hnsw")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--no-recipe", action="store_true")
    args = parser.parse_args()
    header(f"filtered vector search, {args.chunks:,} chunks across {args.workspaces} "
           f"workspaces, k={K}, one query at a time")
    rng = np.random.default_rng(11)
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        store, ids, owner = build_store(Path(tmp) / "docchat.sqlite", args.chunks,
                                        args.workspaces, rng)
        print(f"store: {len(ids):,} chunk rows in {len(owner):,} documents, "
              f"{time.perf_counter() - started:.0f} s", flush=True)
        vectors = unit_vectors(rng, len(ids), unit_vectors(rng, CLUSTERS))
        position = {int(i): n for n, i in enumerate(ids)}
        cases = filter_cases(store, owner, rng, args.queries)
        queries = {name: near(rng, vectors, [position[i] for i in allowed_ids], args.queries)
                   for name, (_, allowed_ids) in cases.items()}
        resolution_ms(store, owner)
        print(f"\n{'index':>14} {'filter':>22} {'allowed':>8} {'p50 ms':>8} {'p95 ms':>8} "
              f"{'recall@10':>9} {'p95 / unfiltered':>16}")
        for index_type in args.types.split(","):
            measure_type(Path(tmp), index_type, ids, vectors, store, cases, queries,
                         position)
        if not args.no_recipe:
            measure_recipe(ids, vectors, owner, store, cases, queries, position)


def filter_cases(store: Store, owner: dict[str, tuple[str, str]], rng: np.random.Generator,
                 count: int) -> dict[str, tuple[list[ChunkFilter], list[int]]]:
    """For each kind of filter, `count` filters (teams drawn at random among the ordinary
    ones) and the ids the first allows (its queries are drawn near its chunks)."""
    ordinary = sorted({w for w, _ in owner.values()} - {"w0"})
    documents = list(owner)
    kinds: dict[str, list[ChunkFilter]] = {
        "workspace": [ChunkFilter(workspace=str(rng.choice(ordinary))) for _ in range(count)],
        "big workspace (15%)": [ChunkFilter(workspace="w0")] * count,
        "workspace+collection": [],
        "one document": [],
    }
    for _ in range(count):
        name = documents[int(rng.integers(len(documents)))]
        workspace, collection = owner[name]
        kinds["workspace+collection"].append(ChunkFilter(workspace=workspace,
                                                         collections=(collection,)))
        kinds["one document"].append(ChunkFilter(workspace=workspace, document_ids=(name,)))
    return {kind: (filters, store.chunk_ids_matching(filters[0]))
            for kind, filters in kinds.items()}


def near(rng: np.random.Generator, vectors: np.ndarray, positions: list[int],
         count: int) -> np.ndarray:
    """Queries near chunks of the filter (what a team asks about is in its documents)."""
    chosen = vectors[rng.choice(positions, count)]
    noisy = chosen + rng.standard_normal(chosen.shape).astype(np.float32) * (0.5 / DIM**0.5)
    return (noisy / np.linalg.norm(noisy, axis=1, keepdims=True)).astype(np.float32)


def resolution_ms(store: Store, owner: dict[str, tuple[str, str]]) -> None:
    """The SQLite query a filter costs once per change of its workspace, and a cached one."""
    teams = sorted({w for w, _ in owner.values()})[:20]
    cold, warm = [], []
    cache = FilterCache(store)
    for team in teams:
        where = ChunkFilter(workspace=team)
        started = time.perf_counter()
        cache.allowed(where)
        cold.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        cache.allowed(where)
        warm.append((time.perf_counter() - started) * 1000)
    print(f"resolving a workspace filter: first after a change p50 {np.median(cold):.1f} ms, "
          f"cached p50 {np.median(warm):.3f} ms (one SQLite read of the generations)")


def measure_type(tmp: Path, index_type: str, ids: np.ndarray, vectors: np.ndarray,
                 store: Store, cases: dict[str, tuple[list[ChunkFilter], list[int]]],
                 queries: dict[str, np.ndarray], position: dict[int, int]) -> None:
    started = time.perf_counter()
    index = VectorIndex(tmp / f"{index_type}.faiss", DIM, index_type, use_gpu=False)
    with index.writing() as writer:
        for first in range(0, len(ids), 100_000):
            writer.add(list(map(int, ids[first:first + 100_000])),
                       vectors[first:first + 100_000])
    index.search(vectors[0], 1)  # load
    print(f"{index_type:>14} {'(built)':>22} {len(ids):>8} "
          f"{time.perf_counter() - started:>7.0f}s", flush=True)
    everyone = np.concatenate(list(queries.values()))[:len(queries["workspace"])]
    unfiltered = timed(lambda n, q: index.search(q, K), everyone)
    base = np.percentile(unfiltered, 95)
    print(f"{index_type:>14} {'none (one team)':>22} {len(ids):>8} "
          f"{np.percentile(unfiltered, 50):>8.2f} {base:>8.2f} {'':>9} {1.0:>15.1f}x",
          flush=True)
    cache = FilterCache(store)
    for kind, (filters, _) in cases.items():
        def restricted(n: int, query: np.ndarray, filters: list[ChunkFilter] = filters,
                       ) -> object:
            where = filters[n % len(filters)]
            return index.search(query, K, cache.allowed(where))

        for where in set(filters):  # each filter's first resolution is timed apart
            cache.allowed(where)
        times = timed(restricted, queries[kind])
        found, exact = [], []
        for n, query in enumerate(queries[kind][:50]):
            allowed = cache.allowed(filters[n % len(filters)])
            assert allowed is not None
            found.append([i for i, _ in index.search(query, 10, allowed)])
            rows = vectors[[position[int(i)] for i in allowed.ids]]
            exact.append([int(allowed.ids[j]) for j in np.argsort(-(rows @ query))[:10]])
        size = np.median([len(cache.allowed(w) or ()) for w in list(set(filters))[:20]])
        print(f"{index_type:>14} {kind:>22} {size:>8.0f} {np.percentile(times, 50):>8.2f} "
              f"{np.percentile(times, 95):>8.2f} {recall(found, exact):>9.2f} "
              f"{np.percentile(times, 95) / base:>15.2f}x", flush=True)


def measure_recipe(ids: np.ndarray, vectors: np.ndarray, owner: dict[str, tuple[str, str]],
                   store: Store, cases: dict[str, tuple[list[ChunkFilter], list[int]]],
                   queries: dict[str, np.ndarray], position: dict[int, int]) -> None:
    from langchain_community.docstore.in_memory import InMemoryDocstore
    from langchain_community.vectorstores import FAISS
    from langchain_community.vectorstores.utils import DistanceStrategy
    from langchain_core.documents import Document

    started = time.perf_counter()
    flat = faiss.IndexFlatIP(DIM)
    flat.add(vectors)
    docstore = InMemoryDocstore({
        str(n): Document(page_content="", metadata={
            "workspace": owner[f"d{n // PER_DOCUMENT}"][0],
            "collection": owner[f"d{n // PER_DOCUMENT}"][1],
            "document": f"d{n // PER_DOCUMENT}", "position": n})
        for n in range(len(ids))})
    recipe = FAISS(embedding_function=lambda text: [0.0] * DIM,  # type: ignore[arg-type]
                   index=flat, docstore=docstore,
                   index_to_docstore_id={n: str(n) for n in range(len(ids))},
                   distance_strategy=DistanceStrategy.MAX_INNER_PRODUCT)
    print(f"{'recipe flat':>14} {'(built)':>22} {len(ids):>8} "
          f"{time.perf_counter() - started:>7.0f}s", flush=True)
    cache = FilterCache(store)
    for fetch_k in (20, 100 * K):
        for kind, (filters, _) in cases.items():
            def search(n: int, query: np.ndarray, filters: list[ChunkFilter] = filters,
                       fetch_k: int = fetch_k) -> object:
                return recipe.similarity_search_with_score_by_vector(
                    query.tolist(), k=K, filter=metadata(filters[n % len(filters)]),
                    fetch_k=fetch_k)

            times = timed(search, queries[kind][:60])
            found, exact = [], []
            for n, query in enumerate(queries[kind][:30]):
                where = filters[n % len(filters)]
                hits = recipe.similarity_search_with_score_by_vector(
                    query.tolist(), k=10, filter=metadata(where), fetch_k=fetch_k)
                found.append([int(ids[doc.metadata["position"]]) for doc, _ in hits])
                allowed = cache.allowed(where)
                assert allowed is not None
                rows = vectors[[position[int(i)] for i in allowed.ids]]
                exact.append([int(allowed.ids[j]) for j in np.argsort(-(rows @ query))[:10]])
            label = f"recipe k={fetch_k}"
            print(f"{label:>14} {kind:>22} {'':>8} {np.percentile(times, 50):>8.2f} "
                  f"{np.percentile(times, 95):>8.2f} {recall(found, exact):>9.2f}", flush=True)


def metadata(where: ChunkFilter) -> dict[str, str]:
    """The recipe's filter for a docchat filter (its documents carry these fields)."""
    wanted = {"workspace": where.workspace}
    if where.collections:
        wanted["collection"] = where.collections[0]
    if where.document_ids:
        wanted["document"] = where.document_ids[0]
    return wanted


if __name__ == "__main__":
    main()
