"""The shared cache when Redis is configured: an optimisation that must never take a page down.

Everything kept in it can be recomputed (the report pages' figures, the catalogue version that
is part of their keys, the API throttle's request history), so while Redis is unreachable the
cache answers like an empty one: a read is a miss, a write is dropped. After a failure Redis is
left alone for `RETRY_AFTER` seconds in this process, so an outage costs one refused (or timed
out) connection every few seconds, not one per cache call of every request; the outage is
logged as one warning when it starts, again at most once a minute while it lasts, and once when
Redis answers again.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, TypeVar

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import RedisError

log = logging.getLogger(__name__)
T = TypeVar("T")

# How long a process skips Redis after a failed call before trying it again.
RETRY_AFTER = 5.0
# At most one warning this often while Redis stays away.
WARN_EVERY = 60.0


class RedisHealth:
    """Whether Redis answered the last call of this process; shared by its threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.down_since: float | None = None
        self.retry_at = 0.0
        self.warned_at = 0.0
        self.failures = 0

    def usable(self) -> bool:
        """False while a recent failure says Redis is away (no call is even tried)."""
        return self.down_since is None or time.monotonic() >= self.retry_at

    def failed(self, exc: Exception) -> None:
        now = time.monotonic()
        with self._lock:
            self.failures += 1
            self.retry_at = now + RETRY_AFTER
            if self.down_since is None:
                self.down_since = now
            elif now - self.warned_at < WARN_EVERY:
                return
            self.warned_at = now
            failures = self.failures
        log.warning(
            "Redis cache unreachable (%s: %s); serving without it (%s failed call(s) so far).",
            type(exc).__name__,
            exc,
            failures,
        )

    def answered(self) -> None:
        if self.down_since is None:
            return
        with self._lock:
            if self.down_since is None:
                return
            seconds = time.monotonic() - self.down_since
            self.down_since, self.failures = None, 0
        log.warning("Redis cache answers again after %.0f s.", seconds)


health = RedisHealth()


class FailOpenRedisCache(RedisCache):
    """Django's Redis cache, answering like an empty cache while Redis is away (see above)."""

    @property
    def available(self) -> bool:
        """Whether Redis is believed to answer; callers with a local fallback read this."""
        return health.usable()

    def _guard(self, default: T, name: str, *args: Any) -> T:
        """RedisCache's `name` method, or `default` when Redis is away or fails."""
        if not health.usable():
            return default
        try:
            result = getattr(super(), name)(*args)
        except RedisError as exc:
            health.failed(exc)
            return default
        health.answered()
        return result

    def get(self, key: str, default: Any = None, version: int | None = None) -> Any:
        return self._guard(default, "get", key, default, version)

    def get_many(self, keys: Any, version: int | None = None) -> dict[str, Any]:
        return self._guard({}, "get_many", keys, version)

    def has_key(self, key: str, version: int | None = None) -> bool:
        return self._guard(False, "has_key", key, version)

    def set(
        self, key: str, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None
    ) -> None:
        self._guard(None, "set", key, value, timeout, version)

    def add(
        self, key: str, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None
    ) -> bool:
        return self._guard(False, "add", key, value, timeout, version)

    def set_many(
        self, data: dict, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None
    ) -> list:
        return self._guard(list(data), "set_many", data, timeout, version)

    def touch(self, key: str, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> bool:
        return self._guard(False, "touch", key, timeout, version)

    def delete(self, key: str, version: int | None = None) -> bool:
        return self._guard(False, "delete", key, version)

    def delete_many(self, keys: Any, version: int | None = None) -> None:
        self._guard(None, "delete_many", keys, version)

    def incr(self, key: str, delta: int = 1, version: int | None = None) -> int:
        value = self._guard(None, "incr", key, delta, version)
        if value is None:
            # A counter that cannot be read is missing, which is what incr says of a missing key.
            raise ValueError(f"Key '{key}' not found (the cache is unreachable)")
        return value

    def clear(self) -> None:
        self._guard(None, "clear")
