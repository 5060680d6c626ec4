"""Parse a stored upload in a child process, under a time limit and a memory ceiling.

A pathological file (a decompression bomb, a parser loop) costs the child, never the worker:
the worker gets `parse_timeout` or `parse_memory` and goes on with the next task.

Each parse runs in a fresh process forked from a zygote: `python -m ingest.sandbox`, started
once per worker process, single-threaded, with the parsers imported and a fixed hash seed (the
same file always parses the same). A new interpreter per file spent 0.2 s of CPU importing
pypdf, a tenth of what the eval PDFs cost to parse and embed. The zygote takes one JSON
request per line on stdin, forks, waits for the child up to the time limit (killing it then),
and answers one JSON line on stdout; the child writes the parsed document to a file the
worker named. The zygote ends when the worker closes its stdin, or dies.
"""

from __future__ import annotations

import json
import logging
import os
import resource
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import IO, Any

from ingest.documents import Document, IngestError

log = logging.getLogger(__name__)

# What the zygote (and so every parse) runs with, whatever the worker has.
_CHILD_ENVIRONMENT = {"PYTHONHASHSEED": "0", "OMP_NUM_THREADS": "1"}
# How long past the time limit the worker waits for the zygote's reply before it takes the
# zygote for hung, kills it and starts another.
_GRACE_SECONDS = 10.0


def parse_isolated(path: Path, kind: str, document_id: str, filename: str, max_pages: int,
                   time_limit: float, memory_mb: int) -> Document:
    """The Document parsed from `path` by a child process; IngestError on any failure."""
    request = {"path": str(path), "kind": kind, "document_id": document_id,
               "filename": filename, "max_pages": max_pages, "memory_mb": memory_mb,
               "time_limit": time_limit}
    zygote = _take_zygote()
    try:
        reply, answer = zygote.parse(request)
    finally:
        _give_back(zygote)
    if reply.get("timed_out"):
        raise IngestError(
            "parse_timeout",
            f"Reading {filename} took longer than {time_limit:.0f} seconds and was stopped. "
            "The file may be damaged or unusually complex: re-export it, or split it into parts.",
        )
    if answer is None or "crash" in answer:
        raise _crashed(filename, reply.get("exit"), (answer or {}).get("crash", ""))
    if "error" in answer:
        raise IngestError(answer["error"]["code"], answer["error"]["message"])
    return Document.from_json(answer["document"])


