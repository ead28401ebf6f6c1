"""Training data fingerprints: a stable name for "the data this model learned from".

A fingerprint lets a model card and a registry manifest say which data a version saw,
and lets training skip work when the data did not change. It must not depend on row
order (the lake's partitions are read in any order) nor on the Polars version, so it
hashes values, never Polars' internal row hashes or file encodings.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from pathlib import Path

import polars as pl

from cognirace.errors import DataError

_CHUNK_BYTES = 1 << 20


def data_fingerprint(source: pl.DataFrame | Path | Iterable[Path]) -> str:
    """A ``sha256:<hex>`` fingerprint of a frame, a file, a folder or a set of files.

    Frames: schema and content, independent of row and column order. Files: names
    (relative to their folder) and bytes; a folder counts every file under it.
    """
    if isinstance(source, pl.DataFrame):
        return frame_fingerprint(source)
    if isinstance(source, Path):
        return files_fingerprint([source])
    return files_fingerprint(list(source))


def frame_fingerprint(frame: pl.DataFrame) -> str:
    """Hash a frame's schema and values, independent of row and column order.

    Rows are sorted by every sortable column first, so equal frames in any order hash
    alike. Numbers and times hash their little-endian values plus a null mask; text
    hashes its UTF-8 bytes, so the result is stable across Polars versions.
    """
    frame = frame.select(sorted(frame.columns))
    sortable = [name for name, dtype in frame.schema.items() if not dtype.is_nested()]
    if sortable and frame.height > 1:
        frame = frame.sort(sortable, nulls_last=True, maintain_order=True)
    digest = hashlib.sha256()
    digest.update(json.dumps([[n, str(t)] for n, t in frame.schema.items()]).encode())
    digest.update(frame.height.to_bytes(8, "little"))
    for series in frame.iter_columns():
        _hash_series(digest.update, series)
    return f"sha256:{digest.hexdigest()}"


def _hash_series(update: Callable[[bytes], None], series: pl.Series) -> None:
    """Feed one column's values to ``update`` in a version-stable encoding."""
    update(series.is_null().to_numpy().tobytes())
    dtype = series.dtype
    if dtype == pl.String or dtype == pl.Categorical or isinstance(dtype, pl.Enum):
        text = series.cast(pl.String).fill_null("")
        update(text.str.len_bytes().to_numpy().astype("<u4").tobytes())
        update("".join(text.to_list()).encode())
    elif dtype.is_numeric() or dtype.is_temporal() or dtype == pl.Boolean:
        physical = series.to_physical().fill_null(0)
        values = physical.to_numpy()
        update(values.astype(values.dtype.newbyteorder("<"), copy=False).tobytes())
    else:  # nested and other rare types: their JSON text is stable enough
        update(json.dumps(series.to_list(), default=str).encode())


def files_fingerprint(paths: list[Path]) -> str:
    """Hash file names and contents; a folder stands for every file beneath it.

    Names are taken relative to the folder given (or the bare name for a file), so the
    same lake copied elsewhere keeps its fingerprint.
    """
    entries: list[tuple[str, Path]] = []
    for path in paths:
        if path.is_dir():
            entries += [(f.relative_to(path).as_posix(), f) for f in path.rglob("*") if f.is_file()]
        elif path.is_file():
            entries.append((path.name, path))
        else:
            raise DataError("cannot fingerprint a path that does not exist", path=path)
    digest = hashlib.sha256()
    for name, path in sorted(entries):
        digest.update(name.encode() + b"\0" + file_sha256(path).encode() + b"\n")
    return f"sha256:{digest.hexdigest()}"


def file_sha256(path: Path) -> str:
    """The hex sha256 of a file's bytes, read in chunks so large files stay cheap."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()
