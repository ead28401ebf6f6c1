"""The Redis connection shared by the rate limiter and the response cache.

``connect_redis`` checks the server answers before the service starts, so a wrong
``COGNIRACE_REDIS_URL`` stops the start with a message that says what to fix, rather
than failing on the first request.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import redis
import redis.asyncio
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff, NoBackoff
from redis.exceptions import RedisError
from redis.retry import Retry as SyncRetry

from cognirace.errors import ConfigError

_HINT = ("start Redis there, correct COGNIRACE_REDIS_URL (e.g. redis://localhost:6379/0), "
         "or unset it to keep limits and cache in process")


def redact_url(url: str) -> str:
    """``url`` with any password replaced by ``***``, fit for messages and logs."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable URL>"
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    netloc = f"{user}:***@{host}{port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def connect_redis(url: str, *, timeout_s: float = 2.0) -> redis.asyncio.Redis:
    """An asyncio Redis client for ``url``, once the server has answered a PING.

    The check uses a short-lived synchronous connection, so this function can be called
    from sync or async code alike; at start-up, blocking up to ``timeout_s`` is fine.
    Replies are bytes (``decode_responses=False``): cached bodies are bytes. A failed
    command is retried once after 10 ms, then the error reaches the caller (which logs it
    and carries on without Redis, see ``ratelimit`` and ``cache``).

    Args:
        url: ``redis://``, ``rediss://`` or ``unix://`` URL, with the database number.
        timeout_s: Connect and command timeout in seconds, for the check and the client;
            keep it below the prediction timeout.

    Raises:
        ConfigError: The URL is malformed or the server does not answer.
    """
    where = redact_url(url)
    try:
        probe = redis.Redis.from_url(url, socket_connect_timeout=timeout_s,
                                     socket_timeout=timeout_s, retry=SyncRetry(NoBackoff(), 0))
    except ValueError as exc:
        raise ConfigError(f"COGNIRACE_REDIS_URL is not a Redis URL: {exc}", value=where,
                          hint=_HINT) from exc
    try:
        probe.ping()
    except (RedisError, OSError) as exc:
        raise ConfigError(f"cannot reach Redis at {where}: {exc}", hint=_HINT) from exc
    finally:
        probe.close()
    # one quick retry, not redis-py's default of three with seconds of backoff: a request
    # must fail over to "no cache, limiter open" well within the prediction timeout
    retry = Retry(ExponentialBackoff(cap=0.05, base=0.01), retries=1)
    return redis.asyncio.Redis.from_url(url, socket_connect_timeout=timeout_s,
                                        socket_timeout=timeout_s, health_check_interval=30,
                                        retry=retry)


__all__ = ["connect_redis", "redact_url"]
