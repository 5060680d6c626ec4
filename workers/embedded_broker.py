"""The embedded broker: kombu's SQLAlchemy transport over a SQLite file, polled briskly.

kombu's virtual transports sleep `polling_interval` (a second by default) whenever a poll
finds nothing it may take, and a worker that holds an unacknowledged task (acks_late,
prefetch 1) finds nothing until that task is done: up to a second lost between any two tasks,
which on a batch of small uploads cost about a third of the ingest time. kombu hands the
SQLAlchemy transport's options to `create_engine`, which rejects `polling_interval`, so the
interval is set on a subclass registered under its own URL scheme.
"""

from __future__ import annotations

from kombu.transport import TRANSPORT_ALIASES
from kombu.transport.sqlalchemy import Transport as SQLAlchemyTransport

SCHEME = "docchat-sqla"
POLLING_INTERVAL = 0.1


class Transport(SQLAlchemyTransport):
    polling_interval = POLLING_INTERVAL


def broker_url(sqla_url: str) -> str:
    """The URL that selects this transport for a `sqla+<database URL>` broker URL."""
    TRANSPORT_ALIASES.setdefault(SCHEME, f"{__name__}:Transport")
    database = sqla_url.split("+", 1)[1] if sqla_url.startswith("sqla+") else sqla_url
    return f"{SCHEME}+{database}"
