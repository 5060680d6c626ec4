"""With default settings docchat makes no connection outside this machine: `docchat serve` runs
upload, indexing, a question and a meeting summary while a socket guard (tests/e2e/netguard)
refuses and records every connection off loopback and every DNS lookup in each of its Python
processes (serve, the web app, the worker and its parsing children, the LLM server).

The guard sees what goes through Python's socket module: every client docchat uses (requests,
httpx for the OpenAI client, urllib, redis-py, kombu, huggingface_hub) does.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from tests.conftest import text_pdf, wait_until
from tests.processes import docchat_serve

pytestmark = pytest.mark.e2e

GUARD = Path(__file__).resolve().parent / "netguard"
NOTES = """Attendees: Anna, Boris

Anna: I will send the budget draft to Boris by Friday.
Boris: Thanks. I will book the room for the review next week.
Anna: Then we agree to keep the launch date in March.
"""


def guarded_env(record: Path, loaded: Path) -> dict[str, str]:
    """This environment without DOCCHAT_* settings (so docchat runs on its defaults) and
    without the offline switches the test runner sets (docchat serve must set them itself),
    with the guard on PYTHONPATH."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DOCCHAT_", "NETGUARD_"))
           and k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(GUARD), env.get("PYTHONPATH")) if p)
    env["NETGUARD_RECORD"] = str(record)
    env["NETGUARD_LOADED"] = str(loaded)
    return env


def recorded(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_guard_refuses_and_records_connections_and_lookups_off_this_machine(tmp_path) -> None:
    """The guard works, so the test below cannot pass by watching nothing."""
    record, loaded = tmp_path / "refused.jsonl", tmp_path / "loaded.jsonl"
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        probe = f"""
import socket, urllib.request
outcomes = []
for attempt in (lambda: socket.create_connection(("192.0.2.1", 443), timeout=2),
                lambda: socket.create_connection(("2001:db8::1", 443), timeout=2),
                lambda: socket.getaddrinfo("huggingface.co", 443),
                lambda: urllib.request.urlopen("https://pypi.org/simple/", timeout=2)):
    try:
        attempt()
        outcomes.append("connected")
    except OSError:
        outcomes.append("refused")
socket.create_connection(("127.0.0.1", {port})).close()
socket.create_connection(("localhost", {port})).close()
print(",".join(outcomes))
"""
        done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                              env=guarded_env(record, loaded), timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "refused,refused,refused,refused"
    targets = [(entry["what"], entry["target"]) for entry in recorded(record)]
    assert targets == [("connect", ["192.0.2.1", 443]), ("connect", ["2001:db8::1", 443, 0, 0]),
                       ("getaddrinfo", "huggingface.co"), ("getaddrinfo", "pypi.org")]
    assert [entry["argv"][1] for entry in recorded(loaded)] == ["-c"]


@contextmanager
def guarded_serve(data_dir: Path) -> Iterator[str]:
    """`docchat serve` on default settings (only its ports and data folder chosen, and answers
    kept short) under the guard; its base URL. Stopped on leaving, so that every process has
    written all it will."""
    env = guarded_env(data_dir / "refused.jsonl", data_dir / "loaded.jsonl")
    with docchat_serve(data_dir, {**env, "DOCCHAT_LLM_MAX_TOKENS": "48"}) as base:
        yield base


def test_default_docchat_uploads_answers_and_summarizes_without_leaving_the_machine(
        tmp_path) -> None:
    pdf = text_pdf([["Privacy handbook.", "All documents stay on the company's own servers.",
                     "The retention period for meeting notes is ninety days."]])
    with guarded_serve(tmp_path) as base:
        upload = requests.post(f"{base}/api/documents", timeout=30,
                               files={"file": ("handbook.pdf", pdf, "application/pdf")})
        assert upload.status_code == 202, upload.text
        document_id = upload.json()["documents"][0]["id"]

        def indexed() -> bool:
            document = requests.get(f"{base}/api/documents/{document_id}", timeout=10).json()
            assert document["status"] != "failed", document
            return bool(document["status"] == "indexed")

        wait_until(indexed, 120, 0.3, what="the upload to be indexed")
        asked = requests.post(f"{base}/api/ask", timeout=120, json={
            "question": "What is the retention period for meeting notes?"})
        assert asked.status_code == 200, asked.text
        assert asked.json()["answer"].strip()
        summary = requests.post(f"{base}/api/meetings/summarize", timeout=180, json={
            "text": NOTES, "filename": "notes.md", "mode": "wait"})
        assert summary.status_code == 200, summary.text
        metrics = requests.get(f"{base}/metrics", timeout=10).text
        assert 'docchat_documents{status="indexed"} 1.0' in metrics

    commands = [" ".join(entry["argv"]) for entry in recorded(tmp_path / "loaded.jsonl")]
    for part in ("web.serve", "gunicorn", "celery", "llama_cpp.server", "ingest.sandbox"):
        assert any(part in command for command in commands), (
            f"no {part} process ran under the guard: {commands}")
    refused = recorded(tmp_path / "refused.jsonl")
    assert refused == [], "docchat tried to reach outside this machine:\n" + "\n".join(
        f"{entry['what']} {entry['target']} from {' '.join(entry['argv'])}\n"
        + "".join(entry["stack"]) for entry in refused)
