"""Lap repair and the lake's laps table.

The logger's lap counter is unreliable: it writes 32768 when it lost count and can
repeat or jump. A lap event's number is trusted only when it is plausible (below
``MAX_LAP``) and larger than the previous event's of the same car; otherwise it is
recovered from the order of the events in time (the previous lap plus one), which is
what the lap start and end times say. The repaired start and end times then place
telemetry samples whose lap number is impossible (``telemetry.repair_telemetry_laps``).
"""

from __future__ import annotations

import polars as pl

from cognirace.ingest.timing import SECTIONS_FRAME
from cognirace.lake.schema import LAPS, UTC_TIME

MAX_LAP = 500
"""No race of the series comes near this many laps; anything above is a logger glitch."""


def repair_lap_sequence(laps: list[int | None]) -> tuple[list[int], int]:
    """Make one car's lap numbers (in time order) plausible and strictly increasing.

    Args:
        laps: Lap numbers as logged, in time order; ``None`` or values outside
            ``0..MAX_LAP`` are impossible.

    Returns:
        The repaired numbers and how many were changed.
    """
    good = [lap is not None and 0 <= lap <= MAX_LAP for lap in laps]
    out: list[int] = []
    repaired = 0
    for i, lap in enumerate(laps):
        prev = out[-1] if out else None
        if good[i] and lap is not None and (prev is None or lap > prev):
            out.append(lap)
            continue
        if prev is not None:
            out.append(prev + 1)
        else:
            later = next((j for j in range(i + 1, len(laps)) if good[j]), None)
            start = laps[later] if later is not None else None
            out.append(max(0, start - (later - i)) if start is not None and later else 1)
        repaired += 1
    return out, repaired


def repair_events(events: pl.DataFrame) -> tuple[pl.DataFrame, int]:
    """Repair the ``lap`` of lap events (sorted by car and time), adding ``repaired``."""
    parts: list[pl.DataFrame] = []
    total = 0
    for (_,), car in events.group_by(["vehicle_id"], maintain_order=True):
        fixed, n = repair_lap_sequence(car["lap"].to_list())
        total += n
        parts.append(
            car.with_columns(
                pl.Series("lap", fixed, dtype=pl.Int64),
                (pl.Series(fixed, dtype=pl.Int64) != car["lap"]).fill_null(True).alias("repaired"),
            )
        )
    if not parts:
        return events.with_columns(pl.lit(False).alias("repaired")), 0
    return pl.concat(parts), total


def lap_frame(starts: pl.DataFrame | None, ends: pl.DataFrame | None,
              times: pl.DataFrame | None) -> pl.DataFrame:
    """Laps per car from repaired lap events: start, end and logged lap time.

    A lap missing its start takes the previous lap's end; one missing its end takes
    the next lap's start.

    Returns:
        Columns ``vehicle_id, lap, lap_start, lap_end, logged_lap_time_s, repaired``.
    """
    keys = ["vehicle_id", "lap"]
    pieces = []
    for frame, name in ((starts, "lap_start"), (ends, "lap_end")):
        if frame is not None:
            pieces.append(frame.select(*keys, pl.col("time").alias(name),
                                       pl.col("repaired").alias(f"r_{name}")))
    if times is not None:
        pieces.append(times.select(*keys, (pl.col("value_ms") / 1000.0)
                                   .alias("logged_lap_time_s"), pl.col("repaired").alias("r_t")))
    if not pieces:
        return pl.DataFrame(schema={"vehicle_id": pl.String, "lap": pl.Int64})
    out = pieces[0]
    for piece in pieces[1:]:
        out = out.join(piece, on=keys, how="full", coalesce=True)
    for name in ("lap_start", "lap_end"):
        if name not in out.columns:
            out = out.with_columns(pl.lit(None, dtype=pl.Datetime("us", "UTC")).alias(name))
    if "logged_lap_time_s" not in out.columns:
        out = out.with_columns(pl.lit(None, dtype=pl.Float64).alias("logged_lap_time_s"))
    flags = [c for c in out.columns if c.startswith("r_")]
    out = out.sort(keys).with_columns(
        pl.any_horizontal([pl.col(c).fill_null(False) for c in flags]).alias("repaired")
    ).drop(flags)
    return out.with_columns(
        pl.col("lap_start").fill_null(pl.col("lap_end").shift(1).over("vehicle_id")),
        pl.col("lap_end").fill_null(pl.col("lap_start").shift(-1).over("vehicle_id")),
    )


