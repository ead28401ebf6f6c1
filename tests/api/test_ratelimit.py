"""Token buckets: burst, refill, Retry-After and headers; the Redis bucket shared by replicas."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from cognirace.api.ratelimit import (
    Decision,
    MemoryRateLimiter,
    RedisRateLimiter,
    rate_limit_headers,
)
from cognirace.errors import ConfigError
from redis_server import fixture_redis_prefix, fixture_redis_url  # noqa: F401

T = TypeVar("T")


class FakeClock:
    """Time that moves only when told to, in seconds."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def hits(limiter: MemoryRateLimiter | RedisRateLimiter, n: int, bucket: str = "k",
         cost: int = 1) -> list[Decision]:
    async def run() -> list[Decision]:
        return [await limiter.hit(bucket, cost) for _ in range(n)]

    return asyncio.run(run())


def test_the_burst_is_granted_at_once_then_refused() -> None:
    limiter = MemoryRateLimiter(rate_per_s=1.0, burst=3, clock=FakeClock())
    decisions = hits(limiter, 4)
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert [d.remaining for d in decisions] == [2, 1, 0, 0]
    assert all(d.limit == 3 for d in decisions)
    assert decisions[3].retry_after_s == pytest.approx(1.0)
    assert decisions[2].reset_s == pytest.approx(3.0)


def test_tokens_refill_at_the_rate_and_never_beyond_the_burst() -> None:
    clock = FakeClock()
    limiter = MemoryRateLimiter(rate_per_s=2.0, burst=4, clock=clock)
    assert all(d.allowed for d in hits(limiter, 4))
    clock.advance(0.5)  # one token back
    assert [d.allowed for d in hits(limiter, 2)] == [True, False]
    clock.advance(3600)
    assert [d.allowed for d in hits(limiter, 5)] == [True] * 4 + [False]


def test_retry_after_is_the_time_until_the_cost_is_available() -> None:
    clock = FakeClock()
    limiter = MemoryRateLimiter(rate_per_s=4.0, burst=4, clock=clock)
    hits(limiter, 4)
    clock.advance(0.125)  # half a token
    refused = hits(limiter, 1, cost=3)[0]
    assert not refused.allowed
    assert refused.retry_after_s == pytest.approx(2.5 / 4.0)
    assert refused.reset_s == pytest.approx(3.5 / 4.0)
    clock.advance(refused.retry_after_s)
    assert hits(limiter, 1, cost=3)[0].allowed


def test_buckets_are_independent() -> None:
    limiter = MemoryRateLimiter(rate_per_s=1.0, burst=1, clock=FakeClock())
    assert hits(limiter, 1, "a")[0].allowed
    assert hits(limiter, 1, "b")[0].allowed
    assert not hits(limiter, 1, "a")[0].allowed


def test_full_buckets_are_forgotten_so_memory_stays_bounded() -> None:
    clock = FakeClock()
    limiter = MemoryRateLimiter(rate_per_s=10.0, burst=2, clock=clock)
    limiter._SWEEP_EVERY = 10
    for n in range(9):
        hits(limiter, 1, f"old-{n}")
    clock.advance(1.0)  # every old bucket is full again
    hits(limiter, 1, "new")  # tenth hit: sweep
    assert len(limiter) == 1


@settings(max_examples=60, deadline=None)
@given(rate=st.floats(0.5, 50), burst=st.integers(1, 20),
       gaps=st.lists(st.floats(0, 0.5), min_size=1, max_size=80))
def test_no_caller_gets_more_than_burst_plus_rate_times_elapsed(
        rate: float, burst: int, gaps: list[float]) -> None:
    clock = FakeClock()
    limiter = MemoryRateLimiter(rate_per_s=rate, burst=burst, clock=clock)
    start, allowed = clock.now, 0
    for gap in gaps:
        clock.advance(gap)
        allowed += hits(limiter, 1)[0].allowed
    assert allowed <= burst + rate * (clock.now - start) + 1e-6


def test_bad_settings_are_config_errors_and_costs_beyond_the_burst_are_refused() -> None:
    with pytest.raises(ConfigError, match="positive"):
        MemoryRateLimiter(rate_per_s=0, burst=1)
    with pytest.raises(ConfigError, match="burst"):
        MemoryRateLimiter(rate_per_s=1, burst=0)
    with pytest.raises(ValueError, match="cost"):
        hits(MemoryRateLimiter(rate_per_s=1, burst=2), 1, cost=3)


