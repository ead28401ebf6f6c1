"""The lake at a URL: races committed from a batch on the store, and a local copy to read.

Writing (``cognirace ingest ... --lake s3://bucket/lake``) follows ``lake.batch``: each
piece of work stages its race on its own node exactly as ``stage_race`` does, then
uploads the staged folder to ``LAKE/.batch-<id>/<race_id>/`` (``stage_race_at``; a
piece run again replaces its upload). When every race is staged, ``commit_batch`` runs
once in the driver: it downloads the small tables (the lake's and the staged races'),
merges them with ``writer.merged_table`` (the rows a local ingest writes, in its order),
copies each race's telemetry and report into place inside the store (no download),
removes the telemetry files a replaced race no longer has, and uploads the tables, the
races table last. Readers list a race only once it is in ``races.parquet``, so they
never take a half-written race; a run that fails before the commit leaves the lake as
it was (the batch is removed). An object store replaces files one at a time, so a race
ingested again has, during its commit, a telemetry partition mixing old and new cars:
re-ingest a race when nothing reads it.

Reading (``cached_lake``): the readers (training, evaluation) work on a local folder, so
a lake at a URL is copied once into a cache on this node and kept in step with it: each
file is downloaded again only when its size or ETag (the modification time on a disk)
changed, which a manifest in the cache records. A simulated race keeps its truth beside
its race files (``source_dir/truth/``), which training reads; the cache copies those
folders too and its races table points each such race's ``source_dir`` at the copy.
The cache is read-only: nothing writes back to the store.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import re
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import polars as pl

from cognirace.errors import DataError
from cognirace.lake.batch import stage_race
from cognirace.lake.layout import TABLE_FILES, LakeLayout
from cognirace.lake.writer import RaceTables, merged_table
from cognirace.scale.remote import download, fresh, list_files, node_scratch, remove, upload
from cognirace.scale.storage import Location, is_url

BATCH_PREFIX = ".batch-"
"""Start of a batch folder's name in the lake (hidden: never read as data)."""
SOURCE_FOLDERS = ("truth",)
"""Folders beside a race's files that later layers read through ``source_dir``."""
MANIFEST = ".manifest.json"
REMOTE_RACES = ".remote-races.parquet"
"""The store's races table as downloaded; ``races.parquet`` is derived from it."""
_PLAIN = re.compile(r"^[A-Za-z0-9_=-][A-Za-z0-9_.=-]*$")
_NAMES = LakeLayout(Path())
"""The lake's layout with relative paths, for names inside the store."""


def new_batch(lake: Location) -> Location:
    """A fresh, hidden batch folder in the lake."""
    return lake.child(f"{BATCH_PREFIX}{uuid.uuid4().hex[:12]}")


def stage_race_at(batch: Location, race: RaceTables, scratch: Path) -> None:
    """Stage one race on this node (``stage_race``), then upload it to ``batch/<race_id>``.

    Args:
        batch: From ``new_batch``.
        race: The race's tables.
        scratch: A folder on this node's disk.
    """
    folder = scratch / "batch"
    folder.mkdir(exist_ok=True)
    staged = stage_race(folder, race)
    target = batch.child(race.race_id)
    remove(target)  # what an earlier attempt of this piece uploaded
    upload(staged, target)


def fetch_tables(lake: Location, folder: Path) -> LakeLayout:
    """The lake's table files that exist, downloaded into ``folder`` as a lake of tables."""
    present = set(list_files(lake))
    download(lake, [f"{name}.parquet" for name in TABLE_FILES
                    if f"{name}.parquet" in present], folder)
    return LakeLayout(folder)


def commit_batch(lake: Location, batch: Location, race_ids: Sequence[str]) -> None:
    """Merge the staged races into the lake at a URL (see the module docstring).

    Args:
        lake: The lake.
        batch: The batch the races were staged in.
        race_ids: The staged races, in the order their rows go in.
    """
    if not race_ids:
        return
    with node_scratch() as work:
        layout = fetch_tables(lake, work / "lake")
        rels = [f"{race_id}/{name}.parquet" for race_id in race_ids for name in TABLE_FILES]
        download(batch, rels, work / "staged")
        merged = work / "merged"
        merged.mkdir()
        for name in TABLE_FILES:
            rows = [pl.read_parquet(work / "staged" / race_id / f"{name}.parquet")
                    for race_id in race_ids]
            merged_table(layout, name, race_ids, rows).write_parquet(merged / f"{name}.parquet")
        for race_id in race_ids:
            _move_race(lake, batch.child(race_id), race_id)
        for name in (*(n for n in TABLE_FILES if n != "races"), "races"):
            lake.fs.put_file(str(merged / f"{name}.parquet"), lake.path(f"{name}.parquet"))


