"""The options that the batch commands share: ``--engine``, ``--ray-address``, and URLs.

``simulate``, ``ingest``, ``train`` and ``backtest`` say what their pieces of work are;
``cognirace.scale`` decides where they run. With ``--engine local`` (the default) each
command runs as it always has, in this process.

The season folder, the lake and the registry may each be a local folder or an fsspec
URL (``s3://bucket/lake``, ``gs://bucket/lake``); credentials come from the storage's
usual environment (see ``cognirace.scale.storage``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from rich.console import Console

    from cognirace.scale.storage import Location

ENGINE = typer.Option(
    "local", "--engine",
    help="Where the work runs: local (this process) or ray (one Ray task per race, "
    "branch or fit; needs the ray extra: pip install -e '.\\[ray]').")
RAY_ADDRESS = typer.Option(
    None, "--ray-address",
    help="Ray cluster to join (auto, ray://head:10001); default: start a local Ray with "
    "this machine's cores (or join RAY_ADDRESS). Folders must be on storage every node "
    "sees, or at a URL (s3://, gs://).")


def absolute_url(url: str) -> str:
    """A registry folder as an absolute path (a bucket URL as it is): tasks on other
    processes or nodes do not share this process's working folder."""
    return url if "://" in url else str(Path(url).resolve())


def is_url(url: str | Path) -> bool:
    """Whether ``url`` is a URL (``s3://``...) rather than a local folder."""
    from cognirace.scale import storage

    return storage.is_url(url)


def where(url: str | Path, what: str, engine: str = "local") -> Location:
    """The folder or URL as a ``Location``, checked before any work starts.

    Raises:
        ConfigError: the URL's backend is not installed, or a ``memory://`` URL is
            given to an engine whose pieces run in other processes.
    """
    from cognirace.errors import ConfigError
    from cognirace.scale.storage import location, scheme_of

    if engine != "local" and scheme_of(url) == "memory":
        raise ConfigError(f"a memory:// {what} lives in one process, and --engine {engine} "
                          "runs pieces in others", value=str(url),
                          hint="use a bucket (s3://, gs://) or a folder, or --engine local")
    return location(url, what=what)


def local_lake(url: str | Path, console: Console | None = None) -> Path:
    """A lake folder to read: the folder itself, or this node's cached copy of a lake at
    a URL (downloaded once, then only the files that changed), which ``console`` hears of.
    """
    if not is_url(url):
        return Path(url)
    from cognirace.lake.remote import cached_lake
    from cognirace.scale.remote import node_cache

    copy = cached_lake(where(url, "lake"), node_cache())
    if console is not None:
        console.print(f"lake {url}: read through its copy in {copy}", highlight=False)
    return copy
