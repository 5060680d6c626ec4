"""`docchat serve`: run the web app with gunicorn, plus in embedded mode the bundled LLM
server and one Celery worker, as child processes that live and die together."""

from __future__ import annotations

import argparse
import ctypes
import dataclasses
import ipaddress
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from retrieval.core.datadir import prepare_data_dir
from retrieval.core.logs import configure_logging, url_without_password
from retrieval.core.settings import Settings
from retrieval.llm.local_models import ModelError
from retrieval.llm.server import start_llm_server, wait_for_llm
from web import accounts_cli, models_cli
from workers import worker_command
from workers.recovery import requeue_unfinished

log = logging.getLogger("docchat.serve")

LLM_START_TIMEOUT = 180.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="docchat", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run docchat (embedded defaults unless configured)")
    serve.add_argument("--host", help="overrides DOCCHAT_HOST")
    serve.add_argument("--port", type=int, help="overrides DOCCHAT_PORT")
    models_cli.add_serve_option(serve)
    accounts_cli.add_commands(commands)
    models_cli.add_commands(commands)
    args = parser.parse_args(argv)
    settings = Settings.from_env()
    configure_logging(settings.log_format)
    prepare_data_dir(settings.data_dir)  # owner-only, before any file is written in it
    if args.command == "models":
        return models_cli.run(args, settings)
    if args.command != "serve":
        return accounts_cli.run(args, settings)
    overrides = {k: v for k, v in (("host", args.host), ("port", args.port)) if v is not None}
    try:
        settings = models_cli.serve_settings(args, dataclasses.replace(settings, **overrides))
    except ModelError as exc:
        log.error("%s", exc)
        return 1
    return serve_forever(settings)


def serve_forever(settings: Settings) -> int:
    if not settings.login_required and not _is_loopback(settings.host):
        log.error("DOCCHAT_AUTH=local lets anyone who reaches docchat in without logging in, "
                  "so it only listens on 127.0.0.1 or ::1, not %s. Set DOCCHAT_AUTH=required "
                  "and create users (docchat user add) to serve a network.", settings.host)
        return 2
    if settings.login_required and not _is_loopback(settings.host) and not (
            settings.trusted_host_names):
        log.warning("docchat answers only requests for localhost and loopback addresses until "
                    "DOCCHAT_TRUSTED_HOSTS names the host name people reach it by (e.g. "
                    "DOCCHAT_TRUSTED_HOSTS=docchat.example.com); other requests get 400.")
    prepare_data_dir(settings.data_dir)
    env = {**os.environ, **settings.to_env(), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    env["DOCCHAT_DATA_DIR"] = str(settings.data_dir.resolve())
    logs = settings.data_dir / "logs"
    children: list[tuple[str, subprocess.Popen[bytes]]] = []
    stopping = False

    def stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        if settings.starts_llm:
            log.info("starting the local LLM %s on port %d (log: %s)", settings.llm_model,
                     settings.llm_port, logs / "llm.log")
            llm = start_llm_server(settings, logs / "llm.log", _die_with_parent)
            children.append(("llm", llm))
            wait_for_llm(settings.llm_url, LLM_START_TIMEOUT, llm)
        if settings.starts_worker:
            log.info("starting a Celery worker (broker: %s)",
                     url_without_password(settings.broker_url))
            worker = worker_command(settings, "--loglevel", "INFO")
            children.append(("worker", _start(worker, env, logs / "worker.log")))
        requeued = requeue_unfinished(settings)
        if requeued:
            log.info("requeued %d unfinished documents", requeued)
        children.append(("web", _start(_web_command(settings), env, None)))
        log.info("docchat is up on http://%s:%d", settings.host, settings.port)
        while not stopping:
            for name, child in children:
                if child.poll() is not None:
                    log.error("%s exited with code %s; stopping docchat", name, child.returncode)
                    return 1
            time.sleep(0.5)
        return 0
    finally:
        _stop_all(children)


def _web_command(settings: Settings) -> list[str]:
    return [
        sys.executable, "-m", "gunicorn", "web:create_app()",
        "--bind", f"{settings.host}:{settings.port}",
        "--worker-class", "gthread", "--workers", "1", "--threads", str(settings.web_threads),
        "--timeout", str(int(settings.llm_timeout) + 30),
        "--access-logfile", "-",
        "--config", "python:web.gunicorn_conf",  # its logs in DOCCHAT_LOG_FORMAT
    ]


def _start(command: list[str], env: dict[str, str], log_path: Path | None,
           ) -> subprocess.Popen[bytes]:
    if log_path is None:
        return subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL,
                                preexec_fn=_die_with_parent)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as out:
        return subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent)


# Loaded in the parent: a forked child should only call into it, not look it up.
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform == "linux" else None
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child: get SIGTERM when `docchat serve` dies, even by SIGKILL, so no orphaned
    worker or LLM server keeps a port or a queue (Linux; elsewhere a no-op)."""
    if _LIBC is not None:
        _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _stop_all(children: list[tuple[str, subprocess.Popen[bytes]]]) -> None:
    for _, child in reversed(children):
        if child.poll() is None:
            child.terminate()
    deadline = time.monotonic() + 20
    for _, child in reversed(children):
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return host == "localhost"


if __name__ == "__main__":
    sys.exit(main())
