"""Load on loopback: concurrent chat users asking questions while a stream of uploads goes on,
through the web app over real HTTP, a real Celery worker on a Redis broker and the LLM server.

Each user (a thread) asks its questions one after another: user i asks 1 + i % --questions of
them (20 users and 2: 30 questions), or keeps asking until --duration seconds have passed.
Meanwhile --uploads PDFs are posted, one every --upload-every seconds, and followed until they
are indexed. Reported: p50/p95/max seconds of the answers, the uploads (request) and upload to
indexed, and errors: any other status than 200 (202 for uploads), a request that failed, an
empty answer, an upload that does not end indexed. The same run, bounded, is
tests/e2e/test_reliability.py's load test.

    python -m tests.benchmarks.load [--users 20] [--questions 2] [--duration 0] [--uploads 5]
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import random
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import requests

from tests.benchmarks.common import configured_llm, header

COLLECTION = "load"
ASK_TIMEOUT = 600.0
INDEXED_TIMEOUT = 600.0

# What the users ask about: a few short documents, uploaded and indexed before the load starts.
SEED_PAGES = {
    "service-agreement.pdf": [
        ["Service agreement between Northwind Ltd and Contoso GmbH.",
         "Payment terms: invoices are due within 45 days of receipt."],
        ["The hardware warranty period is 24 months from the delivery date.",
         "Warranty claims are sent to claims@northwind.example within 30 days."],
        ["Support is available on working days from 8:00 to 18:00 CET.",
         "Critical incidents are answered within 4 hours."],
    ],
    "maintenance.pdf": [
        ["Turbine blade inspection schedule: every 400 flight hours.",
         "Borescope inspections of the hot section follow every 1,200 flight hours."],
        ["Engine oil is replaced every 150 flight hours or every 4 months."],
    ],
}
QUESTIONS = [
    "How long is the hardware warranty period?",
    "When are invoices due?",
    "How often are the turbine blades inspected?",
    "Where are warranty claims sent?",
    "What are the support hours?",
    "How often is the engine oil replaced?",
    "How fast are critical incidents answered?",
]
_WORDS = ("invoice delivery pump valve schedule audit contract turbine engine payment warranty "
          "shipment quality report budget meeting customer supplier inspection safety").split()


def seed_pdfs() -> list[tuple[str, bytes]]:
    from tests.conftest import text_pdf

    return [(name, text_pdf(pages)) for name, pages in SEED_PAGES.items()]


def stream_pdfs(count: int, pages: int = 4, seed: int = 0) -> list[tuple[str, bytes]]:
    """`count` distinct PDFs of `pages` pages of plain sentences (none a duplicate of another)."""
    from tests.conftest import text_pdf

    rng = random.Random(seed)
    files = []
    for number in range(count):
        body = [[f"Report {seed}-{number}, page {page + 1}: " + " ".join(
                    rng.choice(_WORDS) for _ in range(12)) + "." for _ in range(30)]
                for page in range(pages)]
        files.append((f"report-{seed}-{number}.pdf", text_pdf(body)))
    return files


@dataclass
class LoadReport:
    ask_seconds: list[float] = field(default_factory=list)
    upload_seconds: list[float] = field(default_factory=list)
    indexed_seconds: list[float] = field(default_factory=list)  # upload -> indexed
    grounded: int = 0  # answers written by the LLM from passages (not declined)
    errors: list[str] = field(default_factory=list)
    wall_seconds: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def error(self, message: str) -> None:
        with self.lock:
            self.errors.append(message)

    def summary(self) -> str:
        return "\n".join([
            f"asks     {_figures(self.ask_seconds)}, {self.grounded} answered from passages",
            f"uploads  {_figures(self.upload_seconds)} (request)",
            f"indexed  {_figures(self.indexed_seconds)} (upload -> indexed)",
            f"errors   {len(self.errors)}" + "".join(f"\n  {e}" for e in self.errors[:10]),
            f"wall     {self.wall_seconds:.1f} s",
        ])


def _figures(seconds: Sequence[float]) -> str:
    if not seconds:
        return "n=0"
    p50, p95 = np.percentile(seconds, [50, 95])
    return f"n={len(seconds):<3} p50 {p50:6.2f} s  p95 {p95:6.2f} s  max {max(seconds):6.2f} s"


def upload(base_url: str, name: str, data: bytes, collection: str = COLLECTION) -> str:
    response = requests.post(f"{base_url}/api/documents", data={"collection": collection},
                             files={"file": (name, data, "application/pdf")}, timeout=120)
    if response.status_code != 202:
        raise RuntimeError(f"upload of {name}: {response.status_code} {response.text[:300]}")
    return str(response.json()["documents"][0]["id"])


def finished(base_url: str, document_id: str) -> dict[str, Any] | None:
    """The document once it is indexed or failed, else None."""
    doc = requests.get(f"{base_url}/api/documents/{document_id}", timeout=60).json()
    return doc if doc["status"] in ("indexed", "failed") else None


def wait_indexed(base_url: str, ids: Sequence[str], timeout: float = INDEXED_TIMEOUT) -> None:
    from tests.conftest import wait_until

    for document_id in ids:
        doc = wait_until(lambda i=document_id: finished(base_url, i), timeout, 0.5,
                         what=f"document {document_id} to be indexed")
        if doc["status"] != "indexed":
            raise RuntimeError(f"{doc['filename']} failed: {doc['error']}")


def run_load(base_url: str, users: int, questions: int, uploads: Sequence[tuple[str, bytes]],
             duration: float = 0.0, upload_every: float = 1.0) -> LoadReport:
    """Every user and the uploader start together; returns once all have finished."""
    report = LoadReport()
    start = threading.Barrier(users + 1)
    started = time.perf_counter()
    threads = [threading.Thread(target=_user, args=(
        base_url, number, questions if duration else 1 + number % questions, duration, start,
        report)) for number in range(users)]
    threads.append(threading.Thread(target=_uploader, args=(
        base_url, uploads, upload_every, start, report)))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    report.wall_seconds = time.perf_counter() - started
    return report


def _user(base_url: str, number: int, count: int, duration: float, start: threading.Barrier,
          report: LoadReport) -> None:
    start.wait()
    began, asked = time.monotonic(), 0
    with requests.Session() as session:
        while asked < count or (duration and time.monotonic() - began < duration):
            question = QUESTIONS[(number + asked) % len(QUESTIONS)]
            asked += 1
            _timed(report, report.ask_seconds, f"user {number} asking {question!r}",
                   lambda q=question: _ask(session, base_url, q, report))


def _ask(session: requests.Session, base_url: str, question: str, report: LoadReport) -> None:
    response = session.post(f"{base_url}/api/ask", timeout=ASK_TIMEOUT,
                            json={"question": question, "collection": COLLECTION})
    if response.status_code != 200:
        raise RuntimeError(f"{response.status_code} {response.text[:300]}")
    body = response.json()
    if not body["answer"].strip():
        raise RuntimeError("an empty answer")
    if body.get("grounded"):
        with report.lock:
            report.grounded += 1


def _uploader(base_url: str, uploads: Sequence[tuple[str, bytes]], every: float,
              start: threading.Barrier, report: LoadReport) -> None:
    start.wait()
    sent: dict[str, tuple[str, float]] = {}
    for number, (name, data) in enumerate(uploads):
        if number:
            time.sleep(every)
        at = time.perf_counter()
        ids: list[str] = []
        _timed(report, report.upload_seconds, f"uploading {name}",
               lambda n=name, d=data, into=ids: into.append(upload(base_url, n, d)))
        if ids:
            sent[ids[0]] = (name, at)
    deadline = time.monotonic() + INDEXED_TIMEOUT
    while sent and time.monotonic() < deadline:
        for document_id, (name, at) in list(sent.items()):
            try:
                doc = finished(base_url, document_id)
            except requests.RequestException as exc:
                report.error(f"following {name}: {exc}")
                del sent[document_id]
                continue
            if doc is None:
                continue
            del sent[document_id]
            if doc["status"] == "indexed":
                report.indexed_seconds.append(time.perf_counter() - at)
            else:
                report.error(f"{name} failed: {doc['error']}")
        time.sleep(0.5)
    for name, _ in sent.values():
        report.error(f"{name} was not indexed within {INDEXED_TIMEOUT:.0f} s")


def _timed(report: LoadReport, into: list[float], what: str, call: Callable[[], None]) -> None:
    at = time.perf_counter()
    try:
        call()
    except (requests.RequestException, RuntimeError, ValueError, KeyError) as exc:
        report.error(f"{what}: {exc}")
        return
    with report.lock:
        into.append(time.perf_counter() - at)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--questions", type=int, default=2,
                        help="user i asks 1 + i %% QUESTIONS; with --duration, at least this many")
    parser.add_argument("--duration", type=float, default=0.0,
                        help="seconds each user keeps asking (0: just its questions)")
    parser.add_argument("--uploads", type=int, default=5)
    parser.add_argument("--upload-every", type=float, default=1.0)
    args = parser.parse_args()
    header(f"load on loopback: {args.users} chat users and {args.uploads} uploads through HTTP, "
           "a Celery worker (Redis) and the LLM server")
    from tests.processes import RedisServer, Worker, http_server
    from web import create_app

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # not a line per request

    with tempfile.TemporaryDirectory() as folder, configured_llm() as llm_settings:
        redis_server = RedisServer(Path(folder) / "redis").start()
        # One local user stands for all the users here: no per-user rate limit applies.
        settings = dataclasses.replace(
            llm_settings, data_dir=Path(folder) / "data", redis_url=redis_server.url(),
            queue="load", rate_limit_per_minute=0)
        worker = Worker(settings, "load")
        try:
            worker.start()
            print(f"# LLM {settings.llm_model} at {settings.llm_url}: DOCCHAT_LLM_MAX_TOKENS="
                  f"{settings.llm_max_tokens}, DOCCHAT_ANSWER_CONTEXT_CHARS="
                  f"{settings.answer_context_chars}; DOCCHAT_WORKER_CONCURRENCY="
                  f"{settings.worker_concurrency}")
            with http_server(create_app(settings)) as base_url:
                wait_indexed(base_url, [upload(base_url, n, d) for n, d in seed_pdfs()])
                report = run_load(base_url, args.users, args.questions,
                                  stream_pdfs(args.uploads), args.duration, args.upload_every)
        finally:
            worker.stop()
            redis_server.stop()
    print(report.summary())


if __name__ == "__main__":
    main()
