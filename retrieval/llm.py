"""The chat model, always behind an OpenAI-compatible API (vLLM, llama-cpp-python's server, ...)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import openai
from langchain_core.messages import BaseMessage
from langchain_openai import ChatOpenAI

from retrieval.settings import Settings


class LLMUnavailable(RuntimeError):
    """The LLM server cannot be reached or failed; the caller answers 503."""


_UNAVAILABLE = (
    openai.APIConnectionError,
    openai.APITimeoutError,
    openai.InternalServerError,
    openai.NotFoundError,
)


class ChatModel:
    def __init__(self, settings: Settings) -> None:
        self.base_url = settings.llm_url
        self._chat = ChatOpenAI(
            base_url=self.base_url,
            api_key=settings.llm_api_key,  # type: ignore[arg-type]
            model=settings.llm_model,
            temperature=settings.llm_temperature,
            max_completion_tokens=settings.llm_max_tokens,
            timeout=settings.llm_timeout,
            max_retries=1,
        )

    def stream(self, messages: Sequence[BaseMessage]) -> Iterator[str]:
        """Text pieces as the server generates them."""
        try:
            for piece in self._chat.stream(list(messages)):
                text = piece.content if isinstance(piece.content, str) else ""
                if text:
                    yield text
        except _UNAVAILABLE as exc:
            raise LLMUnavailable(self._unavailable_message(exc)) from exc

    def _unavailable_message(self, exc: Exception) -> str:
        return (
            f"The language model at {self.base_url} is not answering ({type(exc).__name__}). "
            "Search still works; try asking again in a moment, or check DOCCHAT_LLM_BASE_URL."
        )
