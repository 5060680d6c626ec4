"""Slack's side of the tests, on 127.0.0.1 (no network): an HTTP server that records every POST
to a response_url or incoming webhook and answers it with the statuses planned for its path."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.conftest import wait_until


@dataclass(frozen=True)
class Received:
    path: str
    content_type: str
    body: dict[str, Any]
    answered: int


class SlackReceiver:
    """Answers each path with the statuses planned for it, then 200. A planned 3xx redirects
    to `/redirected`."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.planned: dict[str, list[int]] = {}
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                data = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.lock:
                    plan = receiver.planned.get(self.path, [])
                    status = plan.pop(0) if plan else 200
                    receiver.received.append(Received(
                        self.path, self.headers.get("Content-Type", ""),
                        json.loads(data.decode("utf-8")), status))
                reply = b"ok" if status == 200 else b"no_service"
                self.send_response(status)
                if 300 <= status < 400:
                    self.send_header("Location", receiver.url("/redirected"))
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        # Polled often, so that shutdown() returns at once instead of after half a second.
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True,
                                       kwargs={"poll_interval": 0.02})

    def __enter__(self) -> SlackReceiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def plan(self, path: str, *statuses: int) -> None:
        with self.lock:
            self.planned[path] = list(statuses)

    def posts_to(self, path: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.path == path]

    def wait_for(self, path: str, count: int = 1, timeout: float = 120) -> list[Received]:
        return wait_until(lambda: len(self.posts_to(path)) >= count and self.posts_to(path),
                          timeout, what=f"{count} POST(s) to {path}")
