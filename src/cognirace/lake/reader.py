"""Reading the lake: ``open_lake(path)`` gives every table as a Polars frame.

Tables are read on first use and cached; telemetry, the large table, is scanned lazily
and filtered by race and car before anything is loaded.
"""

from __future__ import annotations

import json
from functools import cached_property
from pathlib import Path
from typing import Any

import polars as pl

from cognirace.errors import DataError
from cognirace.lake.layout import LakeLayout
from cognirace.lake.schema import TELEMETRY, empty


class Lake:
    """A read-only view of one lake folder.

    Use ``open_lake`` to get one. Frames have the schemas of ``cognirace.lake.schema``.
    """

    def __init__(self, root: Path) -> None:
        self.layout = LakeLayout(root)

    @property
    def root(self) -> Path:
        """The lake folder."""
        return self.layout.root

    def _table(self, name: str) -> pl.DataFrame:
        path = self.layout.table(name)
        return pl.read_parquet(path) if path.exists() else empty(name)

    @cached_property
    def races(self) -> pl.DataFrame:
        """One row per race: ``race_id, track, session, event, date, source_dir``."""
        return self._table("races")

    @cached_property
    def cars(self) -> pl.DataFrame:
        """One row per car and race, with chassis and car number."""
        return self._table("cars")

    @cached_property
    def laps(self) -> pl.DataFrame:
        """One row per car and lap, with times, sectors, flag and pit information."""
        return self._table("laps")

    @cached_property
    def results(self) -> pl.DataFrame:
        """Official results, one row per car and race."""
        return self._table("results")

    @cached_property
    def weather(self) -> pl.DataFrame:
        """Weather, about one row a minute per race."""
        return self._table("weather")

    @property
    def race_ids(self) -> list[str]:
        """Every race in the lake, sorted."""
        return sorted(self.races["race_id"].to_list())

    def scan_telemetry(self, race_id: str | None = None,
                       vehicle_id: str | None = None) -> pl.LazyFrame:
        """Telemetry as a lazy frame, optionally for one race and one car.

        Args:
            race_id: Only this race (its partition alone is scanned).
            vehicle_id: Only this car.
        """
        races = [race_id] if race_id is not None else self.race_ids
        files: list[str] = []
        for rid in races:
            folder = self.layout.telemetry_dir(rid)
            if vehicle_id is not None:
                one = self.layout.telemetry_file(rid, vehicle_id)
                files.extend([str(one)] if one.exists() else [])
            elif folder.is_dir():
                files.extend(str(p) for p in sorted(folder.glob("*.parquet")))
        if not files:
            return empty("telemetry").lazy()
        return pl.scan_parquet(files, schema=TELEMETRY, hive_partitioning=False)

    def telemetry(self, race_id: str | None = None,
                  vehicle_id: str | None = None) -> pl.DataFrame:
        """Telemetry loaded into memory; prefer one race and one car."""
        return self.scan_telemetry(race_id, vehicle_id).collect()

    def report(self, race_id: str) -> dict[str, Any]:
        """The quality report of one race, as saved by ingest.

        Raises:
            DataError: when the race has no report.
        """
        path = self.layout.report(race_id)
        if not path.exists():
            raise DataError("no quality report for this race", path=path, value=race_id,
                            hint="ingest the race first")
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return data

    def summary(self) -> pl.DataFrame:
        """Per race: cars, laps, telemetry samples."""
        cars = self.cars.group_by("race_id").agg(pl.len().alias("n_cars"))
        laps = self.laps.group_by("race_id").agg(pl.len().alias("n_laps"))
        samples = (self.scan_telemetry().group_by("race_id").agg(pl.len().alias("n_samples"))
                   .collect())
        return (
            self.races.select("race_id", "track", "session", "date")
            .join(cars, on="race_id", how="left")
            .join(laps, on="race_id", how="left")
            .join(samples, on="race_id", how="left")
            .with_columns(pl.col("n_cars", "n_laps", "n_samples").fill_null(0).cast(pl.Int64))
            .sort("race_id")
        )


def open_lake(path: str | Path) -> Lake:
    """Open a lake folder written by ``cognirace ingest``.

    Raises:
        DataError: when the folder does not exist.
    """
    root = Path(path)
    if not root.is_dir():
        raise DataError("no lake at this path", path=root,
                        hint="run `cognirace ingest SRC --lake DIR` first")
    return Lake(root)


__all__ = ["Lake", "open_lake"]