def test_headers_follow_the_ietf_draft_and_add_retry_after_when_refused() -> None:
    allowed = Decision(allowed=True, limit=200, remaining=199, reset_s=0.01, retry_after_s=0)
    assert rate_limit_headers(allowed) == {
        "RateLimit-Limit": "200", "RateLimit-Remaining": "199", "RateLimit-Reset": "1"}
    refused = Decision(allowed=False, limit=5, remaining=0, reset_s=2.5, retry_after_s=0.2)
    headers = rate_limit_headers(refused)
    assert headers["RateLimit-Remaining"] == "0"
    assert headers["RateLimit-Reset"] == "3"
    assert headers["Retry-After"] == "1"  # never 0: clients would retry at once


# ---- Redis ---------------------------------------------------------------------------------


def redis_run(url: str, scenario: Callable[[Redis, Redis], Awaitable[T]]) -> T:
    """Run ``scenario(client_a, client_b)`` with two clients, as two replicas would have."""
    async def run() -> T:
        a, b = Redis.from_url(url), Redis.from_url(url)
        try:
            return await scenario(a, b)
        finally:
            await a.aclose()
            await b.aclose()

    return asyncio.run(run())


@pytest.mark.redis
def test_redis_bucket_grants_the_burst_then_refuses(redis_url: str, redis_prefix: str) -> None:
    async def scenario(a: Redis, _: Redis) -> list[Decision]:
        limiter = RedisRateLimiter(a, rate_per_s=0.5, burst=3, prefix=redis_prefix)
        return [await limiter.hit("key_1") for _ in range(4)]

    decisions = redis_run(redis_url, scenario)
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert [d.remaining for d in decisions] == [2, 1, 0, 0]
    assert decisions[3].retry_after_s == pytest.approx(2.0, abs=0.05)
    assert decisions[2].reset_s == pytest.approx(6.0, abs=0.05)


@pytest.mark.redis
def test_two_replicas_share_one_bucket_even_when_racing(redis_url: str,
                                                        redis_prefix: str) -> None:
    async def scenario(a: Redis, b: Redis) -> list[Decision]:
        one = RedisRateLimiter(a, rate_per_s=0.01, burst=10, prefix=redis_prefix)
        two = RedisRateLimiter(b, rate_per_s=0.01, burst=10, prefix=redis_prefix)
        calls = [(one if n % 2 else two).hit("shared") for n in range(40)]
        return list(await asyncio.gather(*calls))

    decisions = redis_run(redis_url, scenario)
    assert sum(d.allowed for d in decisions) == 10


@pytest.mark.redis
def test_redis_bucket_refills_in_real_time_and_expires(redis_url: str,
                                                       redis_prefix: str) -> None:
    async def scenario(a: Redis, _: Redis) -> tuple[bool, bool, int]:
        limiter = RedisRateLimiter(a, rate_per_s=20.0, burst=2, prefix=redis_prefix)
        await limiter.hit("k")
        await limiter.hit("k")
        refused = (await limiter.hit("k")).allowed
        await asyncio.sleep(0.08)  # 1.6 tokens back
        again = (await limiter.hit("k")).allowed
        return refused, again, int(await a.pttl(redis_prefix + "k"))

    refused, again, ttl_ms = redis_run(redis_url, scenario)
    assert not refused and again
    assert 0 < ttl_ms <= 1100  # expires once full again (about 50 ms) plus a second of slack


def test_redis_outage_lets_requests_through_and_logs(caplog: pytest.LogCaptureFixture) -> None:
    async def run() -> Decision:
        client = Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2,
                       retry=Retry(NoBackoff(), retries=0))
        limiter = RedisRateLimiter(client, rate_per_s=1, burst=5)
        try:
            return await limiter.hit("k")
        finally:
            await limiter.close()

    with caplog.at_level(logging.WARNING, logger="cognirace.api.ratelimit"):
        decision = asyncio.run(run())
    assert decision.allowed and decision.limit == 5
    assert "allowing the request" in caplog.text
