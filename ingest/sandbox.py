"""Parse a stored upload in a child process, under a time limit and a memory ceiling.

A pathological file (a decompression bomb, a parser loop) costs the child, never the worker:
the worker gets `parse_timeout` or `parse_memory` and goes on with the next task.

Each parse runs in a fresh process forked from a zygote: `python -m ingest.sandbox`, started
once per worker process, single-threaded, with the parsers imported (and what they import on
first use), its heap frozen out of the garbage collector's reach, and a fixed hash seed (the
same file always parses the same). A new interpreter per file spent 0.2 s of CPU importing
pypdf, a tenth of what the eval PDFs cost to parse and embed. The zygote takes one JSON
request per line on stdin, forks, waits for the child up to the time limit (killing it, and
whatever it started, then), and answers one JSON line on stdout; the child writes the parsed
document to a file the worker named. A child about to read pages by OCR tells the zygote how
much longer it needs (on a pipe of its own): the zygote extends its deadline, up to a cap, and
tells the worker in a line before its answer. The zygote ends when the worker closes its
stdin, or dies.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import importlib
import json
import logging
import os
import resource
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from ingest.documents import Document, IngestError
from ingest.ocr import OcrOptions

log = logging.getLogger(__name__)

# What the zygote (and so every parse) runs with, whatever the worker has.
CHILD_ENVIRONMENT = {"PYTHONHASHSEED": "0", "OMP_NUM_THREADS": "1"}
# How long past the time limit the worker waits for the zygote's reply before it takes the
# zygote for hung, kills it and starts another.
_GRACE_SECONDS = 10.0
_PR_SET_PDEATHSIG = 1  # linux/prctl.h
# Modules the parsers import on first use (pypdf's stream filters, the codecs its fonts name):
# imported once by the zygote rather than again by every child.
_FIRST_USE_MODULES = ("pypdf.filters", "pypdf._codecs._codecs", "encodings.charmap",
                      "encodings.utf_16_be")


def parse_isolated(path: Path, kind: str, document_id: str, filename: str, max_pages: int,
                   time_limit: float, memory_mb: int, ocr: OcrOptions | None = None) -> Document:
    """The Document parsed from `path` by a child process; IngestError on any failure.

    PDF pages without a text layer are read by `ocr` (None: not at all); the time limit then
    grows by its seconds_per_page for each page read.
    """
    request = {"path": str(path), "kind": kind, "document_id": document_id,
               "filename": filename, "max_pages": max_pages, "memory_mb": memory_mb,
               "time_limit": time_limit, "ocr": None, "most_extension": 0.0}
    if ocr is not None:
        request["ocr"] = {"languages": ocr.languages, "seconds_per_page": ocr.seconds_per_page}
        request["most_extension"] = ocr.seconds_per_page * max_pages
    zygote = _take_zygote()
    try:
        reply, answer = zygote.parse(request)
    except BaseException:  # a task's time limit, say: the zygote may be busy with the child
        zygote.stop()
        raise
    finally:
        _give_back(zygote)
    if reply.get("timed_out"):
        allowed = float(reply.get("allowed") or time_limit)
        raise IngestError(
            "parse_timeout",
            f"Reading {filename} took longer than {allowed:.0f} seconds and was stopped. "
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
            stdout=subprocess.PIPE, env={**os.environ, **CHILD_ENVIRONMENT},
        )
        self.unread = b""  # what came from the zygote past the last line read

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
            deadline = time.monotonic() + float(request["time_limit"]) + _GRACE_SECONDS
            while True:
                line = self.read_line(deadline)
                if line is None:
                    self.stop()
                    return {"exit": None}, None
                reply = json.loads(line)
                if "extend" not in reply:
                    return reply, _answer(Path(answer_path).read_bytes())
                deadline += float(reply["extend"])  # the child is reading pages by OCR
        except (OSError, ValueError) as exc:  # the zygote died or wrote nonsense: a new one
            log.warning("the parsing process failed (%s); starting another", exc)
            self.stop()
            return {"exit": None}, None
        finally:
            Path(answer_path).unlink(missing_ok=True)

    def read_line(self, deadline: float) -> bytes | None:
        """One line from the zygote, or None when none comes before `deadline` (monotonic),
        or the zygote is gone. Read from the pipe itself: a buffered reader may hold a second
        line where select() cannot see it."""
        assert self.process.stdout is not None
        pipe = self.process.stdout.fileno()
        while b"\n" not in self.unread:
            ready, _, _ = select.select([pipe], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                return None
            chunk = os.read(pipe, 65536)
            if not chunk:
                return None
            self.unread += chunk
        line, _, self.unread = self.unread.partition(b"\n")
        return line

    def stop(self) -> None:
        self.process.kill()
        self.process.wait()

    def forget(self) -> None:
        """In a process forked from the owner: close the inherited pipe ends, so that the
        owner's zygote still sees its stdin close when the owner goes."""
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                stream.close()


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

    for name in _FIRST_USE_MODULES:
        with contextlib.suppress(ImportError):
            importlib.import_module(name)
    gc.collect()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C is the worker's to handle
    zygote = os.getpid()
    for line in sys.stdin.buffer:
        request = json.loads(line)
        # The parse's scratch files (OCR's page images) go here, and go with it, even when it
        # was killed before it could clean up.
        scratch = tempfile.mkdtemp(prefix="docchat-parse-")
        extensions, extension_writer = os.pipe()
        # What the zygote holds is out of the collector's reach in the child: a full collection
        # there would otherwise walk it all, writing to (so copying) every page of it. (The
        # CPU this saves is within this machine's noise: a parse in a child costs what it
        # costs in a process of its own, -3% to +4%, measured per file, interleaved.)
        gc.freeze()
        pid = os.fork()
        if pid == 0:
            os.close(extensions)
            _child({**request, "scratch": scratch}, extension_writer, zygote)  # never returns
        os.close(extension_writer)
        try:
            _own_group(pid)
            exitcode, timed_out, allowed = _wait(pid, float(request["time_limit"]), extensions,
                                                 float(request.get("most_extension") or 0))
        finally:
            os.close(extensions)
            shutil.rmtree(scratch, ignore_errors=True)
        _reply({"exit": exitcode, "timed_out": timed_out, "allowed": allowed})
    return 0