def _move_race(lake: Location, staged: Location, race_id: str) -> None:
    """Copy a staged race's telemetry and report into place; drop cars it no longer has."""
    fs = lake.fs
    partition = _NAMES.telemetry_dir(race_id).as_posix()
    new = set(list_files(staged.child("telemetry")))
    for name in sorted(new):
        fs.copy(staged.path("telemetry", name), lake.path(partition, name))
    for name in sorted(set(list_files(lake.child(partition))) - new):
        fs.rm_file(lake.path(partition, name))
    fs.copy(staged.path("report.json"), lake.path(_NAMES.report(race_id).as_posix()))


def races_table(lake: Location) -> pl.DataFrame | None:
    """The lake's races table (None when the lake has none yet)."""
    path = lake.path("races.parquet")
    if not fresh(lake.child("races.parquet")).exists(path):
        return None
    with lake.fs.open(path, "rb") as handle:
        return pl.read_parquet(handle)


def cached_lake(lake: Location, cache: Path) -> Path:
    """A local copy of the lake at ``lake``, brought up to date (see the module docstring).

    Args:
        lake: The lake at a URL.
        cache: This node's cache folder; the lake goes under ``cache/lakes`` (in
            ``s3/bucket/lake`` for ``s3://bucket/lake``).

    Returns:
        The copy's folder, for ``open_lake``.

    Raises:
        DataError: when the URL holds no lake.
    """
    listing = list_files(lake)
    if "races.parquet" not in listing:
        raise DataError("no lake at this URL", path=lake.url,
                        hint="run `cognirace ingest SRC --lake URL` first")
    root = cache / "lakes" / copy_name(lake)
    root.mkdir(parents=True, exist_ok=True)
    with _locked(root.parent / f".{root.name}.lock"):
        old = _read_manifest(root)
        manifest: dict[str, Any] = {"url": lake.url, "sources": {}}
        manifest["lake"] = _sync(lake, root, listing, old.get("lake", {}), _local_name)
        races = pl.read_parquet(root / REMOTE_RACES)
        moved = {}
        for source_dir in sorted(set(races["source_dir"].drop_nulls().to_list())):
            if is_url(source_dir):
                source = Location(source_dir, lake.options, "season")
                folder = root / ".sources" / _digest(source_dir)
                kept = {f"{name}/{rel}": info for name in SOURCE_FOLDERS
                        for rel, info in list_files(source.child(name)).items()}
                manifest["sources"][source_dir] = _sync(
                    source, folder, kept, old.get("sources", {}).get(source_dir, {}))
                if kept:
                    moved[source_dir] = str(folder)
        races.with_columns(pl.col("source_dir").replace(moved)).write_parquet(
            root / ".races.parquet.new")
        (root / ".races.parquet.new").replace(root / "races.parquet")
        (root / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True),
                                     encoding="utf-8")
    return root


def copy_name(lake: Location) -> str:
    """The copy's folder under ``cache/lakes``: the URL's scheme and path, so that model
    cards naming the folder they read tell the lake (``s3/bucket/lake``); a part that is
    not a plain name becomes a digest."""
    scheme = lake.url.split("://", 1)[0].lower()
    parts = [part if _PLAIN.match(part) else _digest(part)
             for part in lake.root.strip("/").split("/") if part]
    return "/".join([scheme, *parts])


def _local_name(rel: str) -> str:
    """Where a file of the store's lake goes in the copy (see ``REMOTE_RACES``)."""
    return REMOTE_RACES if rel == "races.parquet" else rel


def _sync(where: Location, root: Path, listing: dict[str, dict[str, Any]],
          old: dict[str, str], local_name: Callable[[str], str] = str) -> dict[str, str]:
    """Download the listed files whose signature changed since ``old`` (the manifest of
    the last sync) into ``root``; remove those gone since. Returns the new manifest."""
    new = {rel: _signature(info) for rel, info in listing.items()}
    stale = [rel for rel, signature in new.items()
             if old.get(rel) != signature or not (root / local_name(rel)).is_file()]
    root.mkdir(parents=True, exist_ok=True)
    incoming = Path(tempfile.mkdtemp(prefix=".incoming-", dir=root))  # same disk: renames
    try:
        download(where, stale, incoming)
        for rel in stale:
            (root / local_name(rel)).parent.mkdir(parents=True, exist_ok=True)
            (incoming / rel).replace(root / local_name(rel))
    finally:
        shutil.rmtree(incoming, ignore_errors=True)
    for rel in set(old) - set(new):
        (root / local_name(rel)).unlink(missing_ok=True)
    return new


def _signature(info: dict[str, Any]) -> str:
    """What tells a file's version: its size and ETag (or what the store has instead)."""
    for name in ("ETag", "etag", "md5Hash", "generation", "mtime", "LastModified", "created"):
        if info.get(name) is not None:
            return f"{info.get('size')}:{info[name]}"
    return str(info.get("size"))


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _read_manifest(root: Path) -> dict[str, Any]:
    path = root / MANIFEST
    if not path.is_file():
        return {}
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path``: pieces on one node sync the cache one at a time."""
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


__all__ = ["BATCH_PREFIX", "SOURCE_FOLDERS", "cached_lake", "commit_batch", "fetch_tables",
           "new_batch", "races_table", "stage_race_at"]
