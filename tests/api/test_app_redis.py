"""With ``COGNIRACE_REDIS_URL`` set, replicas share one rate limit and one response cache."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from cognirace.api.app import create_app
from cognirace.api.settings import ServeSettings
from cognirace.errors import ConfigError
from redis_server import fixture_redis_url  # noqa: F401

pytestmark = pytest.mark.redis


def test_replicas_share_the_cache(make_client: Any, redis_url: str, trained: Any) -> None:
    first, second = make_client(redis_url=redis_url), make_client(redis_url=redis_url)
    instance = dict(trained.instances("fuel")[0], nonce=uuid.uuid4().hex)  # a fresh body
    assert first.post("/v1/predict/fuel", json=instance).headers["x-cache"] == "miss"
    hit = second.post("/v1/predict/fuel", json=instance)
    assert hit.headers["x-cache"] == "hit" and hit.json()["model"] == "fuel"


def test_replicas_share_the_rate_limit(make_client: Any, redis_url: str, keys: Any,
                                       trained: Any, problem: Any) -> None:
    settings = {"redis_url": redis_url, "keys_file": keys.file, "rate_limit_per_s": 0.01,
                "rate_limit_burst": 2}
    first, second = make_client(**settings), make_client(**settings)
    instance = trained.instances("pitloss")[0]
    auth = {"X-API-Key": keys.predict}
    assert first.post("/v1/predict/pitloss", json=instance, headers=auth).status_code == 200
    assert second.post("/v1/predict/pitloss", json=instance, headers=auth).status_code == 200
    refused = first.post("/v1/predict/pitloss", json=instance, headers=auth)
    problem(refused, 429)
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.headers["ratelimit-remaining"] == "0"


def test_unreachable_redis_stops_the_start(trained: Any, tmp_path: Any) -> None:
    settings = ServeSettings(registry_url=str(trained.registry), keys_file=tmp_path / "k.json",
                             redis_url="redis://127.0.0.1:1/0")
    with pytest.raises(ConfigError, match="Redis"):
        create_app(settings)