def build_laps(race_id: str, laps: pl.DataFrame, numbers: dict[str, int],
               sections: pl.DataFrame | None, race_date_utc: pl.Expr | None = None
               ) -> pl.DataFrame:
    """The lake's laps table: lap-file laps joined with the sections file.

    Timing (sections) values win over logged ones: the official lap time, sector times,
    flag, pit crossing, pit time and top speed. Cars of the sections file that no
    telemetry car was matched to get laps from the sections alone (``vehicle_id``
    missing; lap end from ``HOUR`` on the race date).

    Args:
        race_id: The race.
        laps: From ``lap_frame``.
        numbers: Car number by ``vehicle_id`` (resolved ones only).
        sections: From ``timing.read_sections``, or ``None``.
        race_date_utc: Midnight UTC of the race date, for sections-only cars (their
            lap start and end are missing without it).
    """
    sec = sections if sections is not None else pl.DataFrame(schema=SECTIONS_FRAME)
    mapping = pl.DataFrame({"vehicle_id": list(numbers), "car_number": list(numbers.values())},
                           schema={"vehicle_id": pl.String, "car_number": pl.Int64})
    if laps.height:
        base = laps.join(mapping, on="vehicle_id", how="left")
    else:
        base = pl.DataFrame(schema={"vehicle_id": pl.String, "lap": pl.Int64,
                                    "car_number": pl.Int64})
    base = base.join(sec, on=["car_number", "lap"], how="left")
    base = base.with_columns(
        pl.coalesce("lap_time_s", "logged_lap_time_s",
                    (pl.col("lap_end") - pl.col("lap_start")).dt.total_microseconds() / 1e6)
        .alias("lap_time_s") if "lap_start" in base.columns else pl.col("lap_time_s")
    )
    orphan_numbers = set(sec["car_number"].to_list()) - set(numbers.values())
    orphans = sec.filter(pl.col("car_number").is_in(sorted(orphan_numbers)))
    if orphans.height:
        midnight = race_date_utc if race_date_utc is not None else pl.lit(None, dtype=UTC_TIME)
        orphans = orphans.with_columns(
            pl.lit(None, dtype=pl.String).alias("vehicle_id"),
            (midnight + pl.duration(microseconds=(pl.col("hour_s") * 1e6).cast(pl.Int64)))
            .alias("lap_end"),
            pl.lit(False).alias("repaired"),
        ).with_columns(
            (pl.col("lap_end") - pl.duration(
                microseconds=(pl.col("lap_time_s") * 1e6).cast(pl.Int64))).alias("lap_start")
        )
        base = pl.concat([base, orphans], how="diagonal_relaxed")
    return _to_schema(base.with_columns(pl.lit(race_id).alias("race_id")))


def _to_schema(frame: pl.DataFrame) -> pl.DataFrame:
    out = []
    for name, dtype in LAPS.items():
        if name in frame.columns:
            out.append(pl.col(name).cast(dtype))
        else:
            out.append(pl.lit(None, dtype=dtype).alias(name))
    return (
        frame.select(out)
        .with_columns(pl.col("in_pit").fill_null(False), pl.col("repaired").fill_null(False))
        .sort("car_number", "vehicle_id", "lap", nulls_last=True)
    )


__all__ = ["MAX_LAP", "build_laps", "lap_frame", "repair_events", "repair_lap_sequence"]
