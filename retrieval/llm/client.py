"""The chat model, always behind an OpenAI-compatible API (vLLM, llama-cpp-python's server, ...).

Everything goes through the OpenAI client: streamed answers, single completions, structured
output and the list of served models (GET /models, which also gives the context window).
The request shape for a JSON schema differs between servers (OpenAI and vLLM take
`json_schema`, llama-cpp-python's server takes `json_object` with a `schema` and answers 500
to `json_schema`), and docchat chooses it per server.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import openai
from langchain_core.messages import BaseMessage
from openai.types.chat import ChatCompletionMessageParam
from pydantic import BaseModel, ValidationError

from retrieval.core.settings import Settings, SettingsError

log = logging.getLogger(__name__)

Model = TypeVar("Model", bound=BaseModel)


class LLMUnavailable(RuntimeError):
    """The LLM server cannot be reached or failed; the caller answers 503."""


class ContextOverflow(ValueError):
    """The prompt does not fit the model's context window; the caller splits its input."""


class StructuredOutputError(RuntimeError):
    """The model's reply did not validate against the schema, even after a repair request."""


@dataclass(frozen=True)
class LLMCall:
    """One finished request to the LLM server, as told to the listeners (web/metrics.py)."""

    kind: str  # "stream" or "complete"
    outcome: str  # "ok", "error", or "closed" (a stream its reader stopped early)
    seconds: float
    # Tokens the model wrote: the server's usage figure when it sends one, else the streamed
    # pieces (about a token each), else an estimate from the text.
    tokens: int


_listeners: list[Callable[[LLMCall], None]] = []


def add_llm_listener(listener: Callable[[LLMCall], None]) -> None:
    """Call `listener` after every LLM request of this process (once, however often added).
    A hook rather than an import, so that retrieval needs nothing of whoever counts."""
    if listener not in _listeners:
        _listeners.append(listener)


def _tell_listeners(call: LLMCall) -> None:
    for listener in list(_listeners):
        listener(call)


_UNAVAILABLE = (
    openai.APIConnectionError,
    openai.APITimeoutError,
    openai.InternalServerError,
    openai.NotFoundError,
)

# How each server is asked for JSON that follows a schema, in the order auto-detection tries.
STRUCTURED_MODES = ("json_schema", "json_object", "prompt")

_ROLES = {"human": "user", "ai": "assistant", "system": "system"}


def to_openai_messages(messages: Sequence[BaseMessage]) -> list[dict[str, str]]:
    return [{"role": _ROLES.get(m.type, m.type), "content": str(m.content)} for m in messages]


# What servers say when a prompt does not fit: vLLM's OpenAI layer "This model's maximum
# context length is N tokens", its engine "... is longer than the maximum model length of N";
# llama.cpp "Requested tokens (N) exceed context window of M".
_OVERFLOW_WORDS = ("context length", "context window", "too many tokens",
                   "maximum model length", "max_model_len")


def is_context_overflow(exc: openai.APIStatusError) -> bool:
    """Whether the server refused the request (400) because the prompt does not fit."""
    text = str(exc).lower()
    return any(words in text for words in _OVERFLOW_WORDS)


