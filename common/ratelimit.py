"""
Fixed-window counters in the cache (Redis in production): atomic increments, shared by every process.
With the cache unreachable the counters fail open: a lead form is worth more than a perfect throttle.
"""

import time
from dataclasses import dataclass

from django.core.cache import cache


@dataclass(frozen=True)
class Hit:
    count: int
    limit: int
    retry_after: int

    @property
    def allowed(self) -> bool:
        return self.count <= self.limit


def _window_key(key: str, window: int) -> tuple[str, int]:
    now = time.time()
    bucket = int(now // window)
    return f"rl:{key}:{bucket}", int(window - now % window) + 1


def hit(key: str, *, limit: int, window: int) -> Hit:
    """Counts one event for `key` in the current window and says whether it is within `limit`."""
    cache_key, retry_after = _window_key(key, window)
    cache.add(cache_key, 0, timeout=window + 1)
    try:
        count = cache.incr(cache_key)
    except ValueError:  # expired between add and incr
        cache.set(cache_key, 1, timeout=window + 1)
        count = 1
    return Hit(count=count or 0, limit=limit, retry_after=retry_after)


def peek(key: str, *, limit: int, window: int) -> Hit:
    """The current window's count for `key`, without counting."""
    cache_key, retry_after = _window_key(key, window)
    return Hit(count=cache.get(cache_key) or 0, limit=limit, retry_after=retry_after)


def reset(key: str, *, window: int) -> None:
    cache.delete(_window_key(key, window)[0])
