"""Requests and failed logins per caller in sliding windows: what happened in the last N
seconds, counted in Redis when docchat has one (shared by every web process and machine), else
in this process. A sliding window has no edge to burst across: twice the limit can never pass
in one window's time."""

from __future__ import annotations

import math
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import current_app

from web.errors import ApiError
from web.identity import principal

F = TypeVar("F", bound=Callable[..., Any])
WINDOW = 60

# Drops what has left the window, then admits the event (adding it, unless ARGV[4] is empty)
# when fewer than ARGV[3] are in it; else answers the oldest event's time. Atomic in Redis, so
# concurrent requests from several web processes cannot both take the last place.
_ADMIT = """
local key, now, window, limit, member = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]),
    tonumber(ARGV[3]), ARGV[4]
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
if redis.call('ZCARD', key) >= limit then
  local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  return tostring(oldest[2])
end
if member ~= '' then
  redis.call('ZADD', key, now, member)
  redis.call('PEXPIRE', key, math.ceil(window * 1000))
end
return false
"""


class RateLimited(ApiError):
    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(429, "rate_limited", message)
        self.retry_after = retry_after


class RateLimiter:
    def __init__(self, per_minute: int, redis_url: str = "", namespace: str = "docchat",
                 ) -> None:
        """`namespace` keeps the counts of docchat installations that share one Redis apart."""
        self.per_minute = per_minute
        self._redis_url = redis_url
        self._namespace = namespace
        self._redis: Any = None
        self._script: Any = None
        self._events: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def check(self, key: str, per_minute: int | None = None) -> None:
        """Count one request of `key`; RateLimited when `per_minute` (default: the configured
        limit) were already made in the last minute."""
        limit = self.per_minute if per_minute is None else per_minute
        if limit <= 0:
            return
        wait = self.admit(key, limit, WINDOW)
        if wait is not None:
            raise RateLimited(f"Too many requests: at most {limit} a minute. Try again in "
                              f"{wait} seconds.", wait)

    def admit(self, key: str, limit: int, window: float, count: bool = True) -> int | None:
        """None when fewer than `limit` events of `key` happened in the last `window` seconds
        (and, with `count`, this one is recorded); else the seconds until one leaves the
        window. Refused events are not recorded, so waiting always helps."""
        now = time.time()
        if self._redis_url:
            oldest = self._admit_in_redis(key, limit, window, now, count)
        else:
            oldest = self._admit_here(key, limit, window, now, count)
        if oldest is None:
            return None
        return max(1, math.ceil(oldest + window - now))

    def record(self, key: str, window: float) -> None:
        """Record an event of `key` (a failed login) without any limit."""
        self.admit(key, 2**31, window)

    def _admit_here(self, key: str, limit: int, window: float, now: float, count: bool,
                    ) -> float | None:
        with self._lock:
            events = self._events.setdefault(key, deque())
            while events and events[0] <= now - window:
                events.popleft()
            if len(events) >= limit:
                return events[0]
            if count:
                events.append(now)
            elif not events:
                del self._events[key]
            if len(self._events) > 100_000:  # forget keys whose events have all expired
                for stale in [k for k, v in self._events.items() if not v or v[-1] <= now - 3600]:
                    del self._events[stale]
            return None

    def _admit_in_redis(self, key: str, limit: int, window: float, now: float, count: bool,
                        ) -> float | None:
        if self._redis is None:
            import redis

            self._redis = redis.Redis.from_url(self._redis_url, socket_timeout=2)
            self._script = self._redis.register_script(_ADMIT)
        member = f"{now:.6f}:{uuid.uuid4().hex[:8]}" if count else ""
        oldest = self._script(keys=[f"{self._namespace}:rate:{key}"],
                              args=[now, window, limit, member])
        return None if oldest is None else float(oldest)


def current_limiter() -> RateLimiter:
    """The app's limiter (web/auth.py makes it when the app starts)."""
    limiter: RateLimiter = current_app.extensions["docchat.limiter"]
    return limiter


def rate_limited(view: F) -> F:
    """Count the view against the caller's limit (DOCCHAT_RATE_LIMIT_PER_MINUTE)."""

    @wraps(view)
    def limited(*args: Any, **kwargs: Any) -> Any:
        current_limiter().check(principal().id)
        return view(*args, **kwargs)

    return limited  # type: ignore[return-value]
