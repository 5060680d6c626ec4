"""Parse a stored upload in a child process, under a time limit and a memory ceiling.

A pathological file (a decompression bomb, a parser loop) costs the child, never the worker:
the worker gets `parse_timeout` or `parse_memory` and goes on with the next task.
Run as `python -m ingest.sandbox` with a JSON request on stdin; answers JSON on stdout.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path
from typing import Any

from ingest.documents import Document, IngestError


def parse_isolated(path: Path, kind: str, document_id: str, filename: str, max_pages: int,
                   time_limit: float, memory_mb: int) -> Document:
    """The Document parsed from `path` by a child process; IngestError on any failure."""
    request = json.dumps({"path": str(path), "kind": kind, "document_id": document_id,
                          "filename": filename, "max_pages": max_pages,
                          "memory_mb": memory_mb})
    try:
        done = subprocess.run(
            [sys.executable, "-m", "ingest.sandbox"], input=request.encode(),
            capture_output=True, timeout=time_limit, check=False,
            env={**os.environ, "PYTHONHASHSEED": "0", "OMP_NUM_THREADS": "1"},
        )
    except subprocess.TimeoutExpired as exc:
        raise IngestError(
            "parse_timeout",
            f"Reading {filename} took longer than {time_limit:.0f} seconds and was stopped. "
            "The file may be damaged or unusually complex: re-export it, or split it into parts.",
        ) from exc
    answer = _answer(done.stdout)
    if answer is None:
        raise _crashed(filename, done.returncode, done.stderr)
    if "error" in answer:
        raise IngestError(answer["error"]["code"], answer["error"]["message"])
    return Document.from_json(answer["document"])


def _answer(stdout: bytes) -> dict[str, Any] | None:
    try:
        answer = json.loads(stdout)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    return answer if isinstance(answer, dict) else None


def _crashed(filename: str, returncode: int, stderr: bytes) -> IngestError:
    tail = stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
    if "MemoryError" in tail[0] or returncode in (-9,):
        return _too_much_memory(filename)
    return IngestError(
        "parse_failed",
        f"docchat's reader crashed on {filename} ({tail[0][:200] or f'exit {returncode}'}). "
        "Re-export the file and upload it again.",
    )


def _too_much_memory(filename: str) -> IngestError:
    return IngestError(
        "parse_memory",
        f"Reading {filename} needed more memory than docchat allows for one file. It may be "
        "damaged or built to exhaust memory: re-export it, or split it into parts.",
    )


def _child() -> int:
    request = json.loads(sys.stdin.read())
    ceiling = int(request["memory_mb"]) * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (ceiling, ceiling))
    from ingest.formats import parse_file

    filename = request["filename"]
    try:
        document = parse_file(Path(request["path"]).read_bytes(), request["kind"],
                              request["document_id"], filename, int(request["max_pages"]))
        answer: dict[str, Any] = {"document": document.to_json()}
    except IngestError as exc:
        answer = {"error": {"code": exc.code, "message": exc.message}}
    except MemoryError:
        error = _too_much_memory(filename)
        answer = {"error": {"code": error.code, "message": error.message}}
    sys.stdout.write(json.dumps(answer, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(_child())
