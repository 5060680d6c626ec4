"""A scripted OpenAI-compatible LLM server on loopback, for tests whose outcome depends on what
a model says: a real HTTP server speaking the protocol docchat speaks to vLLM and llama.cpp
(/v1/models, /v1/chat/completions streamed or not), whose replies come from the test.

    with ScriptedLLM(lambda request: "The answer [1].") as llm:
        settings = Settings(llm_base_url=llm.url, ...)

A test can also script outcomes in order, and errors the way real servers send them:

    llm = ScriptedLLM().script("not JSON", '{"summary": "ok"}', VLLM_OVERFLOW)
    llm.when(lambda r: r.format_type == "json_schema", LLAMA_CPP_NO_JSON_SCHEMA)
    llm.script(Text("yes", top={"yes": 0.8, "no": 0.2}))  # answers logprobs when asked

Each request is answered by, in this order: the logprobs switch (`logprobs=False` refuses a
request that asks for them with a 400), the first `when` rule that matches, the next scripted
outcome, and else `reply(request)`. When a rule or reply raises, the request gets a 500 and
the error is raised again when the server stops, so that a broken script fails its test.

The server can also want a key (`api_key`: 401 without it, as vLLM started with --api-key),
fail its model list (`models_error`), and end streams with the usage chunk or, as
llama-cpp-python's server does, without it (`stream_usage`).
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MODEL = "scripted-model"


@dataclass(frozen=True)
class Text:
    """A reply. `top` is the first token's alternatives and their probabilities, sent as
    `logprobs.content[0].top_logprobs` when the request asks for logprobs (default: the
    reply's first word with probability 1). `tokens` is the completion_tokens of its usage
    (default: one a word)."""

    text: str
    top: Mapping[str, float] | None = None
    tokens: int | None = None


@dataclass(frozen=True)
class Error:
    """An HTTP error with an OpenAI-shaped body: {"error": {"message", "type", "param",
    "code"}}, which the openai client turns into BadRequestError (400),
    InternalServerError (500) and so on."""

    status: int
    message: str
    type: str = ""  # default: invalid_request_error below 500, internal_server_error above
    code: str | None = None

    def body(self) -> dict[str, Any]:
        kind = self.type or ("internal_server_error" if self.status >= 500
                             else "invalid_request_error")
        return {"error": {"message": self.message, "type": kind, "param": None,
                          "code": self.code}}


Outcome = str | Text | Error

# The context overflow as llama.cpp words it (llama-cpp-python's own exception text).
LLAMA_CPP_OVERFLOW = Error(400, "Requested tokens (9000) exceed context window of 8192",
                           code="context_length_exceeded")
# vLLM's (and, rewritten from the one above, llama-cpp-python 0.3's server's).
VLLM_OVERFLOW = Error(
    400, "This model's maximum context length is 8192 tokens. However, you requested 9000 "
         "tokens (8700 in the messages, 300 in the completion). Please reduce the length of "
         "the messages or completion.", code="context_length_exceeded")
# vLLM's engine (V1) refuses a prompt past max_model_len in its own words (seen in vLLM issues).
VLLM_ENGINE_OVERFLOW = Error(
    400, "The decoder prompt (length 9000) is longer than the maximum model length of 8192. "
         "Make sure that `max_model_len` is no smaller than the number of text tokens.")
# llama-cpp-python 0.3.36's server, asked for response_format json_schema: the request
# model's validation error, with the place it was raised, as a 500 (recorded from the server).
LLAMA_CPP_NO_JSON_SCHEMA = Error(
    500, "1 validation error:\n  {'type': 'literal_error', 'loc': ('body', 'response_format', "
         "'type'), 'msg': \"Input should be 'text' or 'json_object'\", 'input': 'json_schema', "
         "'ctx': {'expected': \"'text' or 'json_object'\"}}\n\n  File \"/srv/llama_cpp/server/"
         "app.py\", line 376, in create_chat_completion\n    POST /v1/chat/completions")
SERVER_ERROR = Error(500, "Internal Server Error")
# What a server without logprobs support answers to `logprobs: true`.
NO_LOGPROBS = Error(400, "logprobs is not supported by this server")


@dataclass
class ChatRequest:
    """One chat completion request as the server received it, and what it was answered."""

    body: dict[str, Any]
    answer: Text | Error | None = None
    headers: dict[str, str] = field(default_factory=dict)  # names in lower case
    # Streamed: words sent, and whether the client hung up before the last (docchat stopped).
    words_sent: int = 0
    hung_up: bool = False

    @property
    def messages(self) -> list[dict[str, str]]:
        return list(self.body.get("messages", []))

    @property
    def prompt(self) -> str:
        """Every message's content, joined: what a rule usually looks at."""
        return "\n".join(str(m.get("content", "")) for m in self.messages)

    @property
    def last(self) -> str:
        return str(self.messages[-1].get("content", "")) if self.messages else ""

    @property
    def system(self) -> str:
        first = self.messages[0] if self.messages else {}
        return str(first.get("content", "")) if first.get("role") == "system" else ""

    @property
    def response_format(self) -> dict[str, Any] | None:
        value = self.body.get("response_format")
        return value if isinstance(value, dict) else None

    @property
    def format_type(self) -> str | None:
        """The response_format type asked for: json_schema, json_object, or None."""
        return self.response_format.get("type") if self.response_format else None

    @property
    def asks_logprobs(self) -> bool:
        return bool(self.body.get("logprobs"))

    @property
    def streamed(self) -> bool:
        return bool(self.body.get("stream"))


Reply = Callable[[ChatRequest], Outcome]


@dataclass
class _Rule:
    predicate: Callable[[ChatRequest], bool]
    outcome: Outcome | Reply
    times: int | None  # answers left; None: every match


@dataclass
class ScriptedLLM:
    """The server; `reply` answers each request no rule or scripted outcome answers (default:
    a fixed sentence)."""

    reply: Reply = field(default=lambda request: "A scripted answer [1].")
    context_window: int = 8192
    requests: list[ChatRequest] = field(default_factory=list)
    # False: a request with `logprobs: true` gets NO_LOGPROBS, like a server without them.
    logprobs: bool = True
    # Sent with 5xx answers as `retry-after-ms`, which the openai client honours: it still
    # retries as it would against a real server, without its half-second back-off. None: no
    # header, as real servers send.
    retry_after_ms: int | None = 1
    # Seconds before the first streamed word (a model reading its prompt) and between words
    # (a slow model): for a page's status line to be seen, and a reader to stop mid-answer.
    first_word_delay: float = 0.0
    word_delay: float = 0.0
    # Streams end with a usage chunk when the request asks for one (stream_options
    # include_usage), as vLLM and OpenAI send it; False: never, as llama-cpp-python's server.
    stream_usage: bool = True
    # Set: every request without `Authorization: Bearer <api_key>` gets a 401, as vLLM started
    # with --api-key answers.
    api_key: str | None = None
    # Set: GET /v1/models answers this error (a server still loading, one behind a broken proxy).
    models_error: Error | None = None
    # The headers of each GET /v1/models, in order, names in lower case.
    models_requests: list[dict[str, str]] = field(default_factory=list)
    # The token-count route the server offers, answering {"count": words of the text}: vLLM's
    # "/tokenize" (text in "prompt"), llama-cpp-python's "/extras/tokenize/count" ("input");
    # None: neither (404).
    tokenize_route: str | None = None
    # The path of every POST other than chat completions, in order.
    other_posts: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._server: ThreadingHTTPServer | None = None
        self._lock = threading.Lock()
        self._queue: deque[Outcome | Reply] = deque()
        self._rules: list[_Rule] = []
        self._script_errors: list[Exception] = []

    @property
    def url(self) -> str:
        assert self._server is not None, "start the server first"
        return f"http://127.0.0.1:{self._server.server_port}/v1"

    def script(self, *outcomes: Outcome | Reply) -> ScriptedLLM:
        """Answer the next requests with these, one each, in order (after any queued before).
        An outcome may be a function of the request that returns one."""
        with self._lock:
            self._queue.extend(outcomes)
        return self

    def when(self, predicate: Callable[[ChatRequest], bool], outcome: Outcome | Reply,
             times: int | None = None) -> ScriptedLLM:
        """Answer requests that match `predicate` with `outcome` (`times` of them, or all),
        before the scripted queue; rules are tried in the order they were added."""
        with self._lock:
            self._rules.append(_Rule(predicate, outcome, times))
        return self

    @property
    def pending(self) -> list[Outcome | Reply]:
        """Scripted outcomes no request has used yet."""
        with self._lock:
            return list(self._queue)

    def answer(self, request: ChatRequest) -> Text | Error:
        """The outcome for one request (and the queue or rule it used is spent)."""
        if request.asks_logprobs and not self.logprobs:
            return NO_LOGPROBS
        chosen: Outcome | Reply | None = None
        with self._lock:
            for rule in self._rules:
                if rule.times != 0 and rule.predicate(request):
                    if rule.times is not None:
                        rule.times -= 1
                    chosen = rule.outcome
                    break
            if chosen is None and self._queue:
                chosen = self._queue.popleft()
        if chosen is None:
            chosen = self.reply
        if callable(chosen):
            chosen = chosen(request)
        return Text(chosen) if isinstance(chosen, str) else chosen

    def start(self) -> ScriptedLLM:
        scripted = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def do_GET(self) -> None:  # noqa: N802 - the http.server API
                if self.path.rstrip("/") == "/v1/models":
                    with scripted._lock:
                        scripted.models_requests.append(_headers(self))
                    refused = self._refused() or scripted.models_error
                    if refused is not None:
                        self._error(refused)
                        return
                    self._json(200, {"object": "list", "data": [
                        {"id": MODEL, "object": "model",
                         "max_model_len": scripted.context_window}]})
                else:
                    self._error(Error(404, "not found"))

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    body = json.loads(self.rfile.read(length) or b"{}")
                except ValueError:
                    self._error(Error(400, "bad JSON"))
                    return
                if self.path.rstrip("/") != "/v1/chat/completions":
                    with scripted._lock:
                        scripted.other_posts.append(self.path)
                    refused = self._refused()
                    if refused is not None:
                        self._error(refused)
                    elif scripted.tokenize_route and self.path == scripted.tokenize_route:
                        text = body.get("prompt", body.get("input", ""))
                        self._json(200, {"count": len(str(text).split())})
                    else:
                        self._error(Error(404, "not found"))
                    return
                request = ChatRequest(body, headers=_headers(self))
                with scripted._lock:
                    scripted.requests.append(request)
                try:
                    outcome = self._refused() or scripted.answer(request)
                except Exception as exc:  # noqa: BLE001 - the test's own code; raised in stop()
                    with scripted._lock:
                        scripted._script_errors.append(exc)
                    outcome = Error(500, f"the test's script raised {exc!r}")
                request.answer = outcome
                if isinstance(outcome, Error):
                    self._error(outcome)
                elif request.streamed:
                    self._stream(outcome, request)
                else:
                    self._json(200, _completion(outcome, body))

            def _refused(self) -> Error | None:
                if scripted.api_key is None or (
                        self.headers.get("Authorization") == f"Bearer {scripted.api_key}"):
                    return None
                return Error(401, "Unauthorized")

            def _error(self, error: Error) -> None:
                headers = {}
                if error.status >= 500 and scripted.retry_after_ms is not None:
                    headers["retry-after-ms"] = str(scripted.retry_after_ms)
                self._json(error.status, error.body(), headers)

            def _json(self, status: int, data: dict[str, Any],
                      headers: dict[str, str] | None = None) -> None:
                payload = json.dumps(data).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)

            def _stream(self, reply: Text, request: ChatRequest) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Connection", "close")
                self.end_headers()
                words = reply.text.split(" ")
                time.sleep(scripted.first_word_delay)
                try:
                    for i, word in enumerate(words):
                        piece = word if i == 0 else " " + word
                        self._event(_chunk({"content": piece}, None))
                        request.words_sent = i + 1
                        time.sleep(scripted.word_delay)
                except (BrokenPipeError, ConnectionResetError):
                    request.hung_up = True
                    self.close_connection = True
                    return
                self._event(_chunk({}, "stop"))
                options = request.body.get("stream_options") or {}
                if scripted.stream_usage and options.get("include_usage"):
                    self._event(_usage_chunk(reply.tokens or len(words)))
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()
                self.close_connection = True

            def _event(self, data: dict[str, Any]) -> None:
                self.wfile.write(b"data: " + json.dumps(data).encode() + b"\n\n")
                self.wfile.flush()

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._script_errors:
            first, self._script_errors = self._script_errors[0], []
            raise AssertionError("a scripted reply or rule raised while answering") from first

    def __enter__(self) -> ScriptedLLM:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _completion(reply: Text, body: dict[str, Any]) -> dict[str, Any]:
    text = reply.text
    tokens = reply.tokens or max(1, len(text.split()))
    logprobs = _logprobs(reply, int(body.get("top_logprobs") or 0)) \
        if body.get("logprobs") else None
    return {"id": "scripted", "object": "chat.completion", "created": int(time.time()),
            "model": MODEL,
            "choices": [{"index": 0, "finish_reason": "stop", "logprobs": logprobs,
                         "message": {"role": "assistant", "content": text}}],
            "usage": {"prompt_tokens": 1, "completion_tokens": tokens,
                      "total_tokens": 1 + tokens}}


