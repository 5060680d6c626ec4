"""Queries to cited hits: dense (FAISS) and lexical (BM25) search, fused by reciprocal rank,
restricted by filters inside both searches, and fitted to a context budget by merging
neighbouring chunks instead of returning near-duplicates."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace

import numpy as np

from retrieval.search.embeddings import Embedder
from retrieval.search.filters import FilterCache
from retrieval.search.lexical import LexicalIndex
from retrieval.search.spaces import VectorSpace
from retrieval.storage.store import ChunkFilter, Store, StoredChunk


@dataclass(frozen=True)
class PassageRef:
    """A passage by position: chunks first..last (inclusive) of a document."""

    document_id: str
    first_ordinal: int
    last_ordinal: int

    def to_json(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class Hit:
    chunk_id: int
    document_id: str
    filename: str
    page: int | None  # PDFs
    text: str
    score: float
    speakers: tuple[str, ...] = ()  # meetings: who speaks in the passage
    turn_start: int | None = None  # meetings: first and last turn, 0-based, inclusive
    turn_end: int | None = None
    start_time: str | None = None
    end_time: str | None = None
    first_ordinal: int = 0  # the chunks (by position in the document) the passage spans
    last_ordinal: int = 0

    def to_json(self) -> dict[str, object]:
        data = asdict(self)
        data["speakers"] = list(self.speakers)
        del data["first_ordinal"], data["last_ordinal"]
        return data

    def ref(self) -> PassageRef:
        return PassageRef(self.document_id, self.first_ordinal, self.last_ordinal)

    def location(self) -> str:
        """Where the passage is, as a reader would say it: 'report.pdf, page 3'."""
        if self.turn_start is not None:
            turns = (f"turn {self.turn_start}" if self.turn_start == self.turn_end
                     else f"turns {self.turn_start}-{self.turn_end}")
            who = f" ({', '.join(self.speakers)})" if self.speakers else ""
            return f"{self.filename}, {turns}{who}"
        if self.page is not None:
            return f"{self.filename}, page {self.page}"
        return self.filename


@dataclass(frozen=True)
class Weights:
    dense: float = 1.0
    lexical: float = 1.0
    rrf_k: int = 60  # the constant of reciprocal-rank fusion: 1 / (rrf_k + rank)
    candidates: int = 50  # how deep each search goes before fusion


def fuse(rankings: list[tuple[float, list[int]]], rrf_k: int) -> list[tuple[int, float]]:
    """Reciprocal-rank fusion of (weight, ids best first) rankings, best first."""
    scores: dict[int, float] = {}
    for weight, ids in rankings:
        for rank, chunk_id in enumerate(ids, start=1):
            scores[chunk_id] = scores.get(chunk_id, 0.0) + weight / (rrf_k + rank)
    return sorted(scores.items(), key=lambda item: -item[1])


class Retriever:
    def __init__(self, store: Store, space: Callable[[], VectorSpace],
                 weights: Weights | None = None, filter_cache_bytes: int = 256 * 2**20,
                 ) -> None:
        """`space` gives the embedding model and index that serve searches now: it changes
        when a rebuild for a new embedding model completes. `filter_cache_bytes`: what the
        filters' cache may hold (DOCCHAT_FILTER_CACHE_MB)."""
        self.store = store
        self.space = space
        self.weights = weights or Weights()
        self.lexical = LexicalIndex(store.searchable_chunks, store.workspace_generation)
        self.filters = FilterCache(store, filter_cache_bytes)

    @property
    def embedder(self) -> Embedder:
        return self.space().embedder

    def search(self, query: str, k: int, where: ChunkFilter,
               budget_chars: int | None = None) -> list[Hit]:
        """The best passages for a query, best first, among the chunks `where` allows (always
        one workspace's).

        Without a budget: the k best chunks. With one: passages (a chunk, or neighbouring
        chunks merged) whose texts add up to at most `budget_chars`, from the best candidates.
        """
        space = self.space()
        vector = space.embedder.embed([query])[0]
        hits = self._ranked(query, vector, space, where, _depth(self.weights, k, budget_chars))
        if budget_chars is None:
            return hits[:k]
        return fit_budget(hits, budget_chars)

    def search_each(self, query: str, where: ChunkFilter, documents: Sequence[str],
                    budget_chars: int) -> list[list[Hit]]:
        """For each of `documents` (all within `where`), its best passages, fitted to its
        share of `budget_chars`: what is left, split evenly among the documents still to
        come."""
        space = self.space()
        vector = space.embedder.embed([query])[0]
        found: list[list[Hit]] = []
        used: list[int] = []
        for document_id in documents:
            share = (budget_chars - sum(used)) // (len(documents) - len(used))
            narrowed = replace(where, document_ids=(document_id,))
            hits = fit_budget(self._ranked(query, vector, space, narrowed,
                                           _depth(self.weights, 1, share)), share)
            found.append(hits)
            used.append(sum(len(hit.text) for hit in hits))
        return found

    def _ranked(self, query: str, vector: np.ndarray, space: VectorSpace, where: ChunkFilter,
                depth: int) -> list[Hit]:
        """Chunks fused from the dense and the lexical ranking, best first."""
        allowed = self.filters.allowed(where)
        if allowed is not None and not len(allowed):
            return []
        dense = [i for i, _ in space.index.search(vector, depth, allowed)]
        # The workspace's BM25 index holds what a workspace-only filter allows, no more.
        narrowed = None if where.workspace_only or allowed is None else allowed.ids
        lexical = [i for i, _ in self.lexical.search(query, depth, where.workspace, narrowed)]
        fused = fuse([(self.weights.dense, dense), (self.weights.lexical, lexical)],
                     self.weights.rrf_k)
        rows = self.store.chunks_by_id(chunk_id for chunk_id, _ in fused)
        # Checked again on the rows themselves: another team's document indexed between the
        # filter and the search must not slip through.
        return [_hit(rows[i], score) for i, score in fused
                if i in rows and rows[i].workspace == where.workspace]

    def passages(self, refs: Sequence[PassageRef], where: ChunkFilter,
                 budget_chars: int) -> list[Hit]:
        """The passages at these positions, as they read now (what an answer was given, to
        answer again), fitted to `budget_chars` like a search's: each chunk once, neighbours
        merged, in the order of the refs. Positions the filter excludes (another workspace's,
        too) or that no longer exist are left out."""
        allowed = self.filters.allowed(where)
        chunks: dict[int, Hit] = {}
        for ref in refs:
            rows = self.store.chunks_in_range(ref.document_id, ref.first_ordinal,
                                              ref.last_ordinal)
            for row in rows:
                # None: the store holds only this workspace, and the filter is the workspace.
                permitted = row.workspace == where.workspace if allowed is None else (
                    row.id in allowed)
                if permitted and row.id not in chunks:
                    chunks[row.id] = _hit(row, 0.0)
        return fit_budget(list(chunks.values()), budget_chars)


