"""Reading the small text families (lap and timing files) into typed Polars frames.

The real files mix encodings and separators: UTF-8 with or without BOM, LF or CRLF
(sometimes both in one file), ``,`` or ``;`` between fields, a trailing ``;`` on every
row of the Al Kamel files, and header names with stray spaces. These files are small
(one row per lap per car at most), so they are read whole as strings, keeping each
row's line number; typed columns are then parsed with errors that name file, line and
column. The telemetry, the one large family, is read by ``telemetry.py`` instead.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

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
    if '"' in line:
        fields = [f.strip().strip('"').strip() for f in line.split(sep)]
    else:
        fields = [f.strip() for f in line.split(sep)]
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
    width = len(header)
    rows: list[list[str]] = []
    numbers: list[int] = []
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        fields = split_fields(line, sep)
        if len(fields) > width:
            raise SchemaError(
                f"row has {len(fields)} fields, the header has {width}",
                path=path, line=number, value=line[:80],
                hint="the file is not what its header claims; check the separator",
            )
        rows.append(fields + [""] * (width - len(fields)))
        numbers.append(number)
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in header]
    frame = pl.DataFrame(
        {name: pl.Series(name, column, dtype=pl.String)
         for name, column in zip(header, columns, strict=True)})
    return frame.with_columns(
        pl.col(header).replace(list(MISSING), None),
        pl.Series(LINE, numbers, dtype=pl.Int64))


def _checked(frame: pl.DataFrame, column: str, path: Path, parsed: pl.Series, what: str
             ) -> pl.Series:
    """``parsed`` (null where the text did not parse), or ``SchemaError`` at the first
    present value that did not parse, naming its line."""
    bad = parsed.is_null() & frame[column].is_not_null()
    if bad.any():
        row = frame.filter(bad).row(0, named=True)
        raise SchemaError(
            f"cannot read {what}", path=path, line=row[LINE], column=column, value=row[column],
            hint=f"expected {what}; fix or remove the row",
        )
    return parsed.alias(column)


def to_text(frame: pl.DataFrame, column: str) -> pl.Series:
    """A text column, stripped; all missing when the file lacks the column."""
    if column not in frame.columns:
        return pl.Series(column, [None] * frame.height, dtype=pl.String())
    return frame[column].str.strip_chars().replace("", None).alias(column)


def to_float(frame: pl.DataFrame, column: str, path: Path) -> pl.Series:
    """A numeric column as Float64 (``-`` and empty are missing)."""
    parsed = frame[column].str.strip_chars().cast(pl.Float64, strict=False)
    return _checked(frame, column, path, parsed, "a number")


def to_int(frame: pl.DataFrame, column: str, path: Path) -> pl.Series:
    """An integer column as Int64; ``12.0`` is accepted, ``12.5`` is not."""
    number = frame[column].str.strip_chars().cast(pl.Float64, strict=False)
    whole = pl.select(pl.when(number == number.round()).then(number).cast(pl.Int64)).to_series()
    return _checked(frame, column, path, whole, "a whole number")


_DURATION = r"^\+?(\d+:){0,2}\d+(\.\d*)?$"
"""``ss.fff``, ``m:ss.fff`` or ``h:mm:ss.fff``, a leading ``+`` allowed (gap columns)."""


def to_duration_s(frame: pl.DataFrame, column: str, path: Path) -> pl.Series:
    """A ``m:ss.fff`` (or ``h:mm:ss.fff``, ``ss.fff``) column as Float64 seconds."""
    text = frame[column].str.strip_chars()
    parts = text.str.strip_prefix("+").str.split(":")
    n = parts.list.len()
    seconds = pl.select(
        pl.when(text.str.contains(_DURATION))
        .then(parts.list.get(-1, null_on_oob=True).cast(pl.Float64, strict=False)
              + pl.when(n >= 2).then(parts.list.get(-2, null_on_oob=True).cast(pl.Float64))
              .otherwise(0.0) * 60.0
              + pl.when(n >= 3).then(parts.list.get(-3, null_on_oob=True).cast(pl.Float64))
              .otherwise(0.0) * 3600.0)
    ).to_series()
    return _checked(frame, column, path, seconds, "a time m:ss.fff")


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
