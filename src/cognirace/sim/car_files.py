"""Writers of the car-logger files: long-format telemetry and the lap start/end/time files.

Both are comma-separated with LF line endings, columns as ``domain.formats`` fixes them.
Telemetry streams car by car: each car's samples become one Polars frame (one row per
channel per sample) appended to the open file, so memory holds one car at a time. How
the logger stamps and orders the samples (ECU clock days behind, batched
``meta_time``, slow channels, pages stored newest first, float artifacts) is
``logger``'s job.

Lap files carry real time in ``timestamp`` (the crossing, to the millisecond) and the
receiver's time in ``meta_time``, 0.1 to a few seconds later (rarely up to a minute),
the same for the rows of one crossing (the end of lap n, the start of lap n + 1).

The logger loses count of laps in both families: ``sentinel_laps`` writes 32768 over
stretches of telemetry, ``glitch_lap_numbers`` puts impossible numbers in single rows of
the lap start, end and time files.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import numpy.typing as npt
import polars as pl

from cognirace.domain.channels import LAP_NUMBER_SENTINEL
from cognirace.domain.formats import (
    LAP_COLUMNS,
    LAP_COLUMNS_VALUE_VARIANT,
    TELEMETRY_COLUMNS,
    UNASSIGNED_NUMBER,
    chassis_vehicle_id,
)
from cognirace.sim import logger
from cognirace.sim.telemetry import CarTelemetry

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

META_SOURCE = "kafka:gr-raw"
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S%.3fZ"

LAP_LATENCY_S = (0.1, 1.1, 0.9)
"""Receiver latency of a lap event: least, log-normal median above it, log-normal sigma, s
(real lap files: 0.1 s at least, median 1.3 s, 95% within about 5 s)."""


@dataclass(frozen=True, slots=True)
class CarIdentity:
    """How a car appears in the logger files.

    Attributes:
        vehicle_id: ``GR86-<chassis>-<number>`` as written (``000`` when unassigned).
        vehicle_number: Number as written in ``vehicle_number``: the whole number of the
            car number (``"03"`` writes 3), 0 when unassigned.
        ecu_offset_s: ECU clock minus real time at the green flag, s (days negative).
        ecu_drift_ppm: ECU clock rate error, parts per million.
    """

    vehicle_id: str
    vehicle_number: int
    ecu_offset_s: float
    ecu_drift_ppm: float

    @classmethod
    def of(cls, chassis: str, number: str | None, ecu_offset_s: float,
           ecu_drift_ppm: float) -> CarIdentity:
        """Build the identity; ``number`` is the text written in ``vehicle_id``, ``None``
        (or ``"000"``) when unassigned."""
        unassigned = number is None or number.strip("0") == ""
        written = UNASSIGNED_NUMBER if unassigned else number
        return cls(chassis_vehicle_id(chassis, written), 0 if unassigned else int(str(number)),
                   ecu_offset_s, ecu_drift_ppm)

    def ecu_time_s(self, t_s: FloatArray) -> FloatArray:
        """ECU clock reading at race times ``t_s``, as seconds after the green flag."""
        return t_s + self.ecu_offset_s + t_s * self.ecu_drift_ppm * 1e-6


def _iso(epoch_ms: npt.NDArray[np.int64]) -> pl.Series:
    return pl.Series(epoch_ms).cast(pl.Datetime("ms")).dt.strftime(_TIME_FORMAT)


def epoch_ms(start: dt.datetime, t_s: FloatArray) -> npt.NDArray[np.int64]:
    """Milliseconds since the Unix epoch of race times ``t_s`` after ``start`` (UTC)."""
    base = round(start.timestamp() * 1000)
    return base + np.round(np.asarray(t_s) * 1000).astype(np.int64)


@dataclass(frozen=True, slots=True)
class SessionMeta:
    """Columns shared by every row of a race's logger files."""

    meta_event: str
    meta_session: str
    start_utc: dt.datetime


@dataclass(frozen=True, slots=True)
class StreamQuirks:
    """How untidy the telemetry stream is.

    Attributes:
        p_resent: Probability that a sample is stored twice.
        p_page_reversed: Share of the file's stretches stored newest first.
    """

    p_resent: float = 0.018
    p_page_reversed: float = 0.8


