"""Rate limits per caller: a token bucket, in process or shared through Redis.

Each bucket holds up to ``burst`` tokens and refills at ``rate_per_s`` tokens a second;
a request takes ``cost`` tokens or is refused. A caller can therefore send ``burst``
requests at once, then ``rate_per_s`` a second for as long as it likes.

``MemoryRateLimiter`` keeps buckets in the worker's memory: right for one process, and
what the service uses without ``COGNIRACE_REDIS_URL``. With several workers or replicas
each would grant its own allowance, so there ``RedisRateLimiter`` keeps one bucket per
caller in Redis, updated by one Lua script (atomic) that reads the time from Redis
itself, so replicas whose clocks disagree still agree on the bucket.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import redis.asyncio
from redis.exceptions import RedisError

from cognirace.errors import ConfigError

log = logging.getLogger(__name__)

_EPS = 1e-9
"""Tolerance for float sums: a bucket refilled to 0.9999999999 holds one token."""


@dataclass(frozen=True)
class Decision:
    """The answer for one request.

    Attributes:
        allowed: Whether the request may proceed.
        limit: Size of the bucket (requests allowed at once).
        remaining: Whole tokens left after this request.
        reset_s: Seconds until the bucket is full again.
        retry_after_s: Seconds until a refused request would be allowed (0 when allowed).
    """

    allowed: bool
    limit: int
    remaining: int
    reset_s: float
    retry_after_s: float


class RateLimiter(Protocol):
    """What the app needs of a limiter; both implementations below provide it."""

    async def hit(self, bucket: str, cost: int = 1) -> Decision: ...

    async def close(self) -> None: ...


def _check(rate_per_s: float, burst: int) -> None:
    if not (math.isfinite(rate_per_s) and rate_per_s > 0):
        raise ConfigError("the rate limit must be a positive number of requests per second",
                          value=rate_per_s, hint="set COGNIRACE_RATE_LIMIT_PER_S above 0")
    if burst < 1:
        raise ConfigError("the rate-limit burst must be at least 1 request", value=burst,
                          hint="set COGNIRACE_RATE_LIMIT_BURST to 1 or more")


def _check_cost(cost: int, burst: int) -> None:
    if not 1 <= cost <= burst:
        raise ValueError(f"cost {cost} must be between 1 and the burst {burst}")


def decide(tokens: float, cost: int, rate_per_s: float, burst: int) -> tuple[float, Decision]:
    """Take ``cost`` from a bucket holding ``tokens`` (already refilled): new level, decision."""
    if tokens + _EPS >= cost:
        tokens = max(0.0, tokens - cost)
        allowed, retry_after_s = True, 0.0
    else:
        allowed, retry_after_s = False, (cost - tokens) / rate_per_s
    decision = Decision(allowed=allowed, limit=burst, remaining=math.floor(tokens + _EPS),
                        reset_s=(burst - tokens) / rate_per_s, retry_after_s=retry_after_s)
    return tokens, decision


class MemoryRateLimiter:
    """Token buckets in this process's memory.

    Safe within one asyncio event loop: ``hit`` does not await, so no two requests
    interleave inside it. Buckets that have refilled completely are dropped from time to
    time (a full bucket and no bucket mean the same), so memory stays bounded by the
    callers active within the last ``burst / rate_per_s`` seconds.

    Args:
        rate_per_s: Tokens added per second.
        burst: Capacity of each bucket.
        clock: Monotonic time in seconds; injectable so tests need not sleep.
    """

    _SWEEP_EVERY = 10_000

    def __init__(self, rate_per_s: float, burst: int, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        _check(rate_per_s, burst)
        self.rate_per_s = rate_per_s
        self.burst = burst
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}
        self._hits = 0

    def _level(self, bucket: str, now: float) -> float:
        tokens, stamp = self._buckets.get(bucket, (float(self.burst), now))
        return min(float(self.burst), tokens + max(0.0, now - stamp) * self.rate_per_s)

    async def hit(self, bucket: str, cost: int = 1) -> Decision:
        """Take ``cost`` tokens from ``bucket`` if it holds them."""
        _check_cost(cost, self.burst)
        now = self._clock()
        tokens, decision = decide(self._level(bucket, now), cost, self.rate_per_s, self.burst)
        self._buckets[bucket] = (tokens, now)
        self._hits += 1
        if self._hits % self._SWEEP_EVERY == 0:
            self._sweep(now)
        return decision

    def _sweep(self, now: float) -> None:
        full = [b for b in self._buckets if self._level(b, now) >= self.burst]
        for bucket in full:
            del self._buckets[bucket]

    def __len__(self) -> int:
        """Buckets held in memory (callers seen recently)."""
        return len(self._buckets)

    async def close(self) -> None:
        """Nothing to release; present for the ``RateLimiter`` protocol."""


# KEYS[1] bucket; ARGV rate_per_s, burst, cost. State: tokens and the Redis time of the last
# update (seconds and microseconds kept apart so no precision is lost). Returns
# allowed, tokens, retry_after_s, reset_s as strings (Lua numbers would be truncated).
_SCRIPT = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local now = redis.call('TIME')
local state = redis.call('HMGET', KEYS[1], 'tokens', 's', 'us')
local tokens = tonumber(state[1])
if tokens == nil then
  tokens = burst
else
  local elapsed = (tonumber(now[1]) - tonumber(state[2]))
    + (tonumber(now[2]) - tonumber(state[3])) / 1000000
  if elapsed > 0 then tokens = math.min(burst, tokens + elapsed * rate) end
end
local allowed = 0
local retry = 0
if tokens + 1e-9 >= cost then
  tokens = math.max(0, tokens - cost)
  allowed = 1
else
  retry = (cost - tokens) / rate
end
local reset = (burst - tokens) / rate
redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens), 's', now[1], 'us', now[2])
redis.call('PEXPIRE', KEYS[1], math.ceil(reset * 1000) + 1000)
return {allowed, string.format('%.17g', tokens), string.format('%.17g', retry),
        string.format('%.17g', reset)}
"""


