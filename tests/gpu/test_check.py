"""The GPU check as an operator runs it (`python -m tests.gpu.check`), here on the CPU, with
tiny sizes: the GPU parts say why they were skipped, the CPU parts bring numbers, and a part
whose process aborts fails alone."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO
from tests.gpu.parts import PARTS

TINY = ["--vectors", "2000", "--queries", "20", "--chunks", "32", "--limit", "1"]
GPU_PARTS = {"faiss-gpu", "embed-gpu", "gpu-memory", "threads-gpu"}


def run_check(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str],
                                                   dict[str, dict[str, Any]]]:
    """The check's run and its JSON report's parts, by name."""
    report = tmp_path / "report.json"
    done = subprocess.run([sys.executable, "-m", "tests.gpu.check", "--json", str(report),
                           *args], cwd=REPO, capture_output=True, text=True, timeout=400)
    assert report.exists(), done.stdout + done.stderr
    parts = {part["name"]: part for part in json.loads(report.read_text())["parts"]}
    return done, parts


@pytest.mark.e2e
@pytest.mark.needs_worker  # the worker and ingest parts start real Celery workers
def test_check_skips_gpu_parts_saying_why_and_measures_the_cpu_parts(tmp_path: Path) -> None:
    done, parts = run_check(tmp_path, *TINY)
    assert list(parts) == [part.name for part in PARTS]
    environment = parts["environment"]["measures"]
    if environment["torch sees a GPU"] or environment["faiss GPUs"]:
        pytest.skip("this machine has a GPU: the check's GPU parts run instead of skipping")
    for name in GPU_PARTS:
        assert parts[name]["status"] == "skipped", parts[name]
        assert parts[name]["reason"].startswith("no GPU: "), parts[name]
        assert f"{name:<12} skipped (no GPU: " in done.stdout
    for name in set(parts) - GPU_PARTS:
        assert parts[name]["status"] == "ok", (parts[name], done.stdout)
    faiss = parts["faiss-cpu"]["measures"]
    assert faiss["flat ms, all queries at once"] > 0
    assert 0 < faiss["ivfpq top-10 overlap with flat"] <= 1
    embed = parts["embed-cpu"]["measures"]
    assert embed["chunks"] == 32 and embed["fp32 CPU chunks/s"] > 0 and not embed["NaN"]
    threads = parts["threads-cpu"]["measures"]
    assert threads["queries/s, 8 threads"] > 0 and threads["results equal one thread's"]
    worker = parts["worker"]["measures"]
    assert 0 < worker["s to the worker's 'ready' line"] <= worker[
        "s to the first document indexed"]
    ingest = parts["ingest"]["measures"]
    assert ingest["PDFs"] == 1 and ingest["pages indexed"] > 0 and ingest["pages/s"] > 0
    assert done.returncode == 0, done.stdout


def test_a_part_whose_process_aborts_fails_with_its_signal_and_the_others_still_report(
        tmp_path: Path) -> None:
    done, parts = run_check(tmp_path, "--parts", "environment,faiss-cpu,threads-cpu",
                            "--fault", "faiss-cpu:abort", *TINY)
    assert parts["faiss-cpu"]["status"] == "failed"
    assert parts["faiss-cpu"]["reason"].startswith("killed by SIGABRT"), parts["faiss-cpu"]
    assert "faiss-cpu    failed (killed by SIGABRT" in done.stdout
    assert parts["environment"]["status"] == "ok"
    assert parts["threads-cpu"]["status"] == "ok"
    assert parts["threads-cpu"]["measures"]["results equal one thread's"] is True
    assert done.returncode == 1


def test_a_part_that_hangs_is_ended_within_the_budget_and_fails_as_timed_out(
        tmp_path: Path) -> None:
    done, parts = run_check(tmp_path, "--parts", "faiss-cpu,threads-cpu", "--budget", "12",
                            "--fault", "faiss-cpu:hang", *TINY)
    assert parts["faiss-cpu"]["status"] == "failed"
    assert parts["faiss-cpu"]["reason"] == "timed out after 12 s", parts["faiss-cpu"]
    assert parts["threads-cpu"]["status"] == "failed"
    assert parts["threads-cpu"]["reason"] == "not run: the check's 12 s were spent"
    assert done.returncode == 1
