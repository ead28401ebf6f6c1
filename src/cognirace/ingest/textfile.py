"""Reading the small text families (lap and timing files) into typed Polars frames.

The real files mix encodings and separators: UTF-8 with or without BOM, LF or CRLF
(sometimes both in one file), ``,`` or ``;`` between fields, a trailing ``;`` on every
row of the Al Kamel files, and header names with stray spaces. These files are small
(one row per lap per car at most), so they are read whole as strings, keeping each
row's line number; typed columns are then parsed with errors that name file, line and
column. The telemetry, the one large family, is read by ``telemetry.py`` instead.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import polars as pl

from cognirace.domain.laptime import parse_duration_s
from cognirace.errors import SchemaError

LINE = "_line"
"""Column holding each row's 1-based line number in its file."""

MISSING = ("", "-")
"""Field values that mean missing in every family."""


def decode(raw: bytes) -> str:
    """UTF-8 text without a BOM; invalid bytes become U+FFFD rather than failing the race."""
    return raw.decode("utf-8-sig", errors="replace")


def read_header(path: Path, size: int = 4096) -> list[str]:
    """The header fields of a text file, stripped, with its separator guessed.

    Returns an empty list when the file is empty or binary.
    """
    with path.open("rb") as handle:
        head = decode(handle.read(size))
    if "\x00" in head:
        return []
    first = head.splitlines()[0] if head.strip() else ""
    return split_fields(first, separator_of(first))


def separator_of(header_line: str) -> str:
    """``;`` for the Al Kamel files, ``,`` otherwise."""
    return ";" if header_line.count(";") > header_line.count(",") else ","


def split_fields(line: str, sep: str) -> list[str]:
    """Fields of one line, stripped, without the empty field a trailing separator adds."""
    fields = [f.strip().strip('"').strip() for f in line.split(sep)]
    if len(fields) > 1 and fields[-1] == "":
        fields.pop()
    return fields


def read_table(path: Path, aliases: dict[str, str] | None = None) -> pl.DataFrame:
    """Read a small delimited file as all-string columns plus ``_line``.

    Blank lines are skipped. A row with more fields than the header is an error (the
    file is not what its header claims); a short row is padded with missing values, as
    the real files end some rows early.

    Args:
        path: The file.
        aliases: Header names to rename (a variant's name to the usual one).

    Raises:
        SchemaError: on a ragged row or a file without a header.
    """
    lines = decode(path.read_bytes()).splitlines()
    if not lines or not lines[0].strip():
        raise SchemaError("file is empty", path=path, line=1, hint="remove it or re-export it")
    sep = separator_of(lines[0])
    header = [(aliases or {}).get(name, name) for name in split_fields(lines[0], sep)]
    if len(set(header)) < len(header):
        twice = sorted({h for h in header if header.count(h) > 1})
        raise SchemaError(f"the header names {twice} more than once", path=path, line=1,
                          hint="the file is not what its header claims; re-export it")
    columns: list[list[str | None]] = [[] for _ in header]
    numbers: list[int] = []
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        fields = split_fields(line, sep)
        if len(fields) > len(header):
            raise SchemaError(
                f"row has {len(fields)} fields, the header has {len(header)}",
                path=path, line=number, value=line[:80],
                hint="the file is not what its header claims; check the separator",
            )
        fields += [""] * (len(header) - len(fields))
        for column, value in zip(columns, fields, strict=True):
            column.append(None if value in MISSING else value)
        numbers.append(number)
    data: dict[str, list[str | None] | list[int]] = dict(zip(header, columns, strict=True))
    frame = pl.DataFrame(data, schema=dict.fromkeys(header, pl.String), strict=False)
    return frame.with_columns(pl.Series(LINE, numbers, dtype=pl.Int64))


def _convert(
    frame: pl.DataFrame,
    column: str,
    path: Path,
    parse: Callable[[str], object],
    dtype: pl.DataType,
    what: str,
) -> pl.Series:
    """Apply ``parse`` to every present value, raising ``SchemaError`` at the first failure."""
    out: list[object] = []
    for value, line in zip(frame[column], frame[LINE], strict=True):
        if value is None:
            out.append(None)
            continue
        try:
            out.append(parse(value))
        except (ValueError, OverflowError):
            raise SchemaError(
                f"cannot read {what}", path=path, line=line, column=column, value=value,
                hint=f"expected {what}; fix or remove the row",
            ) from None
    return pl.Series(column, out, dtype=dtype)


def to_text(frame: pl.DataFrame, column: str) -> pl.Series:
    """A text column, stripped; all missing when the file lacks the column."""
    if column not in frame.columns:
        return pl.Series(column, [None] * frame.height, dtype=pl.String())
    return frame[column].str.strip_chars().replace("", None).alias(column)


def to_float(frame: pl.DataFrame, column: str, path: Path) -> pl.Series:
    """A numeric column as Float64 (``-`` and empty are missing)."""
    return _convert(frame, column, path, float, pl.Float64(), "a number")


def to_int(frame: pl.DataFrame, column: str, path: Path) -> pl.Series:
    """An integer column as Int64; ``12.0`` is accepted, ``12.5`` is not."""

    def parse(text: str) -> int:
        number = float(text)
        if not number.is_integer():
            raise ValueError(text)
        return int(number)

    return _convert(frame, column, path, parse, pl.Int64(), "a whole number")


def to_duration_s(frame: pl.DataFrame, column: str, path: Path) -> pl.Series:
    """A ``m:ss.fff`` (or ``h:mm:ss.fff``, ``ss.fff``) column as Float64 seconds."""
    return _convert(frame, column, path, parse_duration_s, pl.Float64(), "a time m:ss.fff")


def to_utc(frame: pl.DataFrame, column: str, path: Path) -> pl.Series:
    """An ISO 8601 ``...Z`` column as UTC datetimes (microseconds)."""
    parsed = frame[column].str.to_datetime(
        "%Y-%m-%dT%H:%M:%S%.fZ", time_unit="us", time_zone="UTC", strict=False
    )
    bad = frame.filter(parsed.is_null() & frame[column].is_not_null())
    if bad.height:
        raise SchemaError(
            "cannot read a UTC time", path=path, line=int(bad[LINE][0]), column=column,
            value=bad[column][0], hint="expected ISO 8601 like 2025-07-19T18:06:40.175Z",
        )
    return parsed


def require(frame: pl.DataFrame, columns: tuple[str, ...], path: Path) -> None:
    """Raise ``SchemaError`` naming the first column the file lacks."""
    for column in columns:
        if column not in frame.columns:
            raise SchemaError(
                "column missing", path=path, line=1, column=column,
                hint="the file is not what its name claims",
            )


__all__ = [
    "LINE",
    "MISSING",
    "decode",
    "read_header",
    "read_table",
    "require",
    "separator_of",
    "split_fields",
    "to_duration_s",
    "to_float",
    "to_int",
    "to_text",
    "to_utc",
]
