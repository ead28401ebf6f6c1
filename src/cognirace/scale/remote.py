"""Moving whole files between a node's own disk and a folder at a URL.

The heavy code (the simulator, the ingest, training) works on local paths. When the
season or the lake is at a URL (``s3://bucket/season``), each piece of work runs in a
scratch folder on its own node (``node_scratch``) and moves whole files with fsspec:
it downloads what it reads (``download``) and publishes what it wrote. Only paths go
through the driver; the bytes go between the node and the store.

Publishing a set of files so that no reader takes part of it (``publish_files``):

1. every file is uploaded under a hidden staging prefix, ``.staging/<name>-<random>/``
   (the slow part: a piece that dies here leaves only hidden objects);
2. a pending marker, ``.writing-<name>.json``, is written in the files' folder, listing
   them;
3. each staged file is copied into place (a copy inside the store, no download);
4. the marker is removed, then the staged files.

An object store cannot rename a set of keys at once, so step 3 is not atomic; the
marker makes it safe: the ingest of a URL leaves out every file a pending marker lists
(``pending_files``), so a piece that dies during step 3 leaves a race the ingest does
not take, and its retry (which writes the same bytes) completes it. A piece that dies
for good leaves its marker, and the ingest says which race to write again.
Names starting with ``.`` are never read as data, here as in a local season or lake.
"""

from __future__ import annotations

import contextlib
import json
import os
import posixpath
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from fsspec import AbstractFileSystem

from cognirace.scale.storage import Location, relative

STAGING = ".staging"
"""Hidden folder under the target where files are uploaded before they move in."""
PENDING_PREFIX = ".writing-"
"""Start of a pending marker's name: ``.writing-<name>.json``."""

OnFile = Callable[[str], None]
"""Told of each path a publish has written in the store (progress, or a test's fault)."""


@contextlib.contextmanager
def node_scratch() -> Iterator[Path]:
    """A temporary folder on this node's disk, removed when the block ends."""
    folder = Path(tempfile.mkdtemp(prefix="cognirace-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def node_cache() -> Path:
    """This node's cache folder: ``$XDG_CACHE_HOME/cognirace``, else ``~/.cache/cognirace``.

    Where copies of lakes at a URL are kept between runs (``lake.remote.cached_lake``);
    each node of a cluster has its own.
    """
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "cognirace"


def is_hidden(rel: str) -> bool:
    """Whether a relative path has a part starting with ``.`` (work in progress)."""
    return any(part.startswith(".") for part in rel.split("/"))


def fresh(where: Location) -> AbstractFileSystem:
    """``where``'s file system with its listings of ``where`` and above forgotten.

    fsspec's object-store file systems keep the listings they read; pieces on other
    processes write meanwhile, so a listing read before them would hide their files.
    """
    where.fs.invalidate_cache(where.root)
    return where.fs


def list_files(where: Location, *, hidden: bool = False) -> dict[str, dict[str, Any]]:
    """Every file under ``where`` by its path relative to it, with fsspec's details.

    Args:
        where: The folder.
        hidden: Keep paths with a part starting with ``.`` (left out by default).
    """
    root = where.root
    if not fresh(where).exists(root):
        return {}
    found = where.fs.find(root, detail=True, withdirs=False)
    files = {relative(path, root): info for path, info in found.items() if path != root}
    return {rel: info for rel, info in sorted(files.items()) if hidden or not is_hidden(rel)}


def download(where: Location, rels: Sequence[str], folder: Path) -> list[Path]:
    """Copy files of ``where`` (relative paths) to the same paths under ``folder``."""
    locals_ = [folder / rel for rel in rels]
    for path in locals_:
        path.parent.mkdir(parents=True, exist_ok=True)
    if rels:
        where.fs.get([where.path(rel) for rel in rels], [str(p) for p in locals_])
    return locals_


def upload(folder: Path, where: Location) -> list[str]:
    """Copy every file under ``folder`` to the same relative paths under ``where``."""
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    rels = [p.relative_to(folder).as_posix() for p in files]
    if files:
        where.fs.put([str(p) for p in files], [where.path(rel) for rel in rels])
    return rels


def remove(where: Location) -> None:
    """Remove the folder and everything under it; nothing if it is not there."""
    with contextlib.suppress(FileNotFoundError):
        if fresh(where).exists(where.root):
            where.fs.rm(where.root, recursive=True)


def publish_files(folder: Path, files: Sequence[Path], target: Location, *, name: str,
                  on_file: OnFile | None = None) -> list[str]:
    """Publish local files under ``target`` at their paths relative to ``folder``.

    Follows the module docstring's steps, so no reader takes part of the set.

    Args:
        folder: The local folder the files' relative paths start from.
        files: The files, all under ``folder``.
        target: Where they go.
        name: What the set is (a race id), for the staging folder and the marker.
        on_file: Told of each path written in the store, staged or final.

    Returns:
        The files' paths relative to ``target``.
    """
    rels = [Path(f).relative_to(folder).as_posix() for f in files]
    fs = target.fs
    stage = target.path(STAGING, f"{name}-{uuid.uuid4().hex[:8]}")
    try:
        for path, rel in zip(files, rels, strict=True):
            fs.put_file(str(path), posixpath.join(stage, rel))
            _told(on_file, posixpath.join(stage, rel))
        base = posixpath.commonpath([posixpath.dirname(rel) for rel in rels]) if rels else ""
        marker = target.path(*filter(None, [base, f"{PENDING_PREFIX}{name}.json"]))
        listed = [posixpath.relpath(rel, base or ".") for rel in rels]
        fs.pipe_file(marker, json.dumps({"files": listed}, indent=1).encode())
        for rel in rels:
            fs.copy(posixpath.join(stage, rel), target.path(rel))
            _told(on_file, target.path(rel))
        fs.rm_file(marker)
    finally:
        with contextlib.suppress(OSError):  # nothing staged yet, or removed already
            fs.rm(stage, recursive=True)
    return rels


def pending_files(where: Location, listing: dict[str, dict[str, Any]]) -> dict[str, list[str]]:
    """The files pending markers list, by marker (all paths relative to ``where``).

    Args:
        where: The folder listed.
        listing: ``list_files(where, hidden=True)``.
    """
    pending: dict[str, list[str]] = {}
    for rel in listing:
        name = posixpath.basename(rel)
        if not (name.startswith(PENDING_PREFIX) and name.endswith(".json")):
            continue
        data = json.loads(where.fs.cat_file(where.path(rel)))
        base = posixpath.dirname(rel)
        pending[rel] = [posixpath.normpath(posixpath.join(base, f)) for f in data["files"]]
    return pending


def _told(on_file: OnFile | None, path: str) -> None:
    if on_file is not None:
        on_file(path)


__all__ = ["PENDING_PREFIX", "STAGING", "OnFile", "download", "fresh", "is_hidden", "list_files",
           "node_cache", "node_scratch", "pending_files", "publish_files", "remove", "upload"]
