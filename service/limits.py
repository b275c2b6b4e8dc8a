"""Requests per key per minute: 429 with ``Retry-After`` beyond ``CASTLEGATE_RATE_LIMIT``.

With Redis (``REDIS_URL``) the count is shared by every replica (a fixed one-minute window
per key, one INCR and one EXPIRE in a pipeline per request); without it the deployment is
one API process on one machine and the count is kept in that process, in a bounded table.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import OrderedDict

__all__ = ["RateLimiter", "MemoryLimiter", "RedisLimiter", "limiter_for"]

log = logging.getLogger("castlegate.limits")

WINDOW = 60.0
#: keys counted at most in memory (the least recently seen forgotten first)
MEMORY_KEYS = 10_000


class RateLimiter:
    limit: int
    #: ``hit`` waits on the network: the guard calls it off the event loop
    blocking = False

    def hit(self, key_id: str) -> float | None:
        """Counts one request; the seconds to wait when the key is over its limit."""
        raise NotImplementedError

    def close(self) -> None:
        pass


class MemoryLimiter(RateLimiter):
    def __init__(self, limit: int, clock=time.time) -> None:
        self.limit = limit
        self._clock = clock
        self._counts: OrderedDict[str, tuple[int, int]] = OrderedDict()
        self._lock = threading.Lock()

    def hit(self, key_id: str) -> float | None:
        now = self._clock()
        window = int(now // WINDOW)
        with self._lock:
            w, n = self._counts.get(key_id, (window, 0))
            n = n + 1 if w == window else 1
            self._counts[key_id] = (window, n)
            self._counts.move_to_end(key_id)
            while len(self._counts) > MEMORY_KEYS:
                self._counts.popitem(last=False)
        return _wait(n, self.limit, now)


class RedisLimiter(RateLimiter):
    blocking = True

    def __init__(self, url: str, prefix: str, limit: int) -> None:
        import redis

        self.limit = limit
        self._prefix = prefix
        self._redis = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        self._errors = (redis.RedisError, OSError)

    def hit(self, key_id: str) -> float | None:
        now = time.time()
        bucket = f"{self._prefix}rate:{key_id}:{int(now // WINDOW)}"
        pipe = self._redis.pipeline(transaction=False)
        pipe.incr(bucket)
        pipe.expire(bucket, int(WINDOW) + 5)
        try:
            n, _ = pipe.execute()
        except self._errors as e:
            # open rather than shut: with Redis away the requests that need it (analyses)
            # answer 503 on their own, and reads from the store keep being served
            log.warning("rate limit not counted: Redis did not answer", extra={"error": type(e).__name__})
            return None
        return _wait(int(n), self.limit, now)

    def close(self) -> None:
        self._redis.close()


def _wait(n: int, limit: int, now: float) -> float | None:
    if n <= limit:
        return None
    return max(1.0, math.ceil(WINDOW - now % WINDOW))


def limiter_for(settings) -> RateLimiter:
    if settings.redis_url:
        return RedisLimiter(settings.redis_url, f"{settings.queue_name}:", settings.rate_limit)
    return MemoryLimiter(settings.rate_limit)
