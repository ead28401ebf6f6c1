"""Pictures of a simulated race: GPS track map, speed trace, lap-time chart (PNG)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from cognirace.domain.formats import FileKind, timing_file_name
from cognirace.domain.laptime import parse_duration_s
from cognirace.domain.tracks import track_from_name
from cognirace.errors import DataError


def _telemetry(race_dir: Path, session: str) -> pl.DataFrame | None:
    """One row per sample (``vehicle_id``, ECU ``timestamp``), in time order."""
    found = [p for p in race_dir.glob("*telemetry*.csv") if session in p.name]
    if not found:
        return None
    wanted = ["speed", "VBOX_Lat_Min", "VBOX_Long_Minutes", "Laptrigger_lapdist_dls"]
    return (
        pl.scan_csv(found[0], schema_overrides={"telemetry_value": pl.Float64})
        .filter(pl.col("telemetry_name").is_in(wanted))
        .select("vehicle_id", "lap", "timestamp", "telemetry_name", "telemetry_value")
        .collect()
        .pivot(on="telemetry_name", index=["vehicle_id", "lap", "timestamp"],
               values="telemetry_value", aggregate_function="first")
        .sort("vehicle_id", "timestamp")
    )


def _laps(race_dir: Path, session: str) -> pl.DataFrame:
    path = race_dir / timing_file_name(FileKind.SECTIONS, int(session[1]))
    if not path.exists():
        raise DataError("no sections file in the race folder", path=path,
                        hint="point to a folder written by cognirace simulate")
    frame = pl.read_csv(path, separator=";", infer_schema=False)
    frame = frame.rename({c: c.strip() for c in frame.columns})
    return frame.select(
        pl.col("NUMBER").str.strip_chars(),
        pl.col("LAP_NUMBER").cast(pl.Int64),
        pl.col("LAP_TIME").map_elements(parse_duration_s, return_dtype=pl.Float64)
        .alias("lap_time_s"),
        pl.col("FLAG_AT_FL"),
    )


def plot_race(race_dir: Path, session: str, out: Path) -> Path:
    """Draw the map, the speed trace of one car's fastest lap and every car's lap times."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    laps = _laps(race_dir, session)
    tel = _telemetry(race_dir, session)
    track = track_from_name(str(race_dir))
    fig, axes = plt.subplots(1, 3, figsize=(18, 5.5))
    if tel is not None and "VBOX_Lat_Min" in tel.columns:
        one = tel.filter(pl.col("vehicle_id") == tel["vehicle_id"][0])
        axes[0].scatter(one["VBOX_Long_Minutes"], one["VBOX_Lat_Min"], c=one["speed"], s=2,
                        cmap="viridis")
        axes[0].set_aspect("equal", adjustable="datalim")
        axes[0].set_title("Track map from GPS (colour = speed)")
    else:
        axes[0].text(0.5, 0.5, "no GPS at this track", ha="center")
    if tel is not None:
        car = tel["vehicle_id"][0]
        one = (tel.filter((pl.col("vehicle_id") == car) & (pl.col("lap") == 3))
               .with_columns(pl.col("Laptrigger_lapdist_dls").forward_fill())  # slow channels
               .drop_nulls(["Laptrigger_lapdist_dls", "speed"]))
        axes[1].plot(one["Laptrigger_lapdist_dls"], one["speed"], lw=1)
        axes[1].set_xlabel("lap distance (m)")
        axes[1].set_ylabel("speed (km/h)")
        axes[1].set_title(f"Speed trace, {car}, lap 3")
    for (number,), grp in laps.group_by("NUMBER", maintain_order=True):
        axes[2].plot(grp["LAP_NUMBER"], grp["lap_time_s"], lw=0.8, label=str(number))
    fcy = laps.filter(pl.col("FLAG_AT_FL") == "FCY")["LAP_NUMBER"].unique()
    for lap in fcy:
        axes[2].axvspan(lap - 0.5, lap + 0.5, color="gold", alpha=0.3)
    times = laps["lap_time_s"].drop_nulls().to_numpy()
    axes[2].set_ylim(float(times.min()) * 0.98, float(np.median(times)) * 1.5)
    axes[2].set_xlabel("lap")
    axes[2].set_ylabel("lap time (s)")
    axes[2].set_title("Lap times (yellow = full-course yellow)")
    fig.suptitle(f"{track.name if track else race_dir.name} {session}")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return out


__all__ = ["plot_race"]
