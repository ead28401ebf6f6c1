"""Keys created or revoked while the service runs take effect within a second."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from cognirace.api.auth import create_key, revoke_key
from cognirace.api.keywatch import WatchedKeys


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_revoked_key_stops_working_after_the_next_check(tmp_path: Path) -> None:
    path, clock = tmp_path / "keys.json", Clock()
    key, principal = create_key(path, "pit wall", ["predict"])
    watched = WatchedKeys(path, None, clock=clock)
    assert watched.current().authenticate(key) == principal
    revoke_key(path, principal.key_id)
    assert watched.current().authenticate(key) == principal  # not looked at yet
    clock.now = 1.5
    assert watched.current().authenticate(key) is None
    assert not watched.open_access  # started with keys: never open, even with none left


def test_a_new_key_works_and_a_broken_file_keeps_the_previous_keys(tmp_path: Path) -> None:
    path, clock = tmp_path / "keys.json", Clock()
    first, _ = create_key(path, "pit wall", ["predict"])
    watched = WatchedKeys(path, None, clock=clock)
    second, _ = create_key(path, "dashboard", ["predict"])
    clock.now = 1.5
    assert watched.current().authenticate(second) is not None
    path.write_text("{not json", encoding="utf-8")
    clock.now = 3.0
    assert watched.current().authenticate(first) is not None
    assert len(watched) == 2


def test_a_service_started_open_enforces_keys_once_some_exist(tmp_path: Path) -> None:
    path, clock = tmp_path / "keys.json", Clock()
    watched = WatchedKeys(path, None, clock=clock)
    assert watched.open_access
    create_key(path, "pit wall", ["predict"])
    clock.now = 1.5
    assert not watched.open_access


def test_revoking_over_http_takes_effect_without_a_restart(make_client: Any, keys: Any,
                                                           trained: Any) -> None:
    client = make_client(keys_file=keys.file)
    instance = trained.instances("fuel")[0]
    headers = {"X-API-Key": keys.predict}
    assert client.post("/v1/predict/fuel", json=instance, headers=headers).status_code == 200
    assert revoke_key(keys.file, keys.predict_id)
    time.sleep(1.1)
    assert client.post("/v1/predict/fuel", json=instance, headers=headers).status_code == 401
    admin = {"X-API-Key": keys.admin}
    assert client.post("/v1/predict/fuel", json=instance, headers=admin).status_code == 200
