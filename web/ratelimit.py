"""Requests per caller per minute: fixed one-minute windows, counted in Redis when docchat has
one (shared by every web process and machine), else in this process."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import current_app

from web.errors import ApiError

F = TypeVar("F", bound=Callable[..., Any])
WINDOW = 60


class RateLimited(ApiError):
    def __init__(self, limit: int, retry_after: int) -> None:
        super().__init__(429, "rate_limited",
                         f"Too many requests: at most {limit} a minute. Try again in "
                         f"{retry_after} seconds.")
        self.retry_after = retry_after


class RateLimiter:
    def __init__(self, per_minute: int, redis_url: str = "") -> None:
        self.per_minute = per_minute
        self._redis_url = redis_url
        self._redis: Any = None
        self._counts: dict[tuple[str, int], int] = {}
        self._lock = threading.Lock()

    def check(self, key: str, per_minute: int | None = None) -> None:
        """Count one request of `key`; RateLimited when it is over the limit."""
        limit = self.per_minute if per_minute is None else per_minute
        if limit <= 0:
            return
        now = time.time()
        window = int(now // WINDOW)
        if self._count(key, window) > limit:
            raise RateLimited(limit, max(1, int((window + 1) * WINDOW - now) + 1))

    def _count(self, key: str, window: int) -> int:
        if self._redis_url:
            return self._count_in_redis(key, window)
        with self._lock:
            for stale in [k for k in self._counts if k[1] < window]:
                del self._counts[stale]
            self._counts[(key, window)] = self._counts.get((key, window), 0) + 1
            return self._counts[(key, window)]

    def _count_in_redis(self, key: str, window: int) -> int:
        if self._redis is None:
            import redis

            self._redis = redis.Redis.from_url(self._redis_url, socket_timeout=2)
        name = f"docchat:rate:{key}:{window}"
        with self._redis.pipeline() as pipe:
            pipe.incr(name)
            pipe.expire(name, 2 * WINDOW)
            count, _ = pipe.execute()
        return int(count)


def rate_limited(view: F) -> F:
    """Count the view against the caller's limit (DOCCHAT_RATE_LIMIT_PER_MINUTE)."""
    from web.auth import principal

    @wraps(view)
    def limited(*args: Any, **kwargs: Any) -> Any:
        limiter: RateLimiter = current_app.extensions["docchat.limiter"]
        limiter.check(principal().id)
        return view(*args, **kwargs)

    return limited  # type: ignore[return-value]
