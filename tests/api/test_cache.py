"""Response cache: keys that never cross versions, LRU and TTL in memory, Redis expiry."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

import pytest
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from cognirace.api.cache import MemoryCache, RedisCache, cache_key
from cognirace.api.redis_client import connect_redis, redact_url
from cognirace.errors import ConfigError
from redis_server import fixture_redis_prefix, fixture_redis_url  # noqa: F401

T = TypeVar("T")
BODY = b'{"track": "barber", "lap": 12, "fuel_l": 31.5}'


class FakeClock:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


def run(coro: Awaitable[T]) -> T:
    async def main() -> T:
        return await coro

    return asyncio.run(main())


def test_cache_key_is_a_sha256_over_model_version_route_and_body() -> None:
    key = cache_key("laptime", "v0003", "/v1/predict/{model}", BODY)
    assert len(key) == 64 and int(key, 16) >= 0
    assert key == cache_key("laptime", "v0003", "/v1/predict/{model}", BODY)
    others = {
        cache_key("laptime", "v0004", "/v1/predict/{model}", BODY),  # new version: never shared
        cache_key("fuel", "v0003", "/v1/predict/{model}", BODY),
        cache_key("laptime", "v0003", "/v1/predict/{model}/batch", BODY),
        cache_key("laptime", "v0003", "/v1/predict/{model}", BODY + b" "),
    }
    assert key not in others and len(others) == 4


def test_cache_key_parts_cannot_run_into_each_other() -> None:
    assert cache_key("ab", "c", "r", b"") != cache_key("a", "bc", "r", b"")
    assert cache_key("m", "v", "r1", b"x") != cache_key("m", "v", "r", b"1x")


def test_a_new_version_misses_what_the_old_version_stored() -> None:
    cache = MemoryCache(ttl_s=60)

    async def scenario() -> tuple[bytes | None, bytes | None]:
        await cache.set(cache_key("fcy", "v1", "/v1/predict/{model}", BODY), b"old answer")
        return (await cache.get(cache_key("fcy", "v1", "/v1/predict/{model}", BODY)),
                await cache.get(cache_key("fcy", "v2", "/v1/predict/{model}", BODY)))

    assert run(scenario()) == (b"old answer", None)


def test_memory_entries_expire_after_the_ttl() -> None:
    clock = FakeClock()
    cache = MemoryCache(ttl_s=10, clock=clock)
    run(cache.set("k", b"v"))
    clock.now += 9.99
    assert run(cache.get("k")) == b"v"
    clock.now += 0.01
    assert run(cache.get("k")) is None
    assert len(cache) == 0 and cache.n_bytes == 0


def test_memory_cache_evicts_the_least_recently_used() -> None:
    cache = MemoryCache(ttl_s=60, max_entries=3, clock=FakeClock())

    async def scenario() -> list[bytes | None]:
        for key in ("a", "b", "c"):
            await cache.set(key, key.encode())
        await cache.get("a")  # a is now the most recent; b the least
        await cache.set("d", b"d")
        return [await cache.get(key) for key in ("a", "b", "c", "d")]

    assert run(scenario()) == [b"a", None, b"c", b"d"]
    assert len(cache) == 3


def test_memory_cache_is_bounded_in_bytes_too() -> None:
    cache = MemoryCache(ttl_s=60, max_entries=100, max_bytes=10, clock=FakeClock())

    async def scenario() -> list[bytes | None]:
        await cache.set("a", b"12345")
        await cache.set("b", b"12345")
        await cache.set("c", b"123")  # 13 bytes: a goes
        await cache.set("huge", b"x" * 11)  # larger than the whole cache: not stored
        await cache.set("b", b"1")  # replacing counts the new size only
        return [await cache.get(key) for key in ("a", "b", "c", "huge")]

    assert run(scenario()) == [None, b"1", b"123", None]
    assert cache.n_bytes == 4


def test_a_zero_ttl_caches_nothing_and_bad_settings_are_config_errors() -> None:
    cache = MemoryCache(ttl_s=0)
    run(cache.set("k", b"v"))
    assert run(cache.get("k")) is None
    with pytest.raises(ConfigError, match="TTL"):
        MemoryCache(ttl_s=-1)
    with pytest.raises(ConfigError, match="at least one entry"):
        MemoryCache(ttl_s=1, max_entries=0)


# ---- Redis ---------------------------------------------------------------------------------


def with_redis(url: str, scenario: Callable[[Redis], Awaitable[T]]) -> T:
    async def main() -> T:
        client = Redis.from_url(url)
        try:
            return await scenario(client)
        finally:
            await client.aclose()

    return asyncio.run(main())


@pytest.mark.redis
def test_redis_cache_round_trip_with_whole_second_ttl(redis_url: str,
                                                      redis_prefix: str) -> None:
    async def scenario(client: Redis) -> tuple[bytes | None, bytes | None, int]:
        cache = RedisCache(client, ttl_s=60, prefix=redis_prefix)
        await cache.set("k", b"\x00body\xff")
        return (await cache.get("k"), await cache.get("other"),
                int(await client.ttl(redis_prefix + "k")))

    value, missing, ttl = with_redis(redis_url, scenario)
    assert value == b"\x00body\xff" and missing is None
    assert 58 <= ttl <= 60


@pytest.mark.redis
def test_redis_entries_expire_after_a_sub_second_ttl(redis_url: str, redis_prefix: str) -> None:
    async def scenario(client: Redis) -> tuple[bytes | None, int, bytes | None]:
        cache = RedisCache(client, ttl_s=0.15, prefix=redis_prefix)
        await cache.set("k", b"v")
        fresh, pttl = await cache.get("k"), int(await client.pttl(redis_prefix + "k"))
        await asyncio.sleep(0.25)
        return fresh, pttl, await cache.get("k")

    fresh, pttl, expired = with_redis(redis_url, scenario)
    assert fresh == b"v" and 0 < pttl <= 150
    assert expired is None


@pytest.mark.redis
def test_replicas_share_entries_and_versions_stay_apart(redis_url: str,
                                                        redis_prefix: str) -> None:
    key_v1 = cache_key("tire", "v1", "/v1/predict/{model}", BODY)
    key_v2 = cache_key("tire", "v2", "/v1/predict/{model}", BODY)

    async def scenario(client: Redis) -> tuple[bytes | None, bytes | None]:
        other = Redis.from_url(redis_url)
        try:
            await RedisCache(client, ttl_s=5, prefix=redis_prefix).set(key_v1, b"v1 answer")
            replica = RedisCache(other, ttl_s=5, prefix=redis_prefix)
            return await replica.get(key_v1), await replica.get(key_v2)
        finally:
            await other.aclose()

    assert with_redis(redis_url, scenario) == (b"v1 answer", None)


def test_a_redis_outage_is_a_logged_miss(caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> bytes | None:
        client = Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2,
                       retry=Retry(NoBackoff(), retries=0))
        cache = RedisCache(client, ttl_s=5)
        try:
            await cache.set("k", b"v")
            return await cache.get("k")
        finally:
            await cache.close()

    with caplog.at_level(logging.WARNING, logger="cognirace.api.cache"):
        assert run(scenario()) is None
    assert "SET failed" in caplog.text and "treating as a miss" in caplog.text


# ---- the connection ------------------------------------------------------------------------


@pytest.mark.redis
def test_connect_redis_returns_a_working_async_client(redis_url: str, redis_prefix: str) -> None:
    async def scenario() -> bytes | None:
        client = connect_redis(redis_url)
        cache = RedisCache(client, ttl_s=5, prefix=redis_prefix)
        try:
            await cache.set("k", b"v")
            return await cache.get("k")
        finally:
            await cache.close()

    assert run(scenario()) == b"v"


def test_an_unreachable_redis_is_a_config_error_without_the_password() -> None:
    with pytest.raises(ConfigError, match="cannot reach Redis") as info:
        connect_redis("redis://user:s3cret@127.0.0.1:1/0", timeout_s=0.5)
    assert "s3cret" not in str(info.value) and "***" in str(info.value)
    assert info.value.hint and "COGNIRACE_REDIS_URL" in info.value.hint
    with pytest.raises(ConfigError, match="not a Redis URL"):
        connect_redis("http://127.0.0.1:6379")


def test_redact_url_hides_only_the_password() -> None:
    assert redact_url("redis://localhost:6379/0") == "redis://localhost:6379/0"
    redacted = redact_url("rediss://me:pw@cache.internal:6380/2")
    assert redacted == "rediss://me:***@cache.internal:6380/2"
