"""Lap features from a live stream, one lap at a time, with the batch table's code.

A ``LiveFeatureBuilder`` follows one race. It is fed telemetry samples (rows of the
lake's telemetry schema), weather rows and lap completions (rows of the lake's laps
schema), in the order they happen. When a car completes a lap it aggregates that lap's
buffered samples with ``aggregate_telemetry`` and runs ``build_lap_features`` over the
race's laps so far, then returns the row of the lap just completed. Because batch
features only use laps that ended before the row's own lap, the live row equals the
batch row.

Cars are timing cars, as in the batch table: a completion names its car by
``car_number``. Samples come from the loggers and name theirs by ``vehicle_id``; they
belong to the car whose laps carry that ``vehicle_id``, and are aggregated when that
car completes the sample's lap. A car whose laps carry no ``vehicle_id`` has no
telemetry features (null), whatever samples arrive.

Feed completions in ``lap_end`` order (ties by ``car_number``), weather rows before a
lap that ends at or after their time, and a lap's samples before its completion:
samples that arrive for a lap already completed are counted in ``n_late_samples`` and
ignored. The cost of a completion grows with the laps received so far (a few
milliseconds for a full race).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Any

import polars as pl

from cognirace.errors import DataError
from cognirace.features.field import RACE_DURATION_S
from cognirace.features.table import build_lap_features
from cognirace.features.telemetry import aggregate_telemetry
from cognirace.lake.schema import LAPS, TELEMETRY, WEATHER

LapKey = tuple[str, int]
"""A car's lap: ``(car_number, lap)`` for a completion, ``(vehicle_id, lap)`` for samples."""


def _row(values: Mapping[str, Any], schema: pl.Schema, race_id: str, what: str
         ) -> dict[str, Any]:
    """The row's values in schema order, race id filled in; refuse another race's row."""
    given = values.get("race_id", race_id)
    if given != race_id:
        raise DataError(f"{what} of another race", value=given,
                        hint=f"this builder follows race {race_id!r}")
    row = {name: values.get(name) for name in schema.names()}
    row["race_id"] = race_id
    return row


class LiveFeatureBuilder:
    """The lap feature rows of one race, built as its laps complete.

    Args:
        race_id: The race (as in the lake).
        track: Track key (``barber``).
        session: ``R1`` or ``R2``.
        race_duration_s: Timed length of the race, s.
    """

    def __init__(self, race_id: str, track: str, session: str, *,
                 race_duration_s: float = RACE_DURATION_S) -> None:
        self.race_id = race_id
        self.race_duration_s = race_duration_s
        self._race = pl.DataFrame({"race_id": [race_id], "track": [track],
                                   "session": [session]})
        self._laps: list[dict[str, Any]] = []
        self._weather: list[dict[str, Any]] = []
        self._samples: dict[LapKey, list[dict[str, Any]]] = defaultdict(list)
        self._telemetry_laps: list[pl.DataFrame] = []
        self._completed: set[LapKey] = set()
        self._logged_completed: set[LapKey] = set()
        self.n_late_samples = 0
        """Samples received for a lap that had already completed (ignored)."""

    def add_sample(self, sample: Mapping[str, Any]) -> None:
        """Buffer one telemetry sample (a row of the lake's telemetry schema)."""
        row = _row(sample, TELEMETRY, self.race_id, "telemetry sample")
        if row["vehicle_id"] is None or row["lap"] is None:
            raise DataError("a telemetry sample needs vehicle_id and lap", value=sample,
                            hint="pass rows of the lake's telemetry schema")
        key = (str(row["vehicle_id"]), int(row["lap"]))
        if key in self._logged_completed:
            self.n_late_samples += 1
            return
        self._samples[key].append(row)

    def add_samples(self, samples: pl.DataFrame) -> None:
        """Buffer many samples at once, in their order (e.g. a batch from a stream)."""
        for sample in samples.iter_rows(named=True):
            self.add_sample(sample)

    def add_weather(self, row: Mapping[str, Any]) -> None:
        """Record one weather row (the lake's weather schema)."""
        self._weather.append(_row(row, WEATHER, self.race_id, "weather row"))

    def complete_lap(self, lap: Mapping[str, Any]) -> pl.DataFrame:
        """Record a completed lap and return its feature row.

        Args:
            lap: The lap-timing fields of a lake ``laps`` row; ``car_number`` (the
                timing car), ``lap`` and ``lap_end`` are required; ``vehicle_id`` (the
                car's logger) where the car has one, else its lap has no telemetry.

        Returns:
            One row with the columns of ``CATALOGUE``.

        Raises:
            DataError: when a required field is missing, ``car_number`` is not text, or
                the lap was completed before.
        """
        row = _row(lap, LAPS, self.race_id, "lap")
        for name in ("car_number", "lap", "lap_end"):
            if row[name] is None:
                raise DataError("a completed lap needs this field", column=name,
                                hint="pass the lap-timing fields of a lake laps row; a lap "
                                     "without car_number belongs to no known car and has "
                                     "no feature row")
        if not isinstance(row["car_number"], str):
            # Polars would turn 21 into "21" silently; "021" must never arrive that way.
            raise DataError("car numbers are text", column="car_number",
                            value=row["car_number"],
                            hint="pass the number as the timing prints it, e.g. \"021\" "
                                 "(\"021\" and \"21\" are two cars)")
        key = (row["car_number"], int(row["lap"]))
        if key in self._completed:
            raise DataError("lap completed twice", value=key)
        self._completed.add(key)
        self._laps.append(row)
        if row["vehicle_id"] is not None:
            self._aggregate((str(row["vehicle_id"]), int(row["lap"])))
        return self._features_of(key)

    def _aggregate(self, logged: LapKey) -> None:
        """Turn the buffered samples of a completed lap of a logger, ``(vehicle_id, lap)``,
        into its telemetry aggregates; later samples of that lap are late."""
        self._logged_completed.add(logged)
        samples = self._samples.pop(logged, [])
        if samples:
            frame = pl.DataFrame(samples, schema=TELEMETRY)
            self._telemetry_laps.append(aggregate_telemetry(frame.lazy()).collect())

    def _features_of(self, key: LapKey) -> pl.DataFrame:
        laps = pl.DataFrame(self._laps, schema=LAPS)
        weather = pl.DataFrame(self._weather, schema=WEATHER)
        telemetry = (pl.concat(self._telemetry_laps) if self._telemetry_laps
                     else aggregate_telemetry(pl.LazyFrame(schema=TELEMETRY)).collect())
        features = build_lap_features(laps.lazy(), self._race.lazy(), weather.lazy(),
                                      telemetry.lazy(), race_duration_s=self.race_duration_s)
        car_number, lap = key
        return features.filter((pl.col("car_number") == car_number)
                               & (pl.col("lap") == lap)).collect()


__all__ = ["LiveFeatureBuilder"]
