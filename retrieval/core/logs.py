"""How every docchat process logs (DOCCHAT_LOG_FORMAT): plain lines for a console, or one JSON
object a line for a log pipeline. `docchat serve`, the web app under gunicorn and the Celery
workers all configure their logging here, so a document's or a task's id is a field, not words.

Ids come from log calls (`log.info(..., extra={"document_id": ...})`) or from a filter a
process adds (the workers add the running task's id and name).
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from retrieval.core.settings import SettingsError

LOG_FORMATS = ("text", "json")
# Record attributes written as fields when a log call or a filter sets them.
CONTEXT_FIELDS = ("document_id", "job_id", "task_id", "task_name")
# gunicorn's access-log atoms worth a field of their own: (atom, field).
_ACCESS_FIELDS = (("m", "method"), ("U", "path"), ("s", "status"), ("D", "duration_us"))
TEXT_LAYOUT = "%(asctime)s %(levelname)s %(name)s %(message)s"
_HANDLER_NAME = "docchat"  # the root handler configure_logging owns


class JsonFormatter(logging.Formatter):
    """{"time", "level", "logger", "message", "process", ids..., "exception"}, one a line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "process": record.process,
        }
        entry.update(context_of(record))
        if record.name == "gunicorn.access" and isinstance(record.args, dict):
            for atom, field in _ACCESS_FIELDS:
                if atom in record.args:
                    entry[field] = record.args[atom]
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """`time LEVEL logger message [document_id=... task_id=...]`, then any traceback."""

    def __init__(self) -> None:
        super().__init__(TEXT_LAYOUT)

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 - logging's name
        line = super().formatMessage(record)
        context = context_of(record)
        if context:
            line += " [" + " ".join(f"{k}={v}" for k, v in context.items()) + "]"
        return line


def url_without_password(url: str) -> str:
    """A broker or Redis URL fit for a log line or a message: its password, if any, as ***."""
    if "@" not in url:
        return url
    scheme, rest = url.split("://", 1)
    return f"{scheme}://***@{rest.split('@', 1)[1]}"


def context_of(record: logging.LogRecord) -> dict[str, Any]:
    return {name: value for name in CONTEXT_FIELDS
            if (value := getattr(record, name, None)) is not None}


def formatter_class(log_format: str) -> type[logging.Formatter]:
    if log_format == "json":
        return JsonFormatter
    if log_format == "text":
        return TextFormatter
    raise SettingsError(f"DOCCHAT_LOG_FORMAT takes {' or '.join(LOG_FORMATS)}; got {log_format!r}")


def configure_logging(log_format: str, level: int | str = logging.INFO,
                      filters: Iterable[logging.Filter] = (), path: str | None = None) -> None:
    """Send the root logger's records to stderr (or the file at `path`) in `log_format`.
    Running it again replaces what it set up before, and leaves other handlers (a test
    runner's) alone."""
    handler: logging.Handler = (logging.FileHandler(path) if path
                                else logging.StreamHandler(sys.stderr))
    handler.setFormatter(formatter_class(log_format)())
    for log_filter in filters:
        handler.addFilter(log_filter)
    handler.set_name(_HANDLER_NAME)
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    root.setLevel(level)


def gunicorn_log_config(log_format: str) -> dict[str, Any]:
    """gunicorn's `logconfig_dict`: its error and access logs and the app's own records, all
    in `log_format` (access lines on stdout, the rest on stderr, as gunicorn does)."""
    formatter = {"()": f"{__name__}.{formatter_class(log_format).__name__}"}

    def logger(handler: str) -> dict[str, Any]:
        return {"level": "INFO", "handlers": [handler], "propagate": False}

    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"docchat": formatter},
        "handlers": {
            "stderr": {"class": "logging.StreamHandler", "formatter": "docchat",
                       "stream": "ext://sys.stderr"},
            "stdout": {"class": "logging.StreamHandler", "formatter": "docchat",
                       "stream": "ext://sys.stdout"},
        },
        "root": {"level": "INFO", "handlers": ["stderr"]},
        "loggers": {"gunicorn.error": logger("stderr"), "gunicorn.access": logger("stdout")},
    }