def _logprobs(reply: Text, top_k: int) -> dict[str, Any]:
    """OpenAI's shape: a token per word of the reply, the first with `top_k` alternatives."""
    words = reply.text.split(" ") if reply.text else []
    top = dict(reply.top) if reply.top else ({words[0]: 1.0} if words else {})
    ranked = sorted(top.items(), key=lambda pair: -pair[1])[:top_k]

    def token(text: str, probability: float) -> dict[str, Any]:
        return {"token": text, "logprob": math.log(probability) if probability > 0 else -9999.0,
                "bytes": list(text.encode())}

    content = []
    for i, word in enumerate(words):
        piece = word if i == 0 else " " + word
        entry = token(piece, top.get(piece, 1.0) if i == 0 else 1.0)
        entry["top_logprobs"] = [token(t, p) for t, p in ranked] if i == 0 else []
        content.append(entry)
    return {"content": content, "refusal": None}


def _chunk(delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
    return {"id": "scripted", "object": "chat.completion.chunk", "created": int(time.time()),
            "model": MODEL, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


def _headers(handler: BaseHTTPRequestHandler) -> dict[str, str]:
    """A request's headers, names in lower case (clients differ in how they spell them)."""
    return {name.lower(): value for name, value in handler.headers.items()}


def _usage_chunk(completion_tokens: int) -> dict[str, Any]:
    """The last chunk of a stream asked for usage: no choices, the token counts."""
    return {"id": "scripted", "object": "chat.completion.chunk", "created": int(time.time()),
            "model": MODEL, "choices": [],
            "usage": {"prompt_tokens": 1, "completion_tokens": completion_tokens,
                      "total_tokens": 1 + completion_tokens}}
