"""DOCCHAT_LOG_FORMAT: JSON lines with document and task ids as fields, text lines with them in
brackets, for docchat serve, gunicorn and the Celery worker alike."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from retrieval.core.logs import JsonFormatter, TextFormatter, formatter_class, gunicorn_log_config
from retrieval.core.settings import SettingsError
from tests.conftest import REPO


def record(message: str, *args: object, exc_info=None, **extra: object) -> logging.LogRecord:
    entry = logging.LogRecord("retrieval.search.indexing", logging.INFO, __file__, 1, message, args,
                              exc_info)
    entry.__dict__.update(extra)
    return entry


def test_json_lines_carry_the_document_and_task_ids_as_fields() -> None:
    line = JsonFormatter().format(record("document %s indexed", "d1", document_id="d1",
                                         task_id="t1"))
    entry = json.loads(line)
    assert entry["message"] == "document d1 indexed"
    assert entry["document_id"] == "d1" and entry["task_id"] == "t1"
    assert entry["level"] == "INFO" and entry["logger"] == "retrieval.search.indexing"
    assert entry["time"].endswith("+00:00")


def test_json_lines_keep_the_traceback_in_one_line() -> None:
    try:
        raise ValueError("broken page")
    except ValueError:
        line = JsonFormatter().format(record("failed", exc_info=sys.exc_info()))
    assert "\n" not in line
    assert "ValueError: broken page" in json.loads(line)["exception"]


def test_text_lines_end_with_the_ids_in_brackets() -> None:
    line = TextFormatter().format(record("document %s failed", "d2", document_id="d2"))
    assert line.endswith("INFO retrieval.search.indexing document d2 failed [document_id=d2]")


def test_an_unknown_log_format_is_refused_with_the_choices() -> None:
    with pytest.raises(SettingsError, match="DOCCHAT_LOG_FORMAT takes text or json"):
        formatter_class("yaml")


def test_gunicorn_access_lines_become_json_with_their_fields(capsys) -> None:
    import logging.config

    config = gunicorn_log_config("json")
    del config["root"]  # the test runner's root logger stays as it is
    logging.config.dictConfig(config)
    access = logging.getLogger("gunicorn.access")
    try:
        access.info('%(h)s "%(r)s" %(s)s', {"h": "127.0.0.1", "r": "GET /healthz HTTP/1.1",
                                            "s": "200", "m": "GET", "U": "/healthz", "D": 512})
    finally:
        for name in config["loggers"]:
            logging.getLogger(name).handlers.clear()
    entry = json.loads(capsys.readouterr().out)
    assert entry["message"] == '127.0.0.1 "GET /healthz HTTP/1.1" 200'
    assert (entry["method"], entry["path"], entry["status"], entry["duration_us"]) == (
        "GET", "/healthz", "200", 512)


WORKER_PROBE = """
import logging
from celery import shared_task
from retrieval.core.settings import Settings
from workers import create_celery

app = create_celery(Settings.from_env())
app.log.setup(loglevel="INFO")  # what `celery worker` does as it starts

@shared_task(bind=True, name="probe.log_something")
def log_something(self, document_id):
    logging.getLogger("retrieval.search.indexing").info("document %s indexed", document_id,
                                                 extra={"document_id": document_id})
    return self.request.id

print("TASK", log_something.apply(args=["d42"]).get(), flush=True)
"""


def test_the_worker_logs_json_with_the_running_task_id(tmp_path: Path) -> None:
    """Celery hands its logging to docchat's setup_logging receiver (workers/monitoring.py)."""
    env = {**os.environ, "DOCCHAT_DATA_DIR": str(tmp_path), "DOCCHAT_LOG_FORMAT": "json"}
    done = subprocess.run([sys.executable, "-c", WORKER_PROBE], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    task_id = done.stdout.split("TASK ", 1)[1].strip()
    lines = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
    (indexed,) = [entry for entry in lines if entry["message"] == "document d42 indexed"]
    assert indexed["document_id"] == "d42"
    assert indexed["task_id"] == task_id and indexed["task_name"] == "probe.log_something"
