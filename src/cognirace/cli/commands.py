"""Registry of sub-commands: one line per command module."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add every sub-command to ``app``."""
    from cognirace.cli import ingest_cmd

    app.command("ingest")(ingest_cmd.ingest)
