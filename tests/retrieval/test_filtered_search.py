"""Filtered search that scales with teams: what a filter allows is resolved once per change of
the workspace's chunks (exactly: the cache follows the store's per-workspace generation), and
the vector index searches only the allowed vectors, exactly, where it stores them whole."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ingest.documents import Chunk
from retrieval.search import faiss_index, subsets
from retrieval.search.faiss_index import VectorIndex
from retrieval.search.filters import AllowedIds, FilterCache
from retrieval.search.subsets import Subset
from retrieval.storage.store import ChunkFilter, DocumentRecord, Store


def unit(rng: np.random.Generator, n: int, dim: int = 16) -> np.ndarray:
    vectors = rng.standard_normal((n, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


class CountingStore(Store):
    """A real store that counts the filter queries it answers."""

    resolved = 0

    def chunk_ids_matching(self, where: ChunkFilter) -> list[int]:
        self.resolved += 1
        return super().chunk_ids_matching(where)


def indexed(store: Store, name: str, workspace: str, chunks: int = 3,
            collection: str = "default") -> tuple[DocumentRecord, list[int]]:
    record = store.add_document(name, f"{name}.txt", Path(f"/nowhere/{name}"), 10,
                                workspace=workspace, stored_kind="text", collection=collection)
    ids = store.replace_chunks(record, [
        Chunk(document_id=name, filename=f"{name}.txt", ordinal=i, text=f"{name} part {i}")
        for i in range(chunks)])
    store.mark_processing(name, 0.5)
    store.mark_indexed(name, chunks)
    return record, ids


def test_a_workspace_generation_moves_with_its_own_chunks_only(tmp_path) -> None:
    store = Store(tmp_path / "docchat.sqlite")
    assert store.generations("a") == (0, 0)
    indexed(store, "a1", "a")
    after_a = store.generations("a")
    indexed(store, "b1", "b")
    assert store.workspace_generation("a") == after_a[1]  # another team's upload
    assert store.generation() > after_a[0]
    indexed_too = store.generation()
    record = store.add_document("a2", "a2.txt", Path("/nowhere/a2"), 10, workspace="a",
                                stored_kind="text")
    store.mark_processing(record.id, 0.1)  # a new upload: nothing searchable changes yet...
    assert store.workspace_generation("a") == after_a[1]
    assert store.generation() > indexed_too  # ...but its vectors may enter the index
    store.mark_processing("a1", 0.1)  # re-indexing starts: its chunks are out of search
    moved = store.workspace_generation("a")
    assert moved > after_a[1]
    store.mark_progress("a1", 0.5)
    store.mark_processing("a1", 0.7)  # progress within processing changes nothing searchable
    assert store.workspace_generation("a") == moved
    store.mark_indexed("a1", 3)
    assert store.workspace_generation("a") > moved
    before_delete = store.workspace_generation("a")
    store.delete_document("a1")
    assert store.workspace_generation("a") > before_delete


def test_a_filter_is_resolved_once_per_change_of_its_workspace(tmp_path) -> None:
    store = CountingStore(tmp_path / "docchat.sqlite")
    _, a_ids = indexed(store, "a1", "a")
    indexed(store, "b1", "b")
    cache = FilterCache(store)
    where = ChunkFilter(workspace="a")
    first = cache.allowed(where)
    assert first is not None and list(first.ids) == a_ids
    assert cache.allowed(where) is first and store.resolved == 1
    indexed(store, "b2", "b")  # another team's upload: still valid
    assert cache.allowed(where) is first and store.resolved == 1
    _, more = indexed(store, "a2", "a", collection="specs")
    again = cache.allowed(where)
    assert again is not None and list(again.ids) == sorted(a_ids + more)
    assert store.resolved == 2
    narrowed = cache.allowed(ChunkFilter(workspace="a", collections=("specs",)))
    assert narrowed is not None and list(narrowed.ids) == more
    store.delete_document("a2")
    after = cache.allowed(where)
    assert after is not None and list(after.ids) == a_ids


def test_one_teams_store_needs_no_filter_until_another_team_indexes(tmp_path) -> None:
    store = Store(tmp_path / "docchat.sqlite")
    _, ids = indexed(store, "a1", "a")
    cache = FilterCache(store)
    assert cache.allowed(ChunkFilter(workspace="a")) is None
    narrowed = cache.allowed(ChunkFilter(workspace="a", document_ids=("a1",)))
    assert narrowed is not None and list(narrowed.ids) == ids
    record = store.add_document("b1", "b1.txt", Path("/nowhere/b1"), 10, workspace="b",
                                stored_kind="text")
    store.replace_chunks(record, [Chunk(document_id="b1", filename="b1.txt", ordinal=0,
                                        text="b")])
    store.mark_processing("b1", 0.1)  # its vectors may be in the index from now on
    allowed = cache.allowed(ChunkFilter(workspace="a"))
    assert allowed is not None and list(allowed.ids) == ids


def test_the_cache_holds_a_bounded_number_of_ids(tmp_path) -> None:
    store = CountingStore(tmp_path / "docchat.sqlite")
    indexed(store, "a1", "a", chunks=5)
    indexed(store, "b1", "b", chunks=5)
    cache = FilterCache(store, max_bytes=64)  # 5 ids take 40 bytes
    a, b = ChunkFilter(workspace="a"), ChunkFilter(workspace="b")
    cache.allowed(a)
    cache.allowed(b)  # 80 bytes > 64: the older entry goes
    cache.allowed(b)
    assert store.resolved == 2
    cache.allowed(a)
    assert store.resolved == 3


@pytest.mark.parametrize("runs", [True, False])
def test_a_subset_search_is_exact(runs) -> None:
    rng = np.random.default_rng(5)
    vectors = unit(rng, 600)
    if runs:  # documents of 40 chunks, every third one allowed
        positions = np.concatenate([np.arange(s, s + 40) for s in range(0, 600, 120)])
    else:  # scattered single chunks
        positions = np.sort(rng.choice(600, 90, replace=False))
    subset = Subset.at(positions)
    assert (subset.runs is not None) == runs
    query = unit(rng, 1)[0]
    found, scores = subset.search(vectors, query, 10)
    truth = positions[np.argsort(-(vectors[positions] @ query))[:10]]
    assert list(found) == list(truth)
    assert np.allclose(scores, vectors[found] @ query)
    assert len(subset.search(vectors, query, 1000)[0]) == len(positions)


@pytest.mark.parametrize("index_type", ["flat", "hnsw", "ivfpq"])
def test_a_restricted_search_returns_the_best_allowed_ids(tmp_path, index_type) -> None:
    rng = np.random.default_rng(6)
    vectors = unit(rng, 2000)
    ids = np.arange(2000, dtype=np.int64) + 10_000
    index = VectorIndex(tmp_path / "index.faiss", 16, index_type)
    with index.writing() as writer:
        writer.add(list(map(int, ids)), vectors)
    team = ids[(ids // 50) % 4 == 1]  # every fourth document of 50 chunks
    allowed = AllowedIds(np.concatenate([team, [1, 2, 99_999]]))  # and ids not in the index
    query = unit(rng, 1)[0]
    found = index.search(query, 20, allowed)
    truth = team[np.argsort(-(vectors[team - 10_000] @ query))[:20]]
    assert {i for i, _ in found} <= set(map(int, team))
    if index_type != "ivfpq":  # ivfpq searches its lists with a selector: approximate
        assert [i for i, _ in found] == list(map(int, truth))
    assert index.search(query, 5, AllowedIds(np.array([], dtype=np.int64))) == []


def test_a_large_share_of_an_hnsw_index_walks_the_graph_restricted(tmp_path,
                                                                   monkeypatch) -> None:
    monkeypatch.setattr(faiss_index, "SUBSET_SCAN_MAX", 100)
    rng = np.random.default_rng(7)
    vectors = unit(rng, 1000)
    index = VectorIndex(tmp_path / "index.faiss", 16, "hnsw")
    with index.writing() as writer:
        writer.add(list(range(1000)), vectors)
    team = np.arange(0, 1000, 2, dtype=np.int64)  # 500 > 100: the graph, with a selector
    query = unit(rng, 1)[0]
    found = [i for i, _ in index.search(query, 10, AllowedIds(team))]
    truth = team[np.argsort(-(vectors[team] @ query))[:10]]
    assert set(found) <= set(map(int, team))
    assert len(set(found) & set(map(int, truth))) >= 9


def test_what_a_filter_derived_follows_the_index_after_a_write(tmp_path) -> None:
    """Positions in a loaded index are kept with the allowed ids; a write makes readers load
    a new index, and the old positions must not be used on it."""
    rng = np.random.default_rng(8)
    vectors = unit(rng, 300)
    writer_side = VectorIndex(tmp_path / "index.faiss", 16)
    reader = VectorIndex(tmp_path / "index.faiss", 16)
    with writer_side.writing() as writer:
        writer.add(list(range(300)), vectors)
    allowed = AllowedIds(np.arange(100, 200, dtype=np.int64))
    query = vectors[150]
    assert reader.search(query, 1, allowed)[0][0] == 150
    with writer_side.writing() as writer:
        writer.remove_range(0, 151)  # positions of everything after shift
    found = reader.search(query, 5, allowed)
    assert found and all(151 <= i < 200 for i, _ in found)
    best = max(range(151, 200), key=lambda i: float(vectors[i] @ query))
    assert found[0][0] == best


def test_an_ivfflat_index_gathers_a_teams_vectors_from_its_lists(tmp_path) -> None:
    """IVF-Flat keeps exact vectors, in lists by cluster: a team's are copied out of the lists
    for its search, which is exact where the lists it would probe (a few of many) hold only
    some of the team's best."""
    rng = np.random.default_rng(9)
    vectors = unit(rng, 3000)
    inner = faiss_index.faiss.IndexIVFFlat(faiss_index.faiss.IndexFlatIP(16), 16, 64,
                                           faiss_index.faiss.METRIC_INNER_PRODUCT)
    inner.train(vectors)
    inner.nprobe = 2
    ivf = faiss_index.faiss.IndexIDMap2(inner)
    ids = np.arange(3000, dtype=np.int64) * 7 + 5
    ivf.add_with_ids(vectors, ids)
    faiss_index.faiss.write_index(ivf, str(tmp_path / "index.faiss"))
    index = VectorIndex(tmp_path / "index.faiss", 16)
    team = ids[(np.arange(3000) // 30) % 5 == 2]
    allowed = AllowedIds(team)
    faiss = faiss_index.faiss
    selected = faiss.SearchParametersIVF(sel=faiss.IDSelectorBatch(team), nprobe=2)
    misses = 0
    for query in unit(rng, 20):
        found = [i for i, _ in index.search(query, 10, allowed)]
        truth = team[np.argsort(-(vectors[(team - 5) // 7] @ query))[:10]]
        assert found == list(map(int, truth))
        _, probed = ivf.search(query.reshape(1, -1), 10, params=selected)
        misses += len(set(map(int, truth)) - set(map(int, probed[0])))
    assert misses > 0  # a selector over the two lists probed misses some of the team's best
    assert allowed.nbytes == 2 * team.nbytes  # the ids and their positions, no vectors


def test_a_large_team_of_an_ivfflat_index_reads_more_lists_with_a_bitmap(tmp_path,
                                                                         monkeypatch) -> None:
    """Above GATHER_MAX a team's vectors are searched in the lists, with a bitmap of their
    positions as the selector, reading as many lists as it takes to meet
    RESTRICTED_LIST_MEMBERS of them: more than an unrestricted search reads."""
    monkeypatch.setattr(faiss_index, "GATHER_MAX", 100)
    rng = np.random.default_rng(10)
    vectors = unit(rng, 4000)
    faiss = faiss_index.faiss
    inner = faiss.IndexIVFFlat(faiss.IndexFlatIP(16), 16, 64, faiss.METRIC_INNER_PRODUCT)
    inner.train(vectors)
    inner.nprobe = 2
    ivf = faiss.IndexIDMap2(inner)
    ids = np.arange(4000, dtype=np.int64) * 3 + 1
    ivf.add_with_ids(vectors, ids)
    faiss.write_index(ivf, str(tmp_path / "index.faiss"))
    index = VectorIndex(tmp_path / "index.faiss", 16)
    team = ids[(np.arange(4000) // 20) % 8 == 3]  # 500 of 4,000: a list holds about 8
    allowed = AllowedIds(np.concatenate([team, [0, 2]]))  # and ids the index does not hold
    assert subsets.restricted_probes(64, 2, len(team)) == 64  # 1,000 wanted: every list
    for query in unit(rng, 10):
        found = index.search(query, 10, allowed)
        truth = team[np.argsort(-(vectors[(team - 1) // 3] @ query))[:10]]
        assert [i for i, _ in found] == list(map(int, truth))
        assert np.allclose([s for _, s in found],
                           np.sort(vectors[(team - 1) // 3] @ query)[::-1][:10], atol=1e-5)
    assert subsets.restricted_probes(4000, 128, 8600) == 466
    assert subsets.restricted_probes(4000, 128, 150_000) == 128


def test_a_position_bitmap_selects_exactly_its_positions() -> None:
    positions = np.array([0, 7, 8, 9, 63, 999], dtype=np.int64)
    bitmap = subsets.PositionBitmap(positions, 1000)
    member = [i for i in range(1000) if bitmap.selector.is_member(i)]
    assert member == list(map(int, positions))
    assert bitmap.nbytes == 125
