"""API keys: made once, stored hashed, checked in constant time, revoked, read from the env."""

from __future__ import annotations

import json
import re
import stat
from pathlib import Path

import pytest

from cognirace.api.auth import (
    KeyStore,
    Principal,
    create_key,
    generate_key,
    hash_key,
    parse_env_keys,
    read_keys_file,
    revoke_key,
)
from cognirace.errors import ConfigError


@pytest.fixture
def keys_file(tmp_path: Path) -> Path:
    return tmp_path / "secrets" / "api-keys.json"


def test_keys_are_random_url_safe_and_prefixed() -> None:
    keys = {generate_key() for _ in range(100)}
    assert len(keys) == 100
    assert all(re.fullmatch(r"cr_[A-Za-z0-9_-]{43}", key) for key in keys)


def test_the_stored_form_is_a_sha256() -> None:
    digest = hash_key("cr_example")
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", digest)
    assert digest == hash_key("cr_example") != hash_key("cr_examplf")


def test_a_created_key_authenticates_and_only_its_hash_is_stored(keys_file: Path) -> None:
    key, principal = create_key(keys_file, "pit wall", ["predict"])
    store = KeyStore.load(keys_file, None)
    assert len(store) == 1
    assert store.authenticate(key) == principal
    assert principal == Principal(key_id=principal.key_id, scopes=frozenset({"predict"}),
                                  name="pit wall")
    text = keys_file.read_text()
    assert key not in text and hash_key(key) in text


def test_unknown_and_missing_keys_are_refused(keys_file: Path) -> None:
    key, _ = create_key(keys_file, "dash", ["predict"])
    store = KeyStore.load(keys_file, None)
    assert store.authenticate(key + "x") is None
    assert store.authenticate(generate_key()) is None
    assert store.authenticate("") is None
    assert store.authenticate(None) is None


def test_admin_implies_predict(keys_file: Path) -> None:
    _, principal = create_key(keys_file, "ops", ["admin"])
    assert principal.scopes == {"admin", "predict", "stream"}
    assert principal.allows("predict") and principal.allows("admin")
    _, reader = create_key(keys_file, "dash", ["predict"])
    assert reader.allows("predict") and not reader.allows("admin")


def test_the_keys_file_is_private_and_written_whole(keys_file: Path) -> None:
    for n in range(3):
        create_key(keys_file, f"team tool {n}", ["predict"])
    assert stat.S_IMODE(keys_file.stat().st_mode) == 0o600
    assert [p.name for p in keys_file.parent.iterdir()] == [keys_file.name]  # no temp files
    assert len(json.loads(keys_file.read_text())["keys"]) == 3


def test_a_revoked_key_no_longer_authenticates(keys_file: Path) -> None:
    kept, _ = create_key(keys_file, "keep", ["predict"])
    gone, principal = create_key(keys_file, "gone", ["predict"])
    assert revoke_key(keys_file, principal.key_id)
    assert not revoke_key(keys_file, principal.key_id)
    store = KeyStore.load(keys_file, None)
    assert store.authenticate(gone) is None
    assert store.authenticate(kept) is not None
    assert [r.name for r in read_keys_file(keys_file)] == ["keep"]


def test_bad_names_and_scopes_are_refused_before_anything_is_written(keys_file: Path) -> None:
    with pytest.raises(ConfigError, match="unknown scope 'root'") as info:
        create_key(keys_file, "x", ["predict", "root"])
    assert info.value.hint and "predict" in info.value.hint
    with pytest.raises(ConfigError, match="needs a name"):
        create_key(keys_file, "  ", ["predict"])
    assert not keys_file.exists()


def test_a_missing_keys_file_holds_no_keys(tmp_path: Path) -> None:
    assert len(KeyStore.load(tmp_path / "absent.json", None)) == 0
    assert len(KeyStore.load(None, None)) == 0


@pytest.mark.parametrize("text", ["not json", '{"keys": {}}', '{"keys": [{"id": "a"}]}',
                                  '[1, 2]', '{"keys": [{"id": "a", "name": "n", '
                                  '"hash": "md5:00", "scopes": ["predict"], "created": ""}]}'])
def test_a_malformed_keys_file_is_a_config_error_naming_it(keys_file: Path, text: str) -> None:
    keys_file.parent.mkdir(parents=True)
    keys_file.write_text(text)
    with pytest.raises(ConfigError) as info:
        KeyStore.load(keys_file, None)
    assert info.value.path == str(keys_file)
    assert info.value.hint


def test_env_keys_hold_hashes_and_scopes() -> None:
    reader, admin = generate_key(), generate_key()
    env = f" {hash_key(reader)}:predict , {hash_key(admin)}:predict+admin,"
    store = KeyStore.load(None, env)
    assert len(store) == 2
    found = store.authenticate(reader)
    assert found is not None and found.scopes == {"predict"}
    assert found.key_id == parse_env_keys(env)[0].id  # stable: the same every start
    boss = store.authenticate(admin)
    assert boss is not None and boss.allows("admin")


def test_file_and_env_keys_are_merged(keys_file: Path) -> None:
    from_file, _ = create_key(keys_file, "file", ["predict"])
    from_env = generate_key()
    store = KeyStore.load(keys_file, f"{hash_key(from_env)}:admin")
    assert store.authenticate(from_file) is not None
    assert store.authenticate(from_env) is not None


@pytest.mark.parametrize(("entry", "message"), [
    ("sha256:abc:predict", "not `sha256:<64 hex digits>"),
    ("{hash}:predct", "unknown scope 'predct'"),
    ("{hash}:", "at least one scope"),
    ("cr_plaintextkey:predict", "is a key, not its hash"),
])
def test_a_bad_env_entry_is_named(entry: str, message: str) -> None:
    good = f"{hash_key(generate_key())}:predict"
    env = f"{good},{entry.format(hash=hash_key('x'))}"
    with pytest.raises(ConfigError, match="COGNIRACE_API_KEYS entry 2") as info:
        KeyStore.load(None, env)
    assert message in str(info.value)
    assert info.value.hint
