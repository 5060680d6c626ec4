"""The retrieval parts one process needs, built from settings once; heavy parts load lazily."""

from __future__ import annotations

from functools import cached_property

from retrieval.answer import Answerer
from retrieval.embeddings import Embedder
from retrieval.index import VectorIndex
from retrieval.llm import ChatModel
from retrieval.search import Retriever, Weights
from retrieval.settings import Settings
from retrieval.store import Store


class Runtime:
    def __init__(self, settings: Settings, embedder: Embedder | None = None) -> None:
        """`embedder` lets several runtimes in one process share a loaded model."""
        self.settings = settings
        if embedder is not None:
            self.__dict__["embedder"] = embedder

    @cached_property
    def store(self) -> Store:
        return Store(self.settings.database_path)

    @cached_property
    def embedder(self) -> Embedder:
        s = self.settings
        return Embedder(s.embedding_model, s.embedding_device, s.embedding_batch_size)

    @cached_property
    def index(self) -> VectorIndex:
        # The dimension comes from the model, so opening the index loads the model.
        s = self.settings
        return VectorIndex(s.index_path, self.embedder.dim, s.index_type, s.faiss_gpu)

    @cached_property
    def retriever(self) -> Retriever:
        s = self.settings
        weights = Weights(s.dense_weight, s.lexical_weight, s.rrf_k, s.search_candidates)
        return Retriever(self.store, self.index, self.embedder, weights)

    @cached_property
    def chat(self) -> ChatModel:
        return ChatModel(self.settings)

    @cached_property
    def answerer(self) -> Answerer:
        s = self.settings
        return Answerer(self.retriever, self.chat, s.answer_context_chars,
                        s.min_citation_similarity)
