"""Writers of the car-logger files: long-format telemetry and the lap start/end/time files.

Both are comma-separated with LF line endings, columns as ``domain.formats`` fixes them.
Telemetry streams car by car: each car's samples become one Polars frame (one row per
channel per sample) appended to the open file, so memory holds one car at a time.

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
    chassis_vehicle_id,
)
from cognirace.sim.telemetry import DECIMALS, CarTelemetry

FloatArray = npt.NDArray[np.float64]

META_SOURCE = "kafka:gr-raw"
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S%.3fZ"


@dataclass(frozen=True, slots=True)
class CarIdentity:
    """How a car appears in the logger files.

    Attributes:
        vehicle_id: ``GR86-<chassis>-<number>`` as written (number 0 when unassigned).
        vehicle_number: Number as written (0 when unassigned).
        ecu_offset_s: ECU clock minus the reliable clock at the green flag, s.
        ecu_drift_ppm: ECU clock rate error, parts per million.
    """

    vehicle_id: str
    vehicle_number: int
    ecu_offset_s: float
    ecu_drift_ppm: float

    @classmethod
    def of(cls, chassis: str, number: int, ecu_offset_s: float,
           ecu_drift_ppm: float) -> CarIdentity:
        """Build the identity; ``number`` 0 writes ``GR86-<chassis>-000``."""
        return cls(chassis_vehicle_id(chassis, number), number, ecu_offset_s, ecu_drift_ppm)

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


def telemetry_frame(
    tel: CarTelemetry, ident: CarIdentity, meta: SessionMeta, channels: tuple[str, ...],
    lap_written: npt.NDArray[np.int64],
) -> pl.DataFrame:
    """One car's long-format rows, sample-major, channels in ``channels`` order."""
    n = len(tel.t_s)
    k = len(channels)
    values = np.empty((n, k))
    for j, name in enumerate(channels):
        values[:, j] = np.round(tel.values[name], DECIMALS[name])
    flat = values.ravel()
    keep = np.isfinite(flat)
    sample = np.repeat(np.arange(n), k)[keep]
    name_idx = np.tile(np.arange(k), n)[keep]
    meta_time = _iso(epoch_ms(meta.start_utc, tel.t_s)).gather(sample)
    ecu = _iso(epoch_ms(meta.start_utc, ident.ecu_time_s(tel.t_s))).gather(sample)
    rows = int(keep.sum())
    return pl.DataFrame(
        {
            "expire_at": pl.Series([None], dtype=pl.String).extend_constant(None, rows - 1),
            "lap": pl.Series(lap_written[sample]),
            "meta_event": pl.repeat(meta.meta_event, rows, eager=True),
            "meta_session": pl.repeat(meta.meta_session, rows, eager=True),
            "meta_source": pl.repeat(META_SOURCE, rows, eager=True),
            "meta_time": meta_time,
            "original_vehicle_id": pl.repeat(ident.vehicle_id, rows, eager=True),
            "outing": pl.repeat(0, rows, eager=True, dtype=pl.Int32),
            "telemetry_name": pl.Series(channels).gather(name_idx),
            "telemetry_value": pl.Series(flat[keep]),
            "timestamp": ecu,
            "vehicle_id": pl.repeat(ident.vehicle_id, rows, eager=True),
            "vehicle_number": pl.repeat(ident.vehicle_number, rows, eager=True, dtype=pl.Int32),
        }
    ).select(TELEMETRY_COLUMNS)


def sentinel_laps(laps: npt.NDArray[np.int64], rng: np.random.Generator) -> npt.NDArray[np.int64]:
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


def glitch_lap_numbers(laps: npt.NDArray[np.int64], p_row: float, rng: np.random.Generator
                       ) -> npt.NDArray[np.int64]:
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


def write_telemetry_car(
    fh: BinaryIO, frame: pl.DataFrame, *, header: bool, chunk_rows: int = 2_000_000
) -> int:
    """Append one car's rows to an open telemetry file; returns the rows written."""
    for offset in range(0, max(frame.height, 1), chunk_rows):
        part = frame.slice(offset, chunk_rows)
        part.write_csv(fh, include_header=header and offset == 0, line_terminator="\n")
    return frame.height


def lap_event_rows(
    ident: CarIdentity, meta: SessionMeta, laps: list[int], t_s: FloatArray,
    value: list[int] | None,
) -> pl.DataFrame:
    """Rows of a lap start, end or time file for one car.

    Args:
        value: ``None`` for the standard layout; otherwise the ``value`` column of the
            variant layout (lap time in ms for lap time files, the lap number otherwise).
    """
    n = len(laps)
    data: dict[str, object] = {
        "expire_at": pl.Series([None] * n, dtype=pl.String),
        "lap": pl.Series(laps, dtype=pl.Int64),
        "meta_event": [meta.meta_event] * n,
        "meta_session": [meta.meta_session] * n,
        "meta_source": [META_SOURCE] * n,
        "meta_time": _iso(epoch_ms(meta.start_utc, t_s)),
        "original_vehicle_id": [ident.vehicle_id] * n,
        "outing": pl.Series([0] * n, dtype=pl.Int32),
        "timestamp": _iso(epoch_ms(meta.start_utc, ident.ecu_time_s(t_s))),
        "vehicle_id": [ident.vehicle_id] * n,
        "vehicle_number": pl.Series([ident.vehicle_number] * n, dtype=pl.Int32),
    }
    if value is None:
        return pl.DataFrame(data).select(LAP_COLUMNS)
    data["value"] = pl.Series(value, dtype=pl.Int64)
    return pl.DataFrame(data).select(LAP_COLUMNS_VALUE_VARIANT)


def write_lap_file(path: Path, frames: list[pl.DataFrame]) -> None:
    """Write a lap start, end or time file from per-car frames."""
    pl.concat(frames).write_csv(path, line_terminator="\n")


__all__ = [
    "GLITCH_LAPS",
    "CarIdentity",
    "SessionMeta",
    "epoch_ms",
    "glitch_lap_numbers",
    "lap_event_rows",
    "sentinel_laps",
    "telemetry_frame",
    "write_lap_file",
    "write_telemetry_car",
]
