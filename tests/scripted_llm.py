"""A scripted OpenAI-compatible LLM server on loopback, for tests whose outcome depends on what
a model says: a real HTTP server speaking the protocol docchat speaks to vLLM and llama.cpp
(/v1/models, /v1/chat/completions streamed or not), whose replies come from the test.

    with ScriptedLLM(lambda request: "The answer [1].") as llm:
        settings = Settings(llm_base_url=llm.url, ...)
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MODEL = "scripted-model"


@dataclass
class ChatRequest:
    """One chat completion request as the server received it."""

    body: dict[str, Any]

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


Reply = Callable[[ChatRequest], str]


@dataclass
class ScriptedLLM:
    """The server; `reply` answers each chat request (default: a fixed sentence)."""

    reply: Reply = field(default=lambda request: "A scripted answer [1].")
    context_window: int = 8192
    requests: list[ChatRequest] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._server: ThreadingHTTPServer | None = None
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        assert self._server is not None, "start the server first"
        return f"http://127.0.0.1:{self._server.server_port}/v1"

    def start(self) -> ScriptedLLM:
        scripted = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def do_GET(self) -> None:  # noqa: N802 - the http.server API
                if self.path.rstrip("/") == "/v1/models":
                    self._json(200, {"object": "list", "data": [
                        {"id": MODEL, "object": "model",
                         "max_model_len": scripted.context_window}]})
                else:
                    self._json(404, {"error": {"message": "not found"}})

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    body = json.loads(self.rfile.read(length) or b"{}")
                except ValueError:
                    self._json(400, {"error": {"message": "bad JSON"}})
                    return
                if self.path.rstrip("/") != "/v1/chat/completions":
                    self._json(404, {"error": {"message": "not found"}})
                    return
                request = ChatRequest(body)
                with scripted._lock:
                    scripted.requests.append(request)
                text = scripted.reply(request)
                if body.get("stream"):
                    self._stream(text)
                else:
                    self._json(200, _completion(text))

            def _json(self, status: int, data: dict[str, Any]) -> None:
                payload = json.dumps(data).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def _stream(self, text: str) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Connection", "close")
                self.end_headers()
                words = text.split(" ")
                for i, word in enumerate(words):
                    piece = word if i == 0 else " " + word
                    self._event(_chunk({"content": piece}, None))
                self._event(_chunk({}, "stop"))
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()
                self.close_connection = True

            def _event(self, data: dict[str, Any]) -> None:
                self.wfile.write(b"data: " + json.dumps(data).encode() + b"\n\n")
                self.wfile.flush()

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> ScriptedLLM:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _completion(text: str) -> dict[str, Any]:
    return {"id": "scripted", "object": "chat.completion", "created": int(time.time()),
            "model": MODEL,
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": text}}],
            "usage": {"prompt_tokens": 1, "completion_tokens": max(1, len(text.split())),
                      "total_tokens": 1 + max(1, len(text.split()))}}


def _chunk(delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
    return {"id": "scripted", "object": "chat.completion.chunk", "created": int(time.time()),
            "model": MODEL, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
