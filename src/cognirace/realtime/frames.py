"""A stream frame, checked and turned into the lake's rows.

A frame is ``{"seq": n, "source"?: "...", "samples": [...], "laps": [...],
"flags": [...], "weather": [...]}``. Samples come in either of two shapes, so a logger can
forward what it writes without a translation step of its own:

- wide rows in the lake's telemetry names (``vehicle_id``, ``time``, ``lap``,
  ``speed_kph``, ...), one row per sample;
- the raw file's long rows (``vehicle_id``, ``telemetry_name``, ``telemetry_value``,
  ``timestamp``, ``meta_time``, ``lap``), one row per channel reading. A sample is one
  ECU reading, ``(vehicle_id, timestamp)``, as in the ingest; its time is the ECU clock
  placed in real time by the car's least receive lag seen so far (``ClockOffsets``).

Lap crossings are rows of the lake's laps table (``car_number`` as text, ``lap``,
``lap_end``, ``lap_time_s``, sectors, ``flag``, ``in_pit``, ``pit_time_s``). Flags are
``{"time", "flag"}`` with ``GF``, ``FCY`` or ``FF``. Times are ISO 8601 strings in UTC
(``2025-04-26T21:43:12.084Z``) or epoch seconds.

Errors name the field at fault (``samples[3].lap``), so a client can fix its sender.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from cognirace.domain.channels import CHANNEL_BY_COLUMN, CHANNEL_BY_RAW
from cognirace.errors import DataError
from cognirace.lake.schema import LAPS, TELEMETRY, WEATHER

FLAGS = ("GF", "FCY", "FF")
"""Track status values a flag row may carry."""
MAX_FRAME_ROWS = 200_000
"""Rows a frame may hold in all; a larger frame is refused (split it)."""
DEFAULT_SOURCE = "default"
"""The source of a frame that names none: ``seq`` is monotonic per source."""

_LONG_KEYS = ("telemetry_name", "telemetry_value")
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


class FrameError(DataError):
    """A frame that cannot be applied; ``column`` names the field at fault."""


@dataclass(frozen=True)
class Frame:
    """One checked frame.

    Attributes:
        seq: The sender's sequence number, monotonic per ``source``.
        source: Who sent it (a logger, the timing feed); ``"default"`` when unnamed.
        samples: Wide telemetry rows (the lake's telemetry schema, without ``race_id``),
            in the order received.
        laps: Lap crossings (the lake's laps schema, without ``race_id``).
        flags: ``(time, flag)`` pairs.
        weather: Weather rows (the lake's weather schema, without ``race_id``).
    """

    seq: int
    source: str = DEFAULT_SOURCE
    samples: pl.DataFrame = field(default_factory=lambda: empty(TELEMETRY))
    laps: pl.DataFrame = field(default_factory=lambda: empty(LAPS))
    flags: tuple[tuple[dt.datetime, str], ...] = ()
    weather: pl.DataFrame = field(default_factory=lambda: empty(WEATHER))

    @property
    def n_rows(self) -> int:
        """Samples, laps, flags and weather rows in all."""
        return self.samples.height + self.laps.height + len(self.flags) + self.weather.height

    @functools.cached_property
    def crossings(self) -> list[dict[str, Any]]:
        """The lap crossings as rows in the order they happened (by ``lap_end``, then car):
        sorted once, for the engine and every observer of the frame."""
        return list(self.laps.sort("lap_end", "car_number").iter_rows(named=True))


_EMPTY: dict[tuple[tuple[str, str], ...], pl.DataFrame] = {}


def empty(schema: pl.Schema) -> pl.DataFrame:
    """An empty frame of a lake table's schema, without ``race_id`` (made once per
    schema: every frame lacks most of its parts)."""
    key = tuple((name, str(dtype)) for name, dtype in schema.items())
    made = _EMPTY.get(key)
    if made is None:
        made = _EMPTY[key] = pl.DataFrame(
            schema={k: v for k, v in schema.items() if k != "race_id"})
    return made


def parse_time(value: Any, where: str) -> dt.datetime:
    """An ISO 8601 string or epoch seconds as an aware UTC datetime.

    Raises:
        FrameError: Neither, or not finite.
    """
    if isinstance(value, dt.datetime):  # placed already (a long row's ECU clock)
        return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
    if isinstance(value, bool):
        raise FrameError("a time is an ISO 8601 string or epoch seconds", column=where,
                         value=value)
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise FrameError("a time must be finite", column=where, value=value)
        return _EPOCH + dt.timedelta(seconds=float(value))
    if isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise FrameError("not an ISO 8601 time", column=where, value=value[:60],
                             hint="send e.g. \"2025-04-26T21:43:12.084Z\"") from None
        return parsed.replace(tzinfo=dt.UTC) if parsed.tzinfo is None else parsed.astimezone(dt.UTC)
    raise FrameError("a time is an ISO 8601 string or epoch seconds", column=where,
                     value=repr(value)[:60])


def _list(body: Mapping[str, Any], key: str) -> list[Any]:
    value = body.get(key, [])
    if value is None:
        return []
    if not isinstance(value, list):
        raise FrameError(f"{key} must be a list", column=key, value=type(value).__name__)
    return value


def _rows(items: Sequence[Any], key: str) -> list[Mapping[str, Any]]:
    for index, item in enumerate(items):
        if not isinstance(item, Mapping):
            raise FrameError("each row is a JSON object", column=f"{key}[{index}]",
                             value=type(item).__name__)
    return list(items)


def _typed(rows: Sequence[Mapping[str, Any]], schema: pl.Schema, key: str,
           required: Sequence[str], ranged: bool = False) -> pl.DataFrame:
    """Rows as a frame of ``schema`` (without ``race_id``), times parsed, types checked,
    and with ``ranged`` each channel's values within what its sensor can read.

    Columnar first (a frame of telemetry holds hundreds of rows); anything it cannot
    vouch for goes through the row-by-row check, which names the field at fault.
    """
    if not rows:
        return empty(schema)
    fast = _typed_columnar(rows, schema, required, ranged)
    if fast is None:
        fast = _typed_rows(rows, schema, key, required)
        if ranged:
            _check_ranges(fast)
    return fast


@dataclass(frozen=True)
class _Plan:
    """The typing query of one shape of rows and what to check of its result: the
    columns that must hold no null, those that must be finite, and with ``ranged`` the
    channels' sensor ranges."""

    columns: list[pl.Expr]
    required: tuple[str, ...]
    floats: tuple[str, ...]
    ranges: tuple[tuple[str, float, float], ...]

    def vouches(self, typed: pl.DataFrame) -> bool:
        """No null where one is required and nothing but finite numbers.

        Read off each column's native aggregates (a null count, a sum, which NaN and
        infinities carry through): a query of them costs twenty times as much on a
        frame's few hundred rows. A sum that overflows errs on the safe side.
        """
        if any(typed.get_column(n).null_count() for n in self.required):
            return False
        return all(math.isfinite(typed.get_column(n).sum()) for n in self.floats)

    def out_of_range(self, typed: pl.DataFrame) -> bool:
        """Whether a channel reads outside its sensor's range (finite values only)."""
        for name, low, high in self.ranges:
            column = typed.get_column(name)
            lo, hi = column.min(), column.max()
            if lo is not None and (lo < low or hi > high):  # type: ignore[operator]
                return True
        return False


_PLANS: dict[tuple[Any, ...], _Plan | None] = {}
"""The typing query of each shape of rows seen (their columns and inferred types): a
stream sends the same shape frame after frame, and building the query costs more than
running it on a frame's few hundred rows."""
_MAX_PLANS = 256


def _columns_of(rows: Sequence[Mapping[str, Any]]) -> pl.DataFrame:
    """The rows as columns, each column's type inferred over all its values.

    A stream's rows share their keys: gathered into lists here they cost half of what
    ``from_dicts`` takes; rows with differing keys go to ``from_dicts``, which fills
    the gaps with nulls. (Rows as long as the first that hold all its keys hold the
    same keys.)
    """
    keys = list(rows[0].keys())
    if keys and all(len(row) == len(keys) for row in rows):
        try:
            return pl.DataFrame({k: [row[k] for row in rows] for k in keys}, strict=False)
        except KeyError:
            pass
    return pl.from_dicts(rows, infer_schema_length=None)


def _typed_columnar(rows: Sequence[Mapping[str, Any]], schema: pl.Schema,
                    required: Sequence[str], ranged: bool) -> pl.DataFrame | None:
    """The rows typed in columns, or None when a value needs the row-by-row check.

    Raises:
        FrameError: ``ranged`` and a channel's value is outside its sensor's range.
    """
    try:
        raw = _columns_of(rows)
    except (pl.exceptions.PolarsError, TypeError, ValueError):
        return None
    shape = (tuple((n, str(t)) for n, t in schema.items()), tuple(required), ranged,
             tuple((n, str(t)) for n, t in raw.schema.items()))
    if shape not in _PLANS:
        if len(_PLANS) >= _MAX_PLANS:
            _PLANS.clear()
        _PLANS[shape] = _plan(raw.schema, schema, required, ranged)
    plan = _PLANS[shape]
    if plan is None:
        return None
    try:
        typed = raw.select(plan.columns)
    except (pl.exceptions.PolarsError, TypeError, ValueError):
        return None
    if not plan.vouches(typed):
        return None
    if plan.out_of_range(typed):
        _check_ranges(typed)  # names the first channel out of range
    return typed


def _plan(got_schema: pl.Schema, schema: pl.Schema, required: Sequence[str],
          ranged: bool) -> _Plan | None:
    """The casts from rows of ``got_schema`` to ``schema`` and the checks of the result;
    None when a column's inferred type cannot be vouched for in columns."""
    names = [n for n in schema.names() if n != "race_id"]
    typed: dict[str, pl.Expr] = {}
    for name in names:
        dtype = schema[name]
        if name not in got_schema:
            if name in required:
                return None
            typed[name] = pl.lit(None, dtype=dtype)
            continue
        got = got_schema[name]
        col = pl.col(name)
        if got == pl.Null:
            typed[name] = col.cast(dtype)
        elif isinstance(dtype, pl.Datetime):
            if got == pl.String:
                typed[name] = col.str.to_datetime(time_unit="us", time_zone="UTC",
                                                  strict=True).cast(dtype)
            elif got.is_numeric() and got != pl.Boolean:
                typed[name] = (col.cast(pl.Float64) * 1e6).round(0).cast(pl.Int64) \
                    .cast(pl.Datetime("us", "UTC")).cast(dtype)
            else:
                return None
        elif dtype == pl.String() or dtype == pl.Boolean():
            if got != dtype:
                return None
            typed[name] = col
        elif dtype.is_integer():
            if not got.is_integer():
                return None
            typed[name] = col.cast(dtype, strict=True)
        else:
            if not (got.is_float() or got.is_integer()):
                return None
            typed[name] = col.cast(dtype)
    floats = tuple(n for n in names if schema[n].is_float())
    ranges = tuple((n, c.low, c.high) for n in floats
                   if ranged and (c := CHANNEL_BY_COLUMN.get(n)) is not None)
    return _Plan([e.alias(n) for n, e in typed.items()], tuple(required), floats, ranges)


def _typed_rows(rows: Sequence[Mapping[str, Any]], schema: pl.Schema, key: str,
                required: Sequence[str]) -> pl.DataFrame:
    """The row-by-row check: slow, exact about which field is at fault."""
    names = [n for n in schema.names() if n != "race_id"]
    columns: dict[str, list[Any]] = {n: [] for n in names}
    for index, row in enumerate(rows):
        for name in required:
            if row.get(name) is None:
                raise FrameError("is required", column=f"{key}[{index}].{name}")
        for name in names:
            value = row.get(name)
            dtype = schema[name]
            where = f"{key}[{index}].{name}"
            if value is not None:
                if isinstance(dtype, pl.Datetime):
                    value = parse_time(value, where)
                elif dtype == pl.String():
                    if not isinstance(value, str):
                        raise FrameError("must be text", column=where, value=value,
                                         hint="car numbers and ids are text: \"021\" and "
                                              "\"21\" are two cars")
                elif dtype == pl.Boolean():
                    if not isinstance(value, bool):
                        raise FrameError("must be true or false", column=where, value=value)
                elif dtype.is_integer():
                    if isinstance(value, bool) or not isinstance(value, int):
                        raise FrameError("must be an integer", column=where, value=value)
                elif isinstance(value, bool) or not isinstance(value, int | float) \
                        or not math.isfinite(value):
                    raise FrameError("must be a finite number", column=where, value=value)
            columns[name].append(value)
    return pl.DataFrame(columns, schema={n: schema[n] for n in names})


@dataclass
class ClockOffsets:
    """Each logger's ECU clock placed in real time: the least ``meta_time - timestamp``
    seen so far, as the ingest estimates it over a whole file. Early samples may sit a
    little late until a faster batch arrives; the offset only ever shrinks."""

    offsets: dict[str, float] = field(default_factory=dict)

    def place(self, vehicle_id: str, timestamp: dt.datetime, meta_time: dt.datetime
              ) -> dt.datetime:
        lag = (meta_time - timestamp).total_seconds()
        best = min(lag, self.offsets.get(vehicle_id, lag))
        self.offsets[vehicle_id] = best
        return timestamp + dt.timedelta(seconds=best)


def _long_samples(rows: Sequence[Mapping[str, Any]], clocks: ClockOffsets) -> pl.DataFrame:
    """Long rows (one channel reading each) as wide samples keyed ``(vehicle_id,
    timestamp)``; unknown channel names are skipped, as the ingest reports them."""
    samples: dict[tuple[str, dt.datetime], dict[str, Any]] = {}
    for index, row in enumerate(rows):
        where = f"samples[{index}]"
        vehicle = row.get("vehicle_id")
        if not isinstance(vehicle, str):
            raise FrameError("is required (text)", column=f"{where}.vehicle_id", value=vehicle)
        if row.get("timestamp") is None:
            raise FrameError("is required", column=f"{where}.timestamp")
        stamp = parse_time(row["timestamp"], f"{where}.timestamp")
        meta = row.get("meta_time")
        time = (clocks.place(vehicle, stamp, parse_time(meta, f"{where}.meta_time"))
                if meta is not None else stamp)
        sample = samples.setdefault((vehicle, stamp), {"vehicle_id": vehicle, "time": time})
        lap = row.get("lap")
        if lap is not None:
            if isinstance(lap, bool) or not isinstance(lap, int):
                raise FrameError("must be an integer", column=f"{where}.lap", value=lap)
            sample["lap"] = lap if sample.get("lap") is None else min(lap, sample["lap"])
        channel = CHANNEL_BY_RAW.get(str(row.get("telemetry_name")))
        if channel is None:
            continue
        value = row.get("telemetry_value")
        if value is not None:
            if isinstance(value, bool) or not isinstance(value, int | float) \
                    or not math.isfinite(value):
                raise FrameError("must be a finite number", column=f"{where}.telemetry_value",
                                 value=value)
            sample[channel.column] = value
    return _typed(list(samples.values()), TELEMETRY, "samples", ("vehicle_id", "time"))


_RANGE_CHECKS: dict[tuple[tuple[str, str], ...], tuple[list[Any], list[pl.Expr]]] = {}
"""The range query of each shape of wide samples (few: the lake's telemetry schema)."""


def _check_ranges(wide: pl.DataFrame) -> None:
    """Refuse a channel's value outside what its sensor can read, naming the first: the
    naming pass, run where ``_Plan.out_of_range`` found one or after the row-by-row
    check (the plan's minimum and maximum only say whether one is out)."""
    if wide.is_empty():
        return
    shape = tuple((n, str(t)) for n, t in wide.schema.items())
    if shape not in _RANGE_CHECKS:
        channels = [(name, channel) for name in wide.columns
                    if (channel := CHANNEL_BY_COLUMN.get(name)) is not None
                    and wide.schema[name].is_float()]
        _RANGE_CHECKS[shape] = (channels, [
            ((pl.col(n) < c.low) | (pl.col(n) > c.high)).any().alias(n) for n, c in channels])
    channels, checks = _RANGE_CHECKS[shape]
    if not channels:
        return
    out = wide.select(checks).row(0)
    for (name, channel), bad in zip(channels, out, strict=True):
        if bad:
            first = wide.filter((pl.col(name) < channel.low) | (pl.col(name) > channel.high))
            raise FrameError(f"outside {channel.low}..{channel.high} {channel.unit}",
                             column=f"samples.{name}", value=first[name][0])


def parse_frame(body: Any, clocks: ClockOffsets | None = None) -> Frame:
    """Check a frame's JSON (already decoded) and turn it into typed rows.

    Raises:
        FrameError: A field is missing or of the wrong type, or the frame is too large;
            the error names the field (``laps[2].car_number``).
    """
    if not isinstance(body, Mapping):
        raise FrameError("a frame is a JSON object", value=type(body).__name__)
    seq = body.get("seq")
    if isinstance(seq, bool) or not isinstance(seq, int) or seq < 0:
        raise FrameError("seq is required: a non-negative integer", column="seq", value=seq)
    source = body.get("source", DEFAULT_SOURCE)
    if not isinstance(source, str) or not source or len(source) > 100:
        raise FrameError("source must be a non-empty name", column="source", value=source)
    raw = {key: _rows(_list(body, key), key) for key in ("samples", "laps", "flags",
                                                           "weather")}
    total = sum(len(rows) for rows in raw.values())
    if total > MAX_FRAME_ROWS:
        raise FrameError(f"a frame holds at most {MAX_FRAME_ROWS:,} rows", value=total,
                         hint="split the rows over several frames")
    samples = raw["samples"]
    if samples and all(k in samples[0] for k in _LONG_KEYS):
        wide = _long_samples(samples, clocks if clocks is not None else ClockOffsets())
    else:
        wide = _typed(samples, TELEMETRY, "samples", ("vehicle_id", "time"), ranged=True)
    flags = []
    for index, row in enumerate(raw["flags"]):
        flag = row.get("flag")
        if flag not in FLAGS:
            raise FrameError(f"must be one of {', '.join(FLAGS)}",
                             column=f"flags[{index}].flag", value=flag)
        if row.get("time") is None:
            raise FrameError("is required", column=f"flags[{index}].time")
        flags.append((parse_time(row["time"], f"flags[{index}].time"), str(flag)))
    laps = _typed(raw["laps"], LAPS, "laps", ("car_number", "lap", "lap_end"))
    weather = _typed(raw["weather"], WEATHER, "weather", ("time",))
    return Frame(seq=seq, source=source, samples=wide, laps=laps, flags=tuple(flags),
                 weather=weather)


__all__ = ["DEFAULT_SOURCE", "FLAGS", "MAX_FRAME_ROWS", "ClockOffsets", "Frame", "FrameError",
           "empty", "parse_frame", "parse_time"]
