"""Ground truth of a simulated race, written as Parquet beside the race files.

Files in ``truth/``, one set per session (``R1_laps.parquet`` ...):

* ``<S>_race.parquet``: one row: ids, date, green-flag time, duration, what was written.
* ``<S>_cars.parquet``: per car: number (text), driver id, chassis, true and written
  vehicle ids and written ``vehicle_number``, class, team, grid, status, the driver's
  style parameters, the ECU clock (``ecu_offset_s``: ECU clock minus real time at the
  green flag, s, about -1.6 to -3.4 days; ``ecu_drift_ppm``: its rate error, so the
  offset at race time t is ``ecu_offset_s + t * ecu_drift_ppm * 1e-6``), which quirks
  hit the car.
* ``<S>_laps.parquet``: per car and lap: the lap number each lap file wrote
  (``lap_in_start_file``, ``lap_in_end_file``, ``lap_in_time_file``; impossible where the
  lap-file quirk hit), lap start/end (race seconds and UTC), lap time and each of its
  terms (``base_s`` .. ``pit_s``), tyre age, grip and wear rate, fuel used and left,
  position, overtakes made and suffered, flag, pit in/out, track temperature.
* ``<S>_cautions.parquet``, ``<S>_pit_stops.parquet``, ``<S>_faults.parquet``: the events,
  with faults' start and end as laps and as race seconds and their channels; a
  caution's ``first_share`` and ``restart_share`` (share of its first flagged lap and of
  the green-flagged lap after its last run at caution pace) and ``pace``; a stop's
  ``decided`` (from a branch's decision), ``position_before`` (at the crossing before
  the in-lap; grid slot on lap 1), ``rejoin_position`` (at the first crossing after the
  stop; null without an out-lap), ``pit_exit_s`` and the gaps at the pit exit to the
  cars just ahead and behind in race order (``gap_ahead_s``, ``gap_behind_s``; null
  when there is none), as ``stops`` measures them.

Car numbers (``car_number``, ``cause_car_number``) are text: ``"03"`` and ``"3"`` differ.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import polars as pl

from cognirace.domain.formats import chassis_vehicle_id
from cognirace.sim.car_files import CarIdentity
from cognirace.sim.engine import TERMS, RaceResult
from cognirace.sim.result import lap_positions


@dataclass(frozen=True, slots=True)
class RaceLabels:
    """What the file writers did to a race, for the truth.

    Attributes:
        lap_file_laps: Lap number written per lap file (``start``, ``end``, ``time``),
            ``[lap, car]``.
    """

    race_id: str
    start_utc: dt.datetime
    identities: list[CarIdentity]
    lap_sentinel: list[bool]
    telemetry_hz: float
    telemetry_written: bool
    channels: tuple[str, ...]
    lap_file_laps: dict[str, npt.NDArray[np.int64]]


def laps_table(race: RaceResult, labels: RaceLabels) -> pl.DataFrame:
    """Per car and completed lap, every true quantity."""
    done = race.completed()
    lap_idx, car_idx = np.nonzero(done)
    end = race.end_s[lap_idx, car_idx]
    lap_time = race.lap_time_s[lap_idx, car_idx]
    start = np.round(end - lap_time, 3)
    position = lap_positions(race.end_s)
    start_us = int(labels.start_utc.timestamp() * 1e6)
    cols: dict[str, object] = {
        "race_id": [labels.race_id] * len(lap_idx),
        "car_number": pl.Series([race.drivers[c].car_number for c in car_idx],
                                dtype=pl.String),
        "driver_id": [race.drivers[c].driver_id for c in car_idx],
        "lap": lap_idx + 1,
        **{f"lap_in_{key}_file": written[lap_idx, car_idx]
           for key, written in labels.lap_file_laps.items()},
        "lap_start_s": start,
        "lap_end_s": end,
        "lap_start_utc": pl.Series(start_us + np.round(start * 1e6).astype(np.int64)).cast(
            pl.Datetime("us", "UTC")),
        "lap_end_utc": pl.Series(start_us + np.round(end * 1e6).astype(np.int64)).cast(
            pl.Datetime("us", "UTC")),
        "lap_time_s": lap_time,
    }
    for term in TERMS:
        cols[f"{term}_s"] = race.terms[term][lap_idx, car_idx]
    cols |= {
        "tyre_age_laps": race.tyre_age_laps[lap_idx, car_idx],
        "grip": race.grip[lap_idx, car_idx],
        "deg_s_per_lap": race.deg_s_per_lap[car_idx],
        "fuel_used_l": race.fuel_used_l[lap_idx, car_idx],
        "fuel_left_l": race.fuel_left_l[lap_idx, car_idx],
        "position": position[lap_idx, car_idx].astype(np.int64),
        "n_overtakes": race.overtakes[lap_idx, car_idx],
        "n_overtaken": race.overtaken[lap_idx, car_idx],
        "caution": race.caution_lap[lap_idx, car_idx],
        "pit_in": race.pit_in[lap_idx, car_idx],
        "pit_out": race.pit_out[lap_idx, car_idx],
        "stationary_s": race.stationary_s[lap_idx, car_idx],
        "track_temp_c": race.weather.track_temp_at(end),
    }
    return pl.DataFrame(cols).sort("car_number", "lap")


def cars_table(race: RaceResult, labels: RaceLabels) -> pl.DataFrame:
    """Per car: identity, style and the quirks applied."""
    grid_pos = np.empty(race.n_cars, dtype=np.int64)
    grid_pos[race.grid] = np.arange(1, race.n_cars + 1)
    rows = []
    for c, d in enumerate(race.drivers):
        ident = labels.identities[c]
        rows.append({
            "race_id": labels.race_id, "car_number": d.car_number, "driver_id": d.driver_id,
            "chassis": d.chassis, "vehicle_id": chassis_vehicle_id(d.chassis, d.car_number),
            "vehicle_id_written": ident.vehicle_id,
            "vehicle_number_written": ident.vehicle_number, "class": d.car_class,
            "team": d.team, "group": d.group, "grid": int(grid_pos[c]),
            "status": race.status[c],
            "laps": int(race.laps_done[c]), **asdict(d.style),
            "consistency_s": d.consistency_s, "p_error_per_lap": d.p_error_per_lap,
            "tyre_wear_factor": d.tyre_wear_factor, "fuel_factor": d.fuel_factor,
            "racecraft": d.racecraft, "deg_s_per_lap": float(race.deg_s_per_lap[c]),
            "ecu_offset_s": ident.ecu_offset_s, "ecu_drift_ppm": ident.ecu_drift_ppm,
            "lap_sentinel": labels.lap_sentinel[c],
        })
    return pl.DataFrame(rows, schema_overrides={"car_number": pl.String})


def _leader_time(race: RaceResult, lap: int) -> float:
    col = race.end_s[lap - 1] if 0 < lap <= race.end_s.shape[0] else np.array([np.nan])
    return float(np.nanmin(col)) if np.isfinite(col).any() else float("nan")


def events_tables(race: RaceResult, labels: RaceLabels) -> dict[str, pl.DataFrame]:
    """Cautions, pit stops and faults."""
    num = [d.car_number for d in race.drivers]
    rid = labels.race_id
    cautions = pl.DataFrame(
        [{"race_id": rid, "caution_id": i + 1, "start_lap": c.start_lap, "end_lap": c.end_lap,
          "start_s": _leader_time(race, c.start_lap - 1) if c.start_lap > 1 else 0.0,
          "end_s": _leader_time(race, c.end_lap), "cause_car_number": num[c.cause_car],
          "first_share": c.first_share, "restart_share": c.restart_share, "pace": c.pace}
         for i, c in enumerate(race.cautions)],
        schema={"race_id": pl.String, "caution_id": pl.Int64, "start_lap": pl.Int64,
                "end_lap": pl.Int64, "start_s": pl.Float64, "end_s": pl.Float64,
                "cause_car_number": pl.String, "first_share": pl.Float64,
                "restart_share": pl.Float64, "pace": pl.Float64},
    )
    stops = pl.DataFrame(
        [{"race_id": rid, "car_number": num[p.car], "lap": p.lap, "reason": p.reason,
          "stationary_s": p.stationary_s, "pit_time_s": p.pit_time_s, "new_tyres": p.new_tyres,
          "decided": p.decided, "position_before": p.position_before,
          "rejoin_position": p.rejoin_position, "pit_exit_s": p.pit_exit_s,
          "gap_ahead_s": p.gap_ahead_s, "gap_behind_s": p.gap_behind_s}
         for p in race.pit_stops],
        schema={"race_id": pl.String, "car_number": pl.String, "lap": pl.Int64,
                "reason": pl.String, "stationary_s": pl.Float64, "pit_time_s": pl.Float64,
                "new_tyres": pl.Boolean, "decided": pl.Boolean, "position_before": pl.Int64,
                "rejoin_position": pl.Int64, "pit_exit_s": pl.Float64,
                "gap_ahead_s": pl.Float64, "gap_behind_s": pl.Float64},
    )
    fault_rows = []
    for f in race.faults:
        last = min(f.end_lap, int(race.laps_done[f.car]))
        fault_rows.append({
            "race_id": rid, "car_number": num[f.car], "kind": f.kind,
            "mechanical": f.lap_loss_s > 0, "start_lap": f.start_lap, "end_lap": last,
            "start_s": float(race.end_s[f.start_lap - 2, f.car]) if f.start_lap > 1 else 0.0,
            "end_s": float(race.end_s[last - 1, f.car]), "channels": ",".join(f.channels),
            "magnitude": f.magnitude, "lap_loss_s": f.lap_loss_s,
            "in_telemetry": labels.telemetry_written and all(
                ch in labels.channels for ch in f.channels),
        })
    faults = pl.DataFrame(
        fault_rows,
        schema={"race_id": pl.String, "car_number": pl.String, "kind": pl.String,
                "mechanical": pl.Boolean, "start_lap": pl.Int64, "end_lap": pl.Int64,
                "start_s": pl.Float64, "end_s": pl.Float64, "channels": pl.String,
                "magnitude": pl.Float64, "lap_loss_s": pl.Float64, "in_telemetry": pl.Boolean},
    )
    return {"cautions": cautions, "pit_stops": stops, "faults": faults}


def write_truth(folder: Path, race: RaceResult, labels: RaceLabels) -> list[Path]:
    """Write every truth table of a race into ``folder``; returns the paths."""
    folder.mkdir(parents=True, exist_ok=True)
    cfg = race.config
    race_row = pl.DataFrame([{
        "race_id": labels.race_id, "track": cfg.track, "session": cfg.session,
        "meta_event": cfg.meta_event, "date": cfg.race_date, "start_utc": labels.start_utc,
        "duration_s": cfg.duration_s, "finish_s": race.finish_s, "n_cars": race.n_cars,
        "telemetry_hz": labels.telemetry_hz, "telemetry_written": labels.telemetry_written,
        "channels": ",".join(labels.channels) if labels.telemetry_written else "",
    }])
    tables = {"race": race_row, "cars": cars_table(race, labels),
              "laps": laps_table(race, labels), **events_tables(race, labels)}
    paths = []
    for name, frame in tables.items():
        path = folder / f"{cfg.session}_{name}.parquet"
        frame.write_parquet(path, statistics=False)
        paths.append(path)
    return paths


__all__ = ["RaceLabels", "cars_table", "events_tables", "laps_table", "write_truth"]