class RedisRateLimiter:
    """Token buckets in Redis, shared by every worker and replica that uses the same server.

    One Lua script reads, refills, takes and writes the bucket atomically, with the time
    from Redis ``TIME``. Each bucket is a hash that expires once it would be full again,
    so idle callers cost no memory. Needs Redis 5 or later (scripts replicated by effect).

    When Redis fails, the request is allowed and a warning logged: a limiter outage should
    not take the prediction service down with it.

    Args:
        client: A ``redis.asyncio`` client (see ``redis_client.connect_redis``).
        rate_per_s: Tokens added per second.
        burst: Capacity of each bucket.
        prefix: Namespace of the bucket keys.
    """

    def __init__(self, client: redis.asyncio.Redis, rate_per_s: float, burst: int, *,
                 prefix: str = "cognirace:rl:") -> None:
        _check(rate_per_s, burst)
        self.rate_per_s = rate_per_s
        self.burst = burst
        self.prefix = prefix
        self._client = client
        # EVALSHA, loading the script again when the server answers NOSCRIPT (after a restart)
        self._script = client.register_script(_SCRIPT)

    async def hit(self, bucket: str, cost: int = 1) -> Decision:
        """Take ``cost`` tokens from ``bucket`` if it holds them."""
        _check_cost(cost, self.burst)
        try:
            reply = await self._script(keys=[self.prefix + bucket],
                                       args=[repr(self.rate_per_s), self.burst, cost])
        except RedisError as exc:
            log.warning("rate limiter: Redis failed (%s); allowing the request", exc)
            return Decision(allowed=True, limit=self.burst, remaining=self.burst - cost,
                            reset_s=0.0, retry_after_s=0.0)
        allowed, tokens, retry_after_s, reset_s = reply
        return Decision(allowed=int(allowed) == 1, limit=self.burst,
                        remaining=math.floor(float(tokens) + _EPS), reset_s=float(reset_s),
                        retry_after_s=float(retry_after_s))

    async def close(self) -> None:
        """Close the client (idempotent, so a client shared with the cache may be closed twice)."""
        await self._client.aclose()


def rate_limit_headers(decision: Decision) -> dict[str, str]:
    """``RateLimit-Limit``/``-Remaining``/``-Reset`` (IETF draft; whole seconds, rounded up),
    and ``Retry-After`` (at least 1 s) when the request was refused."""
    headers = {
        "RateLimit-Limit": str(decision.limit),
        "RateLimit-Remaining": str(max(0, decision.remaining)),
        "RateLimit-Reset": str(max(0, math.ceil(decision.reset_s - _EPS))),
    }
    if not decision.allowed:
        headers["Retry-After"] = str(max(1, math.ceil(decision.retry_after_s - _EPS)))
    return headers


__all__ = [
    "Decision",
    "MemoryRateLimiter",
    "RateLimiter",
    "RedisRateLimiter",
    "decide",
    "rate_limit_headers",
]
