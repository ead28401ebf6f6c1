"""Response cache for identical prediction requests, in process or in Redis.

The key is ``cache_key(model, version, route, body)``: a hash over the model, the
version that answered, the route and the exact request body. A new model version
therefore never answers from an old version's entries, and those expire on their own.
The values are finished response bodies, so a hit costs no model call and no encoding.

``MemoryCache`` is per worker (LRU, bounded in entries and bytes, with a TTL);
``RedisCache`` is shared by every worker and replica and lets Redis expire entries.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Protocol

import redis.asyncio
from redis.exceptions import RedisError

from cognirace.errors import ConfigError

log = logging.getLogger(__name__)


class ResponseCache(Protocol):
    """What the app needs of a cache; both implementations below provide it."""

    async def get(self, key: str) -> bytes | None: ...

    async def set(self, key: str, value: bytes) -> None: ...

    async def close(self) -> None: ...


def cache_key(model: str, version: str, route: str, body: bytes) -> str:
    """The sha256 (hex) of model, version, route and body.

    Each part is length-prefixed, so no two different tuples hash the same bytes
    (``("ab", "c")`` and ``("a", "bc")`` stay apart).
    """
    digest = hashlib.sha256()
    for part in (model.encode(), version.encode(), route.encode(), body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def _check_ttl(ttl_s: float) -> None:
    if not (math.isfinite(ttl_s) and ttl_s >= 0):
        raise ConfigError("the cache TTL must be zero (no caching) or a positive number of "
                          "seconds", value=ttl_s, hint="set COGNIRACE_CACHE_TTL_S to 0 or more")


class MemoryCache:
    """An LRU cache with a time to live, in this process's memory.

    Safe within one asyncio event loop (no awaits inside). Bounded twice: by entries and
    by the bytes of the stored bodies, so a run of large batch responses cannot eat the
    worker's memory; the least recently used entries go first. A TTL of 0 caches nothing.

    Args:
        ttl_s: Seconds an entry stays valid.
        max_entries: Most entries held.
        clock: Monotonic time in seconds; injectable so tests need not sleep.
        max_bytes: Most body bytes held (default 256 MiB); a larger body is not cached.
    """

    def __init__(self, ttl_s: float, max_entries: int = 10_000, *,
                 clock: Callable[[], float] = time.monotonic,
                 max_bytes: int = 256 * 2**20) -> None:
        _check_ttl(ttl_s)
        if max_entries < 1 or max_bytes < 1:
            raise ConfigError("the cache must hold at least one entry and one byte",
                              value=(max_entries, max_bytes),
                              hint="set COGNIRACE_CACHE_MAX_ENTRIES to 1 or more")
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self._bytes = 0

    async def get(self, key: str) -> bytes | None:
        """The body stored under ``key``, or None when absent or expired."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires, value = entry
        if self._clock() >= expires:
            self._drop(key)
            return None
        self._entries.move_to_end(key)
        return value

    async def set(self, key: str, value: bytes) -> None:
        """Store ``value`` for ``ttl_s`` seconds, evicting the least recently used."""
        if self.ttl_s <= 0 or len(value) > self.max_bytes:
            return
        if key in self._entries:
            self._drop(key)
        self._entries[key] = (self._clock() + self.ttl_s, value)
        self._bytes += len(value)
        while len(self._entries) > self.max_entries or self._bytes > self.max_bytes:
            self._drop(next(iter(self._entries)))

    def _drop(self, key: str) -> None:
        _, value = self._entries.pop(key)
        self._bytes -= len(value)

    def __len__(self) -> int:
        """Entries held, expired ones included until they are next looked up or evicted."""
        return len(self._entries)

    @property
    def n_bytes(self) -> int:
        """Body bytes held."""
        return self._bytes

    async def close(self) -> None:
        """Drop every entry."""
        self._entries.clear()
        self._bytes = 0


class RedisCache:
    """Cached bodies in Redis, shared by every worker and replica; Redis expires them.

    Whole-second TTLs use ``SET … EX``, others ``SET … PX`` (milliseconds). A Redis
    failure is logged and treated as a miss: the cache is an optimisation, and the
    service keeps answering (more slowly) without it.

    Args:
        client: A ``redis.asyncio`` client (see ``redis_client.connect_redis``).
        ttl_s: Seconds an entry stays valid; 0 caches nothing.
        prefix: Namespace of the cache keys.
    """

    def __init__(self, client: redis.asyncio.Redis, ttl_s: float, *,
                 prefix: str = "cognirace:cache:") -> None:
        _check_ttl(ttl_s)
        self.ttl_s = ttl_s
        self.prefix = prefix
        self._client = client

    async def get(self, key: str) -> bytes | None:
        """The body stored under ``key``, or None when absent, expired or Redis failed."""
        if self.ttl_s <= 0:
            return None
        try:
            value = await self._client.get(self.prefix + key)
        except RedisError as exc:
            log.warning("response cache: Redis GET failed (%s); treating as a miss", exc)
            return None
        if value is None:
            return None
        return value.encode() if isinstance(value, str) else bytes(value)

    async def set(self, key: str, value: bytes) -> None:
        """Store ``value`` for ``ttl_s`` seconds."""
        if self.ttl_s <= 0:
            return
        name = self.prefix + key
        try:
            if self.ttl_s >= 1 and float(self.ttl_s).is_integer():
                await self._client.set(name, value, ex=int(self.ttl_s))
            else:
                await self._client.set(name, value, px=max(1, round(self.ttl_s * 1000)))
        except RedisError as exc:
            log.warning("response cache: Redis SET failed (%s); entry not stored", exc)

    async def close(self) -> None:
        """Close the client (idempotent: a client shared with the limiter may be closed twice)."""
        await self._client.aclose()


__all__ = ["MemoryCache", "RedisCache", "ResponseCache", "cache_key"]