class _Zygote:
    """The worker's side of one zygote process."""

    def __init__(self) -> None:
        self.pid_of_owner = os.getpid()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "ingest.sandbox"], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, env={**os.environ, **_CHILD_ENVIRONMENT},
        )

    def alive(self) -> bool:
        return self.pid_of_owner == os.getpid() and self.process.poll() is None

    def parse(self, request: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """(the zygote's reply, the child's answer or None)."""
        handle, answer_path = tempfile.mkstemp(prefix="docchat-parse-", suffix=".json")
        os.close(handle)
        try:
            assert self.process.stdin is not None and self.process.stdout is not None
            self.process.stdin.write(json.dumps({**request, "answer": answer_path}).encode()
                                     + b"\n")
            self.process.stdin.flush()
            line = _read_line(self.process.stdout, float(request["time_limit"])
                              + _GRACE_SECONDS)
            if line is None:
                self.stop()
                return {"exit": None}, None
            reply = json.loads(line)
            return reply, _answer(Path(answer_path).read_bytes())
        except (OSError, ValueError) as exc:  # the zygote died or wrote nonsense: a new one
            log.warning("the parsing process failed (%s); starting another", exc)
            self.stop()
            return {"exit": None}, None
        finally:
            Path(answer_path).unlink(missing_ok=True)

    def stop(self) -> None:
        self.process.kill()
        self.process.wait()

    def forget(self) -> None:
        """In a process forked from the owner: close the inherited pipe ends, so that the
        owner's zygote still sees its stdin close when the owner goes."""
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                stream.close()


def _read_line(stream: IO[bytes], timeout: float) -> bytes | None:
    """One line from the zygote, or None when none comes within `timeout` seconds."""
    ready, _, _ = select.select([stream], [], [], timeout)
    if not ready:
        return None
    line = stream.readline()
    return line or None


# Idle zygotes of this process: a thread takes one (or starts one) for each parse, so that
# parses in threads of one process (a web process's meeting uploads) run side by side.
_idle: list[_Zygote] = []
_idle_lock = threading.Lock()
_MAX_IDLE = 4


def _take_zygote() -> _Zygote:
    """An idle zygote of this process that is alive, else a new one (a zygote that died, or
    was started by the process this one was forked from, is dropped)."""
    with _idle_lock:
        while _idle:
            zygote = _idle.pop()
            if zygote.alive():
                return zygote
            if zygote.pid_of_owner != os.getpid():
                zygote.forget()
    return _Zygote()


def _give_back(zygote: _Zygote) -> None:
    with _idle_lock:
        if zygote.alive() and len(_idle) < _MAX_IDLE:
            _idle.append(zygote)
            return
    if zygote.pid_of_owner == os.getpid() and zygote.process.poll() is None:
        zygote.stop()


def _answer(data: bytes) -> dict[str, Any] | None:
    try:
        answer = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    return answer if isinstance(answer, dict) else None


def _crashed(filename: str, exitcode: int | None, what: str) -> IngestError:
    """A child that died, or failed outside the parsers' own errors: the details go to the
    log, the reader gets what to do."""
    if "MemoryError" in what or exitcode == -signal.SIGKILL:
        return _too_much_memory(filename)
    log.warning("the parser crashed on %s (exit %s): %s", filename, exitcode, what or "-")
    return IngestError(
        "parse_failed",
        f"docchat's reader crashed on {filename}. Re-export the file and upload it again.",
    )


def _too_much_memory(filename: str) -> IngestError:
    return IngestError(
        "parse_memory",
        f"Reading {filename} needed more memory than docchat allows for one file. It may be "
        "damaged or built to exhaust memory: re-export it, or split it into parts.",
    )


# ---- the zygote (python -m ingest.sandbox) ----

def _serve() -> int:
    """Fork a child per request line, wait for it up to its time limit, reply one line."""
    import ingest.formats  # noqa: F401 - imported once here, inherited by every child

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C is the worker's to handle
    for line in sys.stdin.buffer:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            _child(request)  # never returns
        exitcode, timed_out = _wait(pid, float(request["time_limit"]))
        sys.stdout.write(json.dumps({"exit": exitcode, "timed_out": timed_out}) + "\n")
        sys.stdout.flush()
    return 0


def _wait(pid: int, time_limit: float) -> tuple[int | None, bool]:
    """(the child's exit code, negative for a signal; whether it ran out of time and was
    killed)."""
    deadline = time.monotonic() + time_limit
    watch = os.pidfd_open(pid)
    try:
        ready, _, _ = select.select([watch], [], [], max(0.0, deadline - time.monotonic()))
        timed_out = not ready
        if timed_out:
            os.kill(pid, signal.SIGKILL)
    finally:
        os.close(watch)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), timed_out


def _child(request: dict[str, Any]) -> None:
    """In the forked child: the memory ceiling, no core dumps, the parse, the answer file."""
    code = 0
    try:
        # The zygote's stdout carries its replies: nothing the parsers print may land there.
        quiet = os.open(os.devnull, os.O_WRONLY)
        os.dup2(quiet, 1)
        ceiling = int(request["memory_mb"]) * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (ceiling, ceiling))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        answer = _parsed(request)
        with open(request["answer"], "w", encoding="utf-8") as out:
            json.dump(answer, out, ensure_ascii=False)
    except MemoryError:
        code = 3
        try:
            with open(request["answer"], "w", encoding="utf-8") as out:
                out.write('{"crash": "MemoryError"}')
        except MemoryError:
            pass
    except BaseException:  # noqa: BLE001 - whatever happens, the child must not return
        code = 1
    finally:
        os._exit(code)


def _parsed(request: dict[str, Any]) -> dict[str, Any]:
    from ingest.formats import parse_file

    filename = request["filename"]
    try:
        document = parse_file(Path(request["path"]).read_bytes(), request["kind"],
                              request["document_id"], filename, int(request["max_pages"]))
        return {"document": document.to_json()}
    except IngestError as exc:
        return {"error": {"code": exc.code, "message": exc.message}}
    except MemoryError:
        error = _too_much_memory(filename)
        return {"error": {"code": error.code, "message": error.message}}
    except Exception as exc:  # noqa: BLE001 - reported to the worker, which logs it
        return {"crash": f"{type(exc).__name__}: {exc}"[:500]}


if __name__ == "__main__":
    sys.exit(_serve())
