"""``cognirace keys``: the key is printed once, listed never, and revoked by id."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from cognirace.api.auth import KeyStore, read_keys_file
from cognirace.cli import commands
from cognirace.cli.keys_cmd import app
from cognirace.errors import ConfigError

runner = CliRunner()


def create(keys_file: Path, *args: str) -> tuple[str, str]:
    """Run ``keys create`` and return the printed key and id."""
    result = runner.invoke(app, ["create", "--keys-file", str(keys_file), *args])
    assert result.exit_code == 0, result.output
    key = re.search(r"^key:\s+(cr_\S+)$", result.stdout, re.MULTILINE)
    key_id = re.search(r"^id:\s+(\S+)$", result.stdout, re.MULTILINE)
    assert key and key_id, result.stdout
    assert "cannot be shown again" in result.stderr
    return key.group(1), key_id.group(1)


def test_create_prints_a_key_that_the_service_accepts(tmp_path: Path) -> None:
    keys_file = tmp_path / "keys.json"
    key, key_id = create(keys_file, "--name", "pit wall", "--scope", "admin")
    principal = KeyStore.load(keys_file, None).authenticate(key)
    assert principal is not None
    assert principal.key_id == key_id and principal.name == "pit wall"
    assert principal.scopes == {"predict", "stream", "admin"}


def test_the_default_scope_is_predict(tmp_path: Path) -> None:
    keys_file = tmp_path / "keys.json"
    key, _ = create(keys_file, "--name", "dash")
    principal = KeyStore.load(keys_file, None).authenticate(key)
    assert principal is not None and principal.scopes == {"predict"}


def test_the_keys_file_comes_from_the_environment(tmp_path: Path) -> None:
    keys_file = tmp_path / "from-env.json"
    result = runner.invoke(app, ["create", "--name", "ci"],
                           env={"COGNIRACE_KEYS_FILE": str(keys_file)})
    assert result.exit_code == 0, result.output
    assert [r.name for r in read_keys_file(keys_file)] == ["ci"]


def test_list_shows_ids_names_and_scopes_but_never_a_key_or_full_hash(tmp_path: Path) -> None:
    keys_file = tmp_path / "keys.json"
    key, key_id = create(keys_file, "--name", "pit wall")
    full_hash = read_keys_file(keys_file)[0].hash
    result = runner.invoke(app, ["list", "--keys-file", str(keys_file)],
                           env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert key_id in result.stdout and "pit wall" in result.stdout
    assert "predict" in result.stdout
    assert key not in result.stdout and full_hash not in result.stdout


def test_list_of_an_empty_file_says_how_to_make_a_key(tmp_path: Path) -> None:
    result = runner.invoke(app, ["list", "--keys-file", str(tmp_path / "none.json")])
    assert result.exit_code == 0
    assert "cognirace keys create" in result.stdout


def test_revoke_removes_the_key_and_an_unknown_id_is_an_error(tmp_path: Path) -> None:
    keys_file = tmp_path / "keys.json"
    key, key_id = create(keys_file, "--name", "old")
    result = runner.invoke(app, ["revoke", key_id, "--keys-file", str(keys_file)])
    assert result.exit_code == 0 and f"revoked {key_id}" in result.stdout
    assert KeyStore.load(keys_file, None).authenticate(key) is None
    again = runner.invoke(app, ["revoke", key_id, "--keys-file", str(keys_file)])
    assert isinstance(again.exception, ConfigError)  # main() prints it in one line, exit 2
    assert "cognirace keys list" in str(again.exception)


def test_an_unknown_scope_is_an_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["create", "--name", "x", "--scope", "root",
                                 "--keys-file", str(tmp_path / "keys.json")])
    assert isinstance(result.exception, ConfigError)
    assert not (tmp_path / "keys.json").exists()


@pytest.mark.parametrize("command", ["create", "list", "revoke"])
def test_keys_is_a_registered_command_group(command: str) -> None:
    root = typer.Typer()
    commands.register(root)
    result = runner.invoke(root, ["keys", command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.stdout
