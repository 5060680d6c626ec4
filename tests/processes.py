"""Real processes for the reliability tests and the load benchmark, each one stopped for sure:
a Redis server with persistence, a Celery worker (killed as a whole: main process and pool
children), the bundled LLM server on a port that survives a restart, and the web app on a real
HTTP port."""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import redis

from retrieval.core.settings import Settings
from retrieval.llm.server import start_llm_server, wait_for_llm
from tests.conftest import REPO, free_port, wait_until

_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform == "linux" else None
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child: SIGTERM when the test process dies, even by SIGKILL, so that nothing
    started here outlives it (Linux; elsewhere a no-op)."""
    if _LIBC is not None:
        _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _stop(process: subprocess.Popen[bytes], group: bool = False) -> None:
    """SIGTERM, then SIGKILL after 20 s; `group`: to the process and everything it started."""
    if process.poll() is not None and not group:
        return
    send = (lambda sig: os.killpg(process.pid, sig)) if group else process.send_signal
    try:
        send(signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        pass
    if group:  # pool children and parsing children may outlive the main process
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    elif process.poll() is None:
        process.kill()
    process.wait(timeout=20)


class RedisServer:
    """redis-server on a free loopback port, with every write on disk before it is answered
    (`appendfsync always`), so a crash loses nothing acknowledged."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        folder.mkdir(parents=True, exist_ok=True)

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, socket_connect_timeout=2, socket_timeout=10)

    def start(self) -> RedisServer:
        command = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                   "--dir", str(self.folder), "--appendonly", "yes", "--appendfsync", "always",
                   "--save", "", "--daemonize", "no", "--logfile", "redis.log"]
        self.process = subprocess.Popen(command, cwd=self.folder, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                        preexec_fn=_die_with_parent)
        wait_until(self._answers, 30, 0.1, what=f"redis-server on port {self.port}")
        return self

    def _answers(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            log = (self.folder / "redis.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"redis-server exited with code {self.process.returncode}: {log}")
        try:
            return bool(self.client().ping())
        except redis.RedisError:
            return False

    def crash(self) -> None:
        """SIGKILL: no chance to save anything on the way out."""
        assert self.process is not None
        self.process.kill()
        self.process.wait(timeout=20)

    def shutdown(self) -> None:
        """A clean stop, as an operator's restart does it."""
        assert self.process is not None
        self.process.terminate()
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None:
            _stop(self.process)


class Worker:
    """A Celery worker as `docchat serve` starts it, in a process group of its own so that it
    can be killed whole: the main process, its pool children and their parsing children."""

    def __init__(self, settings: Settings, name: str = "worker") -> None:
        self.settings = settings
        self.nodename = f"{name}-{uuid.uuid4().hex[:6]}@reliability"
        self.log_path = settings.data_dir / f"{self.nodename.split('@')[0]}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, ready_timeout: float = 180) -> Worker:
        from workers import create_celery, worker_command

        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **self.settings.to_env(), "HF_HUB_OFFLINE": "1",
               "TRANSFORMERS_OFFLINE": "1"}
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                worker_command(self.settings, "--loglevel", "INFO", "--hostname", self.nodename),
                env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True, preexec_fn=_die_with_parent)
        celery = create_celery(self.settings)
        process = self.process

        def answers() -> bool:
            if process.poll() is not None:
                raise RuntimeError(f"the worker exited: {self.log_tail()}")
            return bool(celery.control.ping(destination=[self.nodename], timeout=0.5))

        wait_until(answers, ready_timeout, 0.5, what=f"worker {self.nodename} to answer a ping")
        return self

    def log_tail(self, chars: int = 3000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:]

    def kill(self) -> None:
        """SIGKILL to the whole worker at once, as the OOM killer or a lost machine would."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None:
            _stop(self.process, group=True)


class LLMServer:
    """The bundled model behind llama-cpp-python's server, stopped and started again on the
    same port (so that a docchat configured with its URL needs no restart)."""

    def __init__(self, folder: Path) -> None:
        self.settings = Settings(llm_port=free_port())
        self.log_path = folder / "llm.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return self.settings.llm_url

    def start(self) -> LLMServer:
        self.process = start_llm_server(self.settings, self.log_path, _die_with_parent)
        wait_for_llm(self.url, 180, self.process)
        return self

    def stop(self) -> None:
        if self.process is not None:
            _stop(self.process)
            self.process = None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


@contextmanager
def http_server(app: Any) -> Iterator[str]:
    """The Flask app served over HTTP on loopback, a thread per request; yields its base URL."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


@contextmanager
def docchat_serve(data_dir: Path, env: dict[str, str], ready_path: str = "/readyz",
                  ) -> Iterator[str]:
    """The real `docchat serve` (the entry point `make serve` runs) with this environment plus
    its own free ports and `data_dir`; yields its base URL once `ready_path` answers 200.
    Stopped with SIGTERM on leaving, which must end it cleanly."""
    import requests

    port = free_port()
    env = {**env, "DOCCHAT_DATA_DIR": str(data_dir), "DOCCHAT_PORT": str(port),
           "DOCCHAT_LLM_PORT": str(free_port())}
    log_path = data_dir / "serve.log"
    log = open(log_path, "ab")  # noqa: SIM115 - closed in the finally below
    process = subprocess.Popen([sys.executable, "-m", "web.serve", "serve"], env=env, cwd=REPO,
                               stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        if process.poll() is not None:
            raise AssertionError(log_path.read_text()[-4000:])
        try:
            return requests.get(base + ready_path, timeout=5).status_code == 200
        except (requests.ConnectionError, requests.Timeout):
            # The port is bound before gunicorn's worker has imported the app.
            return False

    try:
        wait_until(ready, 240, 0.5, what="docchat serve to be ready")
        yield base
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            assert process.wait(timeout=60) == 0
        finally:
            log.close()
