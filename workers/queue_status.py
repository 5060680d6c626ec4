"""How many tasks wait in docchat's queue, asked of the broker directly and cheaply (for
GET /readyz and GET /metrics): Redis when configured, else the embedded SQLite broker's file.
Tasks a worker has taken and not finished are not counted."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import redis
from kombu.transport.redis import PRIORITY_STEPS
from kombu.transport.redis import Channel as RedisChannel

from retrieval.core.logs import url_without_password
from retrieval.core.settings import Settings

# Seconds to wait for the broker before calling it unavailable.
TIMEOUT = 2.0


class BrokerUnavailable(RuntimeError):
    """The broker did not answer; the message says which and why."""


def queue_depth(settings: Settings) -> int:
    """Tasks waiting in `settings.queue`."""
    if settings.embedded_broker:
        return _sqlite_depth(_broker_file(settings), settings.queue)
    return _redis_depth(settings.redis_url, settings.queue)


def _redis_depth(url: str, queue: str) -> int:
    # kombu keeps a queue in Redis as one list per priority step: the queue's own name for
    # priority 0 (every docchat task), the name plus a separator and the step for the others.
    keys = [queue] + [f"{queue}{RedisChannel.sep}{step}" for step in PRIORITY_STEPS if step]
    client = redis.Redis.from_url(url, socket_connect_timeout=TIMEOUT, socket_timeout=TIMEOUT)
    try:
        with client.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.llen(key)
            sizes = pipe.execute()
    except redis.RedisError as exc:
        raise BrokerUnavailable(
            f"Redis at {url_without_password(url)} is not answering: {exc}") from exc
    finally:
        client.close()
    return sum(int(size) for size in sizes)


def _broker_file(settings: Settings) -> Path:
    return Path(settings.broker_url.removeprefix("sqla+sqlite:///"))


def _sqlite_depth(path: Path, queue: str) -> int:
    """Visible messages of the queue in kombu's SQLAlchemy tables (kombu_queue, kombu_message);
    a message a worker has taken is invisible until it is acknowledged."""
    if not path.exists():
        # The worker or the first upload creates it; until then nothing waits.
        if not os.access(path.parent, os.W_OK):
            raise BrokerUnavailable(f"the embedded broker cannot create {path}: the folder is "
                                    "not writable")
        return 0
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=TIMEOUT)
        try:
            row = db.execute(
                "SELECT COUNT(*) FROM kombu_message m JOIN kombu_queue q ON q.id = m.queue_id"
                " WHERE q.name = ? AND m.visible = 1", (queue,)).fetchone()
        finally:
            db.close()
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):  # created, but no task was ever sent
            return 0
        raise BrokerUnavailable(f"the embedded broker {path} cannot be read: {exc}") from exc
    except sqlite3.Error as exc:
        raise BrokerUnavailable(f"the embedded broker {path} cannot be read: {exc}") from exc
    return int(row[0])