def inline_refs(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema with `$ref`s to `$defs` replaced by their definitions (pydantic writes refs
    for nested models; not every server's grammar compiler follows them), and without string
    length limits, which llama.cpp's grammar compiler unrolls into grammars it cannot parse."""
    definitions = schema.get("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return resolve(definitions[node["$ref"].rsplit("/", 1)[-1]])
            return {k: resolve(v) for k, v in node.items()
                    if k not in ("$defs", "title", "maxLength", "minLength")}
        if isinstance(node, list):
            return [resolve(v) for v in node]
        return node

    resolved: dict[str, Any] = resolve(schema)
    return resolved


@dataclass(frozen=True)
class ServedModel:
    """One model the server lists on GET /models."""

    id: str
    context: int | None  # tokens per request where the server says (vLLM's max_model_len)


def list_models(base_url: str, api_key: str, timeout: float) -> list[ServedModel]:
    """The models the server at `base_url` serves: GET {base_url}/models with `api_key` as the
    bearer token (vLLM started with --api-key answers 401 without it), asked once. Raises
    LLMUnavailable saying what went wrong: an error status, no answer, or not JSON."""
    client = openai.OpenAI(base_url=base_url, api_key=api_key, timeout=timeout, max_retries=0)
    try:
        with client:
            # Raw: the entries' extra fields (max_model_len) are read as sent, and an answer
            # that is not JSON is told apart rather than handed back as text.
            text = client.models.with_raw_response.list().text
    except openai.APIStatusError as exc:
        raise LLMUnavailable(f"the LLM server at {base_url} answered {exc.status_code} to "
                             "GET /models") from exc
    except openai.APIConnectionError as exc:
        reason = exc.__cause__ or exc
        raise LLMUnavailable(f"the LLM server at {base_url} is not reachable ({reason}): "
                             "check DOCCHAT_LLM_BASE_URL") from exc
    try:
        listing = json.loads(text)
    except ValueError as exc:
        raise LLMUnavailable(f"the LLM server at {base_url} answered GET /models with "
                             "something other than JSON") from exc
    entries = listing.get("data") if isinstance(listing, dict) else None
    served = []
    for entry in entries if isinstance(entries, list) else []:
        if isinstance(entry, dict):
            length = entry.get("max_model_len")
            served.append(ServedModel(str(entry.get("id")), length if (
                isinstance(length, int) and length > 0) else None))
    return served


class ChatModel:
    def __init__(self, settings: Settings) -> None:
        self.base_url = settings.llm_url
        self.model = settings.llm_model
        self.temperature = settings.llm_temperature
        self.max_tokens = settings.llm_max_tokens
        self._configured_context = settings.llm_context
        mode = settings.llm_structured_output
        if mode != "auto" and mode not in STRUCTURED_MODES:
            raise SettingsError(f"DOCCHAT_LLM_STRUCTURED_OUTPUT takes auto, "
                                f"{', '.join(STRUCTURED_MODES)}; got {mode!r}")
        self._mode: str | None = None if mode == "auto" else mode
        self._context: int | None = None
        self._lock = threading.Lock()
        self._api_key = settings.llm_api_key
        # The servers' token-count routes, tried in turn; one a server does not have (404) is
        # not asked again: vLLM has no /extras/tokenize/count.
        root = self.base_url.removesuffix("/v1")
        self._count_routes = [(f"{root}/extras/tokenize/count", "input"),
                              (f"{root}/tokenize", "prompt")]
        self._client = openai.OpenAI(base_url=self.base_url, api_key=settings.llm_api_key,
                                     timeout=settings.llm_timeout, max_retries=1)

    def stream(self, messages: Sequence[BaseMessage], temperature: float | None = None,
               ) -> Generator[str, None, None]:
        """Text pieces as the server generates them. Closing the generator closes the HTTP
        request, and the server stops generating."""
        started, pieces, usage, outcome = time.monotonic(), 0, None, "error"
        try:
            chunks = self._client.chat.completions.create(
                model=self.model,
                messages=cast(list[ChatCompletionMessageParam], to_openai_messages(messages)),
                temperature=self.temperature if temperature is None else temperature,
                # llama-cpp-python's server ignores max_completion_tokens and would write until
                # the context is full; every server reads max_tokens.
                max_tokens=self.max_tokens,
                stream=True,
                # The token count in a last chunk without choices; servers that do not know the
                # option ignore it (llama-cpp-python's), and the pieces are counted instead.
                stream_options={"include_usage": True},
            )
            with chunks:  # closes the response however the loop ends
                for chunk in chunks:
                    if chunk.usage is not None:
                        usage = chunk.usage.completion_tokens
                    text = chunk.choices[0].delta.content if chunk.choices else None
                    if text:
                        pieces += 1
                        yield text
            outcome = "ok"
        except GeneratorExit:
            outcome = "closed"
            raise
        except openai.BadRequestError as exc:
            if is_context_overflow(exc):
                raise ContextOverflow(str(exc)) from exc
            raise
        except _UNAVAILABLE as exc:
            raise LLMUnavailable(self._unavailable_message(exc)) from exc
        finally:
            _tell_listeners(LLMCall("stream", outcome, time.monotonic() - started,
                                    usage if usage is not None else pieces))

    def complete(self, messages: Sequence[BaseMessage], temperature: float | None = None,
                 max_tokens: int | None = None) -> str:
        """The whole reply to `messages` as one string."""
        reply, _ = self._create(to_openai_messages(messages), temperature, max_tokens, None)
        return reply

    def structured(self, messages: Sequence[BaseMessage], schema: type[Model],
                   max_tokens: int | None = None) -> Model:
        """The reply as an instance of `schema`, requested in the form this server supports
        (detected once), validated, and repaired once when it does not validate."""
        json_schema = inline_refs(schema.model_json_schema())
        plain = to_openai_messages(messages)
        reply, mode = self._structured_reply(plain, json_schema, schema.__name__, max_tokens)
        try:
            return schema.model_validate_json(_json_text(reply))
        except ValidationError as exc:
            problem = _short(exc)
        log.info("the model's %s did not validate (%s); asking it to repair", schema.__name__,
                 problem)
        repair = plain + [
            {"role": "assistant", "content": reply},
            {"role": "user", "content": (
                f"That reply is not valid: {problem}. Answer again with only a JSON object "
                f"that follows this JSON schema, shorter if needed:\n{json.dumps(json_schema)}")},
        ]
        second, _ = self._create(repair, 0.0, max_tokens, _response_format(mode, json_schema,
                                                                           schema.__name__))
        try:
            return schema.model_validate_json(_json_text(second))
        except ValidationError as exc:
            raise StructuredOutputError(
                f"The language model ({self.model}) did not return a valid {schema.__name__} "
                f"after one repair request: {_short(exc)}. A larger model does better."
            ) from exc

    def _structured_reply(self, plain: list[dict[str, str]], json_schema: dict[str, Any],
                          name: str, max_tokens: int | None) -> tuple[str, str]:
        """(reply, mode). Tries the modes this server may support until one is accepted."""
        modes = [self._mode] if self._mode else list(STRUCTURED_MODES)
        last: Exception | None = None
        for mode in modes:
            try:
                asked = _with_schema(plain, json_schema) if mode == "prompt" else plain
                reply, _ = self._create(asked, 0.0, max_tokens,
                                        _response_format(mode, json_schema, name),
                                        raw_errors=len(modes) > 1)
            except (openai.BadRequestError, openai.InternalServerError,
                    openai.UnprocessableEntityError) as exc:
                if isinstance(exc, openai.BadRequestError) and is_context_overflow(exc):
                    raise ContextOverflow(str(exc)) from exc
                log.info("the LLM server refused structured output as %s: %s", mode, exc)
                last = exc
                continue
            if self._mode is None:
                with self._lock:
                    self._mode = mode
                log.info("the LLM server takes structured output as %s", mode)
            return reply, mode
        raise LLMUnavailable(self._unavailable_message(last or RuntimeError("no mode")))

    def _create(self, messages: list[dict[str, str]], temperature: float | None,
                max_tokens: int | None, response_format: dict[str, Any] | None,
                raw_errors: bool = False) -> tuple[str, str | None]:
        """(text, finish reason) of one non-streamed completion."""
        extra: dict[str, Any] = {}
        if response_format is not None:
            extra["response_format"] = response_format
        started, tokens, outcome = time.monotonic(), 0, "error"
        try:
            response = self._client.chat.completions.create(
                model=self.model,
                messages=messages,  # type: ignore[arg-type]
                temperature=self.temperature if temperature is None else temperature,
                max_tokens=max_tokens or self.max_tokens,
                **extra,
            )
            choice = response.choices[0]
            text = choice.message.content or ""
            tokens = (response.usage.completion_tokens if response.usage
                      else estimate_tokens(text))
            outcome = "ok"
        except openai.BadRequestError as exc:
            if is_context_overflow(exc):
                raise ContextOverflow(str(exc)) from exc
            raise
        except openai.InternalServerError as exc:
            if raw_errors:  # detection: the server may refuse only this request's format
                raise
            raise LLMUnavailable(self._unavailable_message(exc)) from exc
        except (openai.APIConnectionError, openai.APITimeoutError, openai.NotFoundError) as exc:
            raise LLMUnavailable(self._unavailable_message(exc)) from exc
        finally:
            _tell_listeners(LLMCall("complete", outcome, time.monotonic() - started, tokens))
        return text, choice.finish_reason

    def models(self, timeout: float = 5.0) -> list[ServedModel]:
        """What the server lists on GET /models (see `list_models`)."""
        return list_models(self.base_url, self._api_key, timeout)

    def context_window(self) -> int:
        """Tokens the model reads and writes in one request: what the server reports
        (vLLM's `max_model_len` on /v1/models), else DOCCHAT_LLM_CONTEXT. Kept once the server
        has answered; while it does not (still starting, say), asked again on the next call."""
        if self._context is None:
            try:
                served = self.models()
            except LLMUnavailable as exc:
                log.warning("%s; the context window is taken as DOCCHAT_LLM_CONTEXT=%d until "
                            "it answers", exc, self._configured_context)
                return self._configured_context
            reported = [m.context for m in served if m.context and (
                m.id == self.model or len(served) == 1)]
            self._context = reported[0] if reported else self._configured_context
        return self._context

    def count_tokens(self, text: str) -> int:
        """Tokens of `text` for this model: the server's tokenizer when it offers one
        (llama-cpp-python: /extras/tokenize/count; vLLM: /tokenize), else an estimate that
        errs high."""
        for route in list(self._count_routes):
            url, field = route
            counted = _post_json(url, {field: text, "model": self.model}, self._api_key)
            if counted is NOT_OFFERED:
                self._count_routes.remove(route)
            elif isinstance(counted, dict) and isinstance(counted.get("count"), int):
                return int(counted["count"])
        return estimate_tokens(text)

    def _unavailable_message(self, exc: Exception) -> str:
        return (
            f"The language model at {self.base_url} is not answering ({type(exc).__name__}). "
            "Search still works; try asking again in a moment, or check DOCCHAT_LLM_BASE_URL."
        )


def estimate_tokens(text: str) -> int:
    """A count that errs high for English and Russian with common tokenizers: about 3 bytes of
    UTF-8 per token (English averages 4 characters, Cyrillic 2 bytes a character)."""
    return len(text.encode("utf-8")) // 3 + 1


# A route the server does not have (404, 405), as _post_json answers it.
NOT_OFFERED = object()


def _post_json(url: str, body: dict[str, Any], api_key: str) -> Any:
    """The JSON answer; NOT_OFFERED for a route the server lacks; None on any other failure."""
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers={
        "Content-Type": "application/json", "Authorization": f"Bearer {api_key}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.load(response)
    except urllib.error.HTTPError as exc:
        return NOT_OFFERED if exc.code in (404, 405) else None
    except (urllib.error.URLError, OSError, ValueError):
        return None


def _response_format(mode: str, json_schema: dict[str, Any], name: str,
                     ) -> dict[str, Any] | None:
    if mode == "json_schema":
        return {"type": "json_schema",
                "json_schema": {"name": name, "schema": json_schema}}
    if mode == "json_object":
        return {"type": "json_object", "schema": json_schema}
    return None


def _with_schema(messages: list[dict[str, str]], json_schema: dict[str, Any],
                 ) -> list[dict[str, str]]:
    """For servers without constrained decoding: the schema spelled out in the last message."""
    last = messages[-1]
    note = f"\n\nReply with only a JSON object that follows this JSON schema:\n" \
           f"{json.dumps(json_schema, ensure_ascii=False)}"
    return messages[:-1] + [{**last, "content": last["content"] + note}]


def _json_text(reply: str) -> str:
    """The JSON object in a reply, without a Markdown fence or words around it."""
    start, end = reply.find("{"), reply.rfind("}")
    return reply[start:end + 1] if 0 <= start < end else reply


def _short(exc: ValidationError) -> str:
    errors = exc.errors()
    first = errors[0] if errors else {"loc": (), "msg": str(exc)}
    where = ".".join(str(p) for p in first.get("loc", ())) or "the reply"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{where}: {first.get('msg')}{more}"
