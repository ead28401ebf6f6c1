"""``cognirace keys``: create, list and revoke the prediction service's API keys.

The keys file keeps only hashes; a new key is printed once, at creation, and cannot be
shown again. The service reads the same file (``COGNIRACE_KEYS_FILE``) at start.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from cognirace.api.auth import SCOPES, create_key, read_keys_file, revoke_key
from cognirace.errors import ConfigError

DEFAULT_KEYS_FILE = Path("data/api-keys.json")

app = typer.Typer(
    name="keys",
    help="Create, list and revoke API keys of the prediction service (stored hashed).",
    no_args_is_help=True,
)


def _keys_file_option() -> Any:  # typer.Option is typed Any: it stands in for the default
    return typer.Option(
        None, "--keys-file", envvar="COGNIRACE_KEYS_FILE", dir_okay=False,
        help=f"Keys file (default: COGNIRACE_KEYS_FILE or ./{DEFAULT_KEYS_FILE}).")


def _path(keys_file: Path | None) -> Path:
    return keys_file if keys_file is not None else DEFAULT_KEYS_FILE


@app.command("create")
def create(
    name: str = typer.Option(..., "--name", help="Who or what uses the key, e.g. 'pit wall'."),
    scope: list[str] | None = typer.Option(
        None, "--scope", help=f"A scope ({' or '.join(SCOPES)}); repeat for more "
        "(default: predict). admin includes predict."),
    keys_file: Path | None = _keys_file_option(),
) -> None:
    """Make a key and print it once; only its hash is stored."""
    path = _path(keys_file)
    key, principal = create_key(path, name, scope or ["predict"])
    typer.echo(f"id:     {principal.key_id}")
    typer.echo(f"scopes: {', '.join(s for s in SCOPES if s in principal.scopes)}")
    typer.echo(f"key:    {key}")
    typer.echo(f"Store the key now: it is not kept and cannot be shown again. "
               f"Its hash is in {path}; send it in the X-API-Key header.", err=True)


@app.command("list")
def list_keys(keys_file: Path | None = _keys_file_option()) -> None:
    """Show the stored keys: id, name, scopes, creation time (hashes shortened)."""
    path = _path(keys_file)
    records = read_keys_file(path)
    console = Console()
    if not records:
        console.print(f"no keys in {path}; make one with `cognirace keys create --name NAME`")
        return
    table = Table(title=f"API keys in {path}")
    for column in ("id", "name", "scopes", "created", "hash"):
        table.add_column(column, no_wrap=column != "name")
    for r in records:
        table.add_row(r.id, r.name, ", ".join(r.scopes), r.created, r.hash[:15] + "…")
    console.print(table)


@app.command("revoke")
def revoke(
    key_id: str = typer.Argument(..., metavar="ID", help="Id of the key (see `keys list`)."),
    keys_file: Path | None = _keys_file_option(),
) -> None:
    """Delete a key from the keys file; a running service stops accepting it within a second."""
    path = _path(keys_file)
    if not revoke_key(path, key_id):
        raise ConfigError(f"no key with id {key_id!r}", path=path,
                          hint="see the ids with `cognirace keys list`")
    typer.echo(f"revoked {key_id}")