def value_text(values: FloatArray) -> pl.Series:
    """Values as the logger prints them: shortest round-trip text, whole numbers without
    a decimal point (``100``, ``0.34600000000000003``)."""
    text = pl.Series("telemetry_value", values + 0.0).cast(pl.String)  # + 0.0: no "-0"
    return text.str.strip_suffix(".0")


def telemetry_frame(
    tel: CarTelemetry, ident: CarIdentity, meta: SessionMeta, channels: tuple[str, ...],
    lap_written: IntArray, hz: float, rng: np.random.Generator,
    stream: StreamQuirks = StreamQuirks(),
) -> pl.DataFrame:
    """One car's long-format rows in file order (see ``logger``)."""
    kept = np.nonzero(logger.kept_samples(len(tel.t_s), rng))[0]
    t = tel.t_s[kept]
    names = [c for c in logger.WRITE_ORDER if c in channels]
    values = np.full((len(kept), len(names)), np.nan)
    for j, name in enumerate(names):
        carried = logger.carries(name, len(kept), hz)
        values[:, j] = np.where(carried, logger.logged_values(name, tel.values[name][kept]),
                                np.nan)
    start_ms = round(meta.start_utc.timestamp() * 1000)
    ecu_ms = start_ms + np.round(ident.ecu_time_s(t) * 1000
                                 + logger.ecu_jitter_ms(len(t), rng)).astype(np.int64)
    stored = logger.batch(t, stream.p_resent, rng)
    order = logger.file_order(stored.meta_offset_ms, stream.p_page_reversed, rng)
    sample = stored.sample[order]
    meta_ms = start_ms + stored.meta_offset_ms[order]
    flat = values[sample].ravel()
    keep = np.isfinite(flat)
    k = len(names)
    row_copy = np.repeat(np.arange(len(sample)), k)[keep]
    row_sample = sample[row_copy]
    rows = int(keep.sum())
    return pl.DataFrame(
        {
            "expire_at": pl.Series([None] * min(rows, 1), dtype=pl.String).extend_constant(
                None, max(rows - 1, 0)),
            "lap": pl.Series(lap_written[kept][row_sample]),
            "meta_event": pl.repeat(meta.meta_event, rows, eager=True),
            "meta_session": pl.repeat(meta.meta_session, rows, eager=True),
            "meta_source": pl.repeat(META_SOURCE, rows, eager=True),
            "meta_time": _iso(meta_ms).gather(row_copy),
            "original_vehicle_id": pl.repeat(ident.vehicle_id, rows, eager=True),
            "outing": pl.repeat(0, rows, eager=True, dtype=pl.Int32),
            "telemetry_name": pl.Series(names).gather(np.tile(np.arange(k), len(sample))[keep]),
            "telemetry_value": value_text(flat[keep]),
            "timestamp": _iso(ecu_ms).gather(row_sample),
            "vehicle_id": pl.repeat(ident.vehicle_id, rows, eager=True),
            "vehicle_number": pl.repeat(ident.vehicle_number, rows, eager=True, dtype=pl.Int32),
        }
    ).select(TELEMETRY_COLUMNS)