def _reply(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def _own_group(pid: int) -> None:
    """Put the child in a process group of its own (the child does the same: whichever runs
    first), so that stopping it stops what it started too (Tesseract, for OCR)."""
    try:
        os.setpgid(pid, pid)
    except OSError:
        pass  # it has already done so itself, or has already ended


def _wait(pid: int, time_limit: float, extensions: int, most_extension: float,
          ) -> tuple[int | None, bool, float]:
    """(the child's exit code, negative for a signal; whether it ran out of time and was
    killed; the seconds it was allowed). The child may ask for more time on `extensions`,
    a pipe of JSON lines {"seconds": s}, up to `most_extension` seconds in all; each grant is
    passed on to the worker as {"extend": s}."""
    started, allowed = time.monotonic(), time_limit
    watch = os.pidfd_open(pid)
    watched, unread = [watch, extensions], b""
    try:
        while True:
            ready, _, _ = select.select(watched, [], [],
                                        max(0.0, started + allowed - time.monotonic()))
            if not ready or watch in ready:
                break
            chunk = os.read(extensions, 4096)
            if not chunk:
                watched.remove(extensions)
                continue
            *lines, unread = (unread + chunk).split(b"\n")
            for line in lines:
                granted = min(_seconds_asked(line), most_extension - (allowed - time_limit))
                if granted > 0:
                    allowed += granted
                    _reply({"extend": granted})
        timed_out = watch not in ready
        if timed_out:
            os.kill(pid, signal.SIGKILL)
        # The child's group goes whether it ended or not: nothing it started outlives it.
        _kill_group(pid)
    finally:
        os.close(watch)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), timed_out, allowed


def _seconds_asked(line: bytes) -> float:
    try:
        return max(float(json.loads(line)["seconds"]), 0.0)
    except (ValueError, KeyError, TypeError):
        return 0.0


def _kill_group(pid: int) -> None:
    """SIGKILL the child's process group (the child itself may be a zombie still: its id
    cannot have been reused)."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _child(request: dict[str, Any], extensions: int, zygote: int) -> None:
    """In the forked child: its own process group, death with the zygote, the memory ceiling
    (inherited by the programs it runs), no core dumps, the parse, the answer file."""
    code = 0
    try:
        os.setpgid(0, 0)
        _die_with(zygote)
        tempfile.tempdir = os.environ["TMPDIR"] = request["scratch"]  # Tesseract's too
        # The zygote's stdout carries its replies: nothing the parsers print may land there.
        quiet = os.open(os.devnull, os.O_WRONLY)
        os.dup2(quiet, 1)
        ceiling = int(request["memory_mb"]) * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (ceiling, ceiling))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        answer = _parsed(request, extensions)
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


def _die_with(zygote: int) -> None:
    """Be killed when the zygote dies (a worker that gave up on a parse kills its zygote): a
    long OCR must not run on for nobody. Tesseract, if running then, ends at its own timeout."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL) != 0:
        log.warning("prctl(PR_SET_PDEATHSIG) failed: errno %d", ctypes.get_errno())
    if os.getppid() != zygote:  # it died before the line above
        os._exit(1)


def _parsed(request: dict[str, Any], extensions: int) -> dict[str, Any]:
    from ingest.formats import parse_file

    filename = request["filename"]
    ocr = None
    if request.get("ocr"):
        seconds_per_page = float(request["ocr"]["seconds_per_page"])

        def ask_for_time(pages: int) -> None:
            os.write(extensions, json.dumps({"seconds": pages * seconds_per_page}).encode()
                     + b"\n")

        ocr = OcrOptions(languages=request["ocr"]["languages"],
                         seconds_per_page=seconds_per_page, before=ask_for_time)
    try:
        document = parse_file(Path(request["path"]).read_bytes(), request["kind"],
                              request["document_id"], filename, int(request["max_pages"]),
                              ocr=ocr)
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
