"""The ``--engine`` and ``--ray-address`` options that the batch commands share.

``simulate``, ``ingest``, ``train`` and ``backtest`` say what their pieces of work are;
``cognirace.scale`` decides where they run. With ``--engine local`` (the default) each
command runs as it always has, in this process.
"""

from __future__ import annotations

import typer

ENGINE = typer.Option(
    "local", "--engine",
    help="Where the work runs: local (this process) or ray (one Ray task per race or "
    "model; needs the ray extra: pip install -e '.[ray]').")
RAY_ADDRESS = typer.Option(
    None, "--ray-address",
    help="Ray cluster to join (auto, ray://head:10001); default: start a local Ray with "
    "this machine's cores (or join RAY_ADDRESS). Paths must be on storage every node sees.")


def absolute_url(url: str) -> str:
    """A registry folder as an absolute path (a bucket URL as it is): tasks on other
    processes or nodes do not share this process's working folder."""
    from pathlib import Path

    return url if "://" in url else str(Path(url).resolve())