def _depth(weights: Weights, k: int, budget_chars: int | None) -> int:
    """How deep each ranking goes: enough candidates to fill a large budget too (a chunk is
    a few hundred characters)."""
    return max(weights.candidates, k, (budget_chars or 0) // 250)


def _hit(row: StoredChunk, score: float) -> Hit:
    return Hit(
        chunk_id=row.id, document_id=row.document_id, filename=row.filename, page=row.page,
        text=row.text, score=score, speakers=row.speakers, turn_start=row.turn_start,
        turn_end=row.turn_end, start_time=row.start_time, end_time=row.end_time,
        first_ordinal=row.ordinal, last_ordinal=row.ordinal,
    )


def fit_budget(ranked: list[Hit], budget_chars: int) -> list[Hit]:
    """Passages, in the order of their best chunk, whose texts fit `budget_chars`.

    A chunk next to one already taken (same document, neighbouring position, same page for
    PDFs) extends that passage, with the overlap between them written once; a chunk that
    does not fit is skipped for a smaller one further down.
    """
    passages: list[Hit] = []
    used = 0
    for hit in ranked:
        if any(_covers(p, hit) for p in passages):
            continue
        at = next((i for i, p in enumerate(passages) if _adjacent(p, hit)), None)
        if at is not None:
            merged = _merge(passages[at], hit)
            if used - len(passages[at].text) + len(merged.text) <= budget_chars:
                used += len(merged.text) - len(passages[at].text)
                passages[at] = merged
            continue
        if used + len(hit.text) <= budget_chars:
            passages.append(hit)
            used += len(hit.text)
    return passages


def _covers(passage: Hit, hit: Hit) -> bool:
    return (passage.document_id == hit.document_id
            and passage.first_ordinal <= hit.first_ordinal <= passage.last_ordinal)


def _adjacent(passage: Hit, hit: Hit) -> bool:
    return (passage.document_id == hit.document_id and passage.page == hit.page
            and (hit.first_ordinal == passage.last_ordinal + 1
                 or hit.last_ordinal == passage.first_ordinal - 1))


def _merge(passage: Hit, hit: Hit) -> Hit:
    before, after = (passage, hit) if hit.first_ordinal > passage.last_ordinal else (hit, passage)
    speakers = tuple(dict.fromkeys(before.speakers + after.speakers))
    return replace(
        passage,
        text=join_overlapping(before.text, after.text),
        score=max(passage.score, hit.score),
        speakers=speakers,
        turn_start=before.turn_start if before.turn_start is not None else after.turn_start,
        turn_end=after.turn_end if after.turn_end is not None else before.turn_end,
        start_time=before.start_time or after.start_time,
        end_time=after.end_time or before.end_time,
        first_ordinal=before.first_ordinal,
        last_ordinal=after.last_ordinal,
    )


def join_overlapping(first: str, second: str, longest: int = 2000, shortest: int = 12) -> str:
    """first + second, writing once the text that ends `first` and starts `second` (an overlap
    shorter than `shortest` characters is taken for a coincidence)."""
    for size in range(min(len(first), len(second), longest), shortest - 1, -1):
        if first.endswith(second[:size]):
            return first + second[size:]
    return f"{first}\n{second}"
