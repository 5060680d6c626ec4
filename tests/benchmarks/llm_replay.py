"""A recording proxy in front of the benchmark's LLM server: every POST (chat completions,
token counts) is forwarded and its reply kept on disk, keyed by the request's exact bytes; the
same request again is answered from the recording without the model.

Why: a run of the quality model over a benchmark takes an hour or more on this CPU, and a
change to what docchat does with the model's replies (verification, normalization, scoring)
changes none of the requests. With `--replay DIR` a rerun asks the model only the requests
that changed, and both pipelines still go through HTTP as they do against a real server.

Replies are kept for status 200 and for the errors a server gives to the request itself
(KEPT_ERRORS), per folder: use one folder per model and context size
(the benchmarks name it after both). The model is run at temperature 0, so a recorded reply is
the reply the server gives to those bytes; the recording is a cache, not a fixture.
"""

from __future__ import annotations

import hashlib
import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

# Long enough for the slowest request the benchmarks make on this CPU.
UPSTREAM_TIMEOUT = 1800
# Errors that are the server's answer to those bytes, kept like replies: a request too long
# for the context (400), a feature the server lacks (llama-cpp-python answers 500 to a
# json_schema response_format; the client then asks with json_object). Others (a server busy,
# overloaded or restarting) are passed on and asked again next time.
KEPT_ERRORS = frozenset({400, 404, 422, 500})


class Counts:
    def __init__(self) -> None:
        self.hits = 0
        self.misses = 0
        self.lock = threading.Lock()

    def add(self, hit: bool) -> None:
        with self.lock:
            if hit:
                self.hits += 1
            else:
                self.misses += 1


def _handler(upstream: str, folder: Path, counts: Counts) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            """Quiet: the benchmark prints its own lines."""

        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            self._forward(b"", record=False)

        def do_POST(self) -> None:  # noqa: N802
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            self._forward(body, record=b'"stream": true' not in body
                          and b'"stream":true' not in body)

        def _forward(self, body: bytes, record: bool) -> None:
            key = hashlib.sha256(self.command.encode() + self.path.encode() + b"\0" + body)
            path = folder / f"{key.hexdigest()}.json"
            if record and path.exists():
                saved = json.loads(path.read_text(encoding="utf-8"))
                counts.add(True)
                self._answer(saved.get("status", 200), saved["content_type"],
                             saved["body"].encode("utf-8"))
                return
            request = urllib.request.Request(
                upstream + self.path, data=body if self.command == "POST" else None,
                method=self.command,
                headers={k: v for k, v in self.headers.items()
                         if k.lower() in ("content-type", "authorization", "accept")})
            try:
                with urllib.request.urlopen(request, timeout=UPSTREAM_TIMEOUT) as reply:
                    status, content_type, data = (reply.status,
                                                  reply.headers.get("Content-Type", ""),
                                                  reply.read())
            except urllib.error.HTTPError as exc:
                status, content_type, data = (exc.code, exc.headers.get("Content-Type", ""),
                                              exc.read())
            if record:
                counts.add(False)
            if record and (status == 200 or status in KEPT_ERRORS):
                tmp = path.with_suffix(".tmp")
                tmp.write_text(json.dumps({"status": status, "content_type": content_type,
                                           "body": data.decode("utf-8")}), encoding="utf-8")
                tmp.replace(path)
            self._answer(status, content_type, data)

        def _answer(self, status: int, content_type: str, data: bytes) -> None:
            try:
                self.send_response(status)
                self.send_header("Content-Type", content_type or "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up waiting (a model list asked of a busy server)

    return Handler


@contextmanager
def replaying(upstream_url: str, folder: Path) -> Iterator[tuple[str, Counts]]:
    """A proxy for the server at `upstream_url` (http://host:port/v1) recording into
    `folder`; yields its own base URL (with the same path) and the hit/miss counts."""
    folder.mkdir(parents=True, exist_ok=True)
    root, _, suffix = upstream_url.partition("/v1")
    counts = Counts()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(root.rstrip("/"), folder, counts))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1{suffix}", counts
    finally:
        server.shutdown()
        server.server_close()
