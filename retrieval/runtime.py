"""The retrieval parts one process needs, built from settings once; heavy parts load lazily."""

from __future__ import annotations

from functools import cached_property

from retrieval.answers.answer import Answerer
from retrieval.core.settings import Settings
from retrieval.llm.client import ChatModel
from retrieval.search.embeddings import Embedder
from retrieval.search.faiss_index import VectorIndex
from retrieval.search.hybrid import Retriever, Weights
from retrieval.search.spaces import VectorSpaces
from retrieval.storage.accounts import AccountStore
from retrieval.storage.embedding_cache import EmbeddingCache
from retrieval.storage.jobs import JobStore
from retrieval.storage.store import Store
from retrieval.storage.webhooks import WebhookStore


class Runtime:
    def __init__(self, settings: Settings, embedder: Embedder | None = None) -> None:
        """`embedder` lets several runtimes in one process share a loaded model."""
        self.settings = settings
        self._shared_embedder = embedder

    @cached_property
    def store(self) -> Store:
        return Store(self.settings.database_path)

    @cached_property
    def jobs(self) -> JobStore:
        return JobStore(self.settings.database_path)

    @cached_property
    def accounts(self) -> AccountStore:
        return AccountStore(self.settings.database_path)

    @cached_property
    def webhooks(self) -> WebhookStore:
        return WebhookStore(self.settings.database_path)

    @cached_property
    def embedding_cache(self) -> EmbeddingCache | None:
        """None when DOCCHAT_EMBEDDING_CACHE_MB is 0."""
        size = self.settings.embedding_cache_bytes
        return EmbeddingCache(self.settings.database_path, size) if size else None

    @cached_property
    def spaces(self) -> VectorSpaces:
        return VectorSpaces(self.settings, self.store, self._shared_embedder)

    @property
    def embedder(self) -> Embedder:
        """The model of the index that serves searches now (loads it on first use)."""
        return self.spaces.active().embedder

    @property
    def index(self) -> VectorIndex:
        return self.spaces.active().index

    @cached_property
    def retriever(self) -> Retriever:
        s = self.settings
        weights = Weights(s.dense_weight, s.lexical_weight, s.rrf_k, s.search_candidates)
        return Retriever(self.store, self.spaces.active, weights,
                         filter_cache_bytes=self.settings.filter_cache_bytes)

    @cached_property
    def chat(self) -> ChatModel:
        return ChatModel(self.settings)

    @cached_property
    def answerer(self) -> Answerer:
        s = self.settings
        return Answerer(self.retriever, self.chat, s.answer_context_chars,
                        s.min_citation_similarity, s.min_relevance)