def sentinel_laps(laps: IntArray, rng: np.random.Generator) -> IntArray:
    """Replace the lap counter by 32768 over one or two random stretches of samples."""
    out = laps.copy()
    n = len(out)
    if n < 100:
        return out
    for _ in range(int(rng.integers(1, 3))):
        start = int(rng.integers(0, n - 50))
        length = int(rng.integers(50, max(51, n // 8)))
        out[start: start + length] = LAP_NUMBER_SENTINEL
    return out


GLITCH_LAPS = (LAP_NUMBER_SENTINEL, 65_535, -1)
"""Impossible lap numbers a lap file row can carry: 32768 as in the real files, else the
16-bit maximum or a negative number, so the ingest cannot get by on matching 32768 alone."""
P_GLITCH_SENTINEL = 0.8
"""Share of lap-file glitches that are 32768 rather than another impossible number."""


def glitch_lap_numbers(laps: IntArray, p_row: float, rng: np.random.Generator) -> IntArray:
    """Lap numbers as a lap file writes them: each row impossible with probability ``p_row``.

    Rows are hit independently, so a lap can be wrong in its start file and right in its
    end file. The draws do not depend on ``p_row``: changing the rate changes which rows
    are hit and nothing else.
    """
    hit = rng.random(len(laps)) < p_row
    sentinel = rng.random(len(laps)) < P_GLITCH_SENTINEL
    other = rng.choice(np.asarray(GLITCH_LAPS[1:], dtype=np.int64), size=len(laps))
    glitch = np.where(sentinel, LAP_NUMBER_SENTINEL, other)
    return np.where(hit, glitch, laps).astype(np.int64)


def lap_latency_s(n: int, rng: np.random.Generator) -> FloatArray:
    """Receiver latency of ``n`` lap events (``meta_time`` minus the crossing), s."""
    least, median, sigma = LAP_LATENCY_S
    return least + median * rng.lognormal(0.0, sigma, n)


def write_telemetry_car(
    fh: BinaryIO, frame: pl.DataFrame, *, header: bool, chunk_rows: int = 2_000_000
) -> int:
    """Append one car's rows to an open telemetry file; returns the rows written."""
    for offset in range(0, max(frame.height, 1), chunk_rows):
        part = frame.slice(offset, chunk_rows)
        part.write_csv(fh, include_header=header and offset == 0, line_terminator="\n")
    return frame.height


@dataclass(frozen=True, slots=True)
class LapEvents:
    """Rows of a lap start, end or time file, every car at once.

    Attributes:
        vehicle_id: ``vehicle_id`` of each row.
        vehicle_number: ``vehicle_number`` of each row.
        lap: Lap number as written.
        t_s: Race time of the event (``timestamp``, real time), s.
        latency_s: Receiver latency of the event (``meta_time`` after it), s.
    """

    vehicle_id: list[str]
    vehicle_number: list[int]
    lap: IntArray
    t_s: FloatArray
    latency_s: FloatArray


ISO_VALUE = "iso"
"""``value`` of the variant lap start and end files: the event's time as ISO text."""


def lap_event_rows(events: LapEvents, meta: SessionMeta,
                   value: IntArray | str | None = None) -> pl.DataFrame:
    """A lap start, end or time file.

    Args:
        events: Every row.
        meta: The race's shared columns.
        value: ``None`` for the standard layout; else the variant layout's ``value``:
            the lap times in ms (lap time files) or ``ISO_VALUE`` (start and end files).
    """
    n = len(events.lap)
    event_ms = epoch_ms(meta.start_utc, events.t_s)
    stamp = _iso(event_ms)
    data: dict[str, object] = {
        "expire_at": pl.Series([None] * n, dtype=pl.String),
        "lap": pl.Series(events.lap, dtype=pl.Int64),
        "meta_event": pl.repeat(meta.meta_event, n, eager=True),
        "meta_session": pl.repeat(meta.meta_session, n, eager=True),
        "meta_source": pl.repeat(META_SOURCE, n, eager=True),
        "meta_time": _iso(event_ms + np.round(events.latency_s * 1000).astype(np.int64)),
        "original_vehicle_id": pl.Series(events.vehicle_id, dtype=pl.String),
        "outing": pl.repeat(0, n, eager=True, dtype=pl.Int32),
        "timestamp": stamp,
        "vehicle_id": pl.Series(events.vehicle_id, dtype=pl.String),
        "vehicle_number": pl.Series(events.vehicle_number, dtype=pl.Int32),
    }
    if value is None:
        return pl.DataFrame(data).select(LAP_COLUMNS)
    data["value"] = stamp if isinstance(value, str) else pl.Series(value, dtype=pl.Int64)
    return pl.DataFrame(data).select(LAP_COLUMNS_VALUE_VARIANT)


def write_lap_file(path: Path, frame: pl.DataFrame) -> None:
    """Write a lap start, end or time file."""
    frame.write_csv(path, line_terminator="\n")


__all__ = [
    "GLITCH_LAPS",
    "ISO_VALUE",
    "CarIdentity",
    "LapEvents",
    "SessionMeta",
    "StreamQuirks",
    "epoch_ms",
    "glitch_lap_numbers",
    "lap_event_rows",
    "lap_latency_s",
    "sentinel_laps",
    "telemetry_frame",
    "value_text",
    "write_lap_file",
    "write_telemetry_car",
]
