"""Lap features from a live stream, one lap at a time, with the batch table's code.

A ``LiveFeatureBuilder`` follows one race. It is fed telemetry samples (rows of the
lake's telemetry schema), weather rows and lap completions (rows of the lake's laps
schema), in the order they happen. When a car completes a lap it aggregates that lap's
buffered samples with ``aggregate_telemetry``, runs the steps of ``build_lap_features``
(``add_car_history``, ``add_field_context``, ``finish_lap_features``) over the few laps
the new lap reads (``live_context``) and returns the new lap's row. Because batch
features only use laps that ended before the row's own lap, and only a bounded part of
those, the live row equals the batch row (but for one case of laps ending at the same
instant, see ``live_context``), and a completion costs the same late in a race as early:
about 5 ms, and 5 ms more to aggregate a lap of telemetry at 2 Hz
(``bench/live_features.py``).

Cars are timing cars, as in the batch table: a completion names its car by
``car_number``. Samples come from the loggers and name theirs by ``vehicle_id``; they
belong to the car whose laps carry that ``vehicle_id``, and are aggregated when that
car completes the sample's lap. A car whose laps carry no ``vehicle_id`` has no
telemetry features (null), whatever samples arrive.

Feed completions in ``lap_end`` order (ties by ``car_number``), weather rows before a
lap that ends at or after their time, and a lap's samples before its completion.
Samples that arrive for a lap already completed are counted in ``n_late_samples`` and
ignored. A completion that arrives after a later-ending lap of another car is counted
in ``n_late_laps`` and still computed, from the laps received: its row, and those
emitted before it arrived, may differ from the batch table's. A completion after a
later lap of its own car is refused. Weather rows older than the last one a completed
lap saw are dropped, since no later lap can see them.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Mapping
from concurrent.futures import Executor, Future
from typing import Any, Final

import polars as pl

from cognirace.errors import DataError
from cognirace.features.chunks import split_by
from cognirace.features.field import RACE_DURATION_S
from cognirace.features.live_context import RaceContext
from cognirace.features.table import finish_lap_features
from cognirace.features.telemetry import aggregate_telemetry
from cognirace.lake.schema import LAPS, TELEMETRY, WEATHER

LapKey = tuple[str, int]
"""A car's lap: ``(car_number, lap)`` for a completion, ``(vehicle_id, lap)`` for samples."""

OPEN_LAPS: Final = 3
"""Laps of a logger buffered at once (the one running, the next, and one spare for a
sample with a wrong lap number); a newer lap evicts the oldest."""

ENGINE: Final = "in-memory"
"""Polars engine for a completion's queries, which read a few rows: the default
streaming engine takes about twice as long on them. The rows are the same to the bit
(the live tests compare them with the batch table's, built on the default engine)."""


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


_Chunks = list[pl.DataFrame | list[dict[str, Any]]]
_Summary = tuple[pl.DataFrame, pl.DataFrame, Any]
"""A lap's samples as one frame, its ``aggregate_telemetry`` row, and ``also`` of them."""


def _rows(chunks: _Chunks) -> int:
    return sum(c.height if isinstance(c, pl.DataFrame) else len(c) for c in chunks)


def _one_frame(chunks: _Chunks) -> pl.DataFrame:
    # one chunk: the queries run twice as fast on it as on a frame's worth each
    return pl.concat([c if isinstance(c, pl.DataFrame) else pl.DataFrame(c, schema=TELEMETRY)
                      for c in chunks], rechunk=True)


def _summarise(chunks: _Chunks, also: Callable[[pl.DataFrame], Any] | None) -> _Summary:
    """A lap's samples summarised: the same call whether on the side thread or not."""
    frame = _one_frame(chunks)
    # the default engine: on a lap of samples it is twice as fast as in-memory
    telemetry = aggregate_telemetry(frame.lazy()).collect()
    return frame, telemetry, None if also is None else also(frame)


def _also_of(chunks: _Chunks, also: Callable[[pl.DataFrame], Any]) -> Any:
    return also(_one_frame(chunks))


class LiveFeatureBuilder:
    """The lap feature rows of one race, built as its laps complete.

    Args:
        race_id: The race (as in the lake).
        track: Track key (``barber``).
        session: ``R1`` or ``R2``.
        race_duration_s: Timed length of the race, s.
        side: Where to summarise a logger's lap once the logger has moved on to the next
            one, ahead of the lap's crossing (a live engine's side thread); None
            summarises at the crossing. The row is the same either way: a sample of the
            lap that arrives after the summary started makes the crossing summarise
            again.
        also: More to compute on a completed lap's samples with its summary (the
            driver's style), read with ``completed_also``.
    """

    def __init__(self, race_id: str, track: str, session: str, *,
                 race_duration_s: float = RACE_DURATION_S,
                 side: Executor | None = None,
                 also: Callable[[pl.DataFrame], Any] | None = None) -> None:
        self.race_id = race_id
        self.race_duration_s = race_duration_s
        self._race = {"track": track, "session": session}
        self._context = RaceContext(race_duration_s)
        self._weather: list[dict[str, Any]] = []
        self._weather_frame: pl.DataFrame | None = None
        self._samples: dict[LapKey, list[pl.DataFrame | list[dict[str, Any]]]] = \
            defaultdict(list)
        """Each open lap's samples in arrival order: frames of a stream, runs of rows."""
        self._telemetry: dict[LapKey, pl.DataFrame] = {}
        self._last_lap: dict[str, tuple[int, pl.DataFrame, Any]] = {}
        """Each logger's last completed lap: its number, samples and ``also`` of them."""
        self._side = side
        self._also = also
        self._summaries: dict[LapKey, tuple[int, Future[_Summary], Future[Any] | None]] = {}
        """Laps summarised ahead of their crossing, with the samples they hold: the
        summary, and ``also`` of them apart (a crossing's row does not wait for it)."""
        self._no_telemetry = aggregate_telemetry(pl.LazyFrame(schema=TELEMETRY)).collect()
        self._completed: set[LapKey] = set()
        self._logged_completed: set[LapKey] = set()
        self.n_late_samples = 0
        """Samples received for a lap that had already completed (ignored)."""
        self.n_evicted_samples = 0
        """Samples of a lap dropped before it completed, its logger ``OPEN_LAPS`` laps on."""
        self.n_late_laps = 0
        """Completions received after a lap of another car that ended later (computed)."""

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
        new = key not in self._samples
        chunks = self._samples[key]
        if chunks and isinstance(chunks[-1], list):
            chunks[-1].append(row)
        else:
            chunks.append([row])
        if new:
            self._evict(key[0])

    def add_samples(self, samples: pl.DataFrame) -> None:
        """Buffer many samples at once (a stream's frame), each lap's in their order.

        Raises:
            DataError: A sample lacks ``vehicle_id`` or ``lap``.
        """
        if samples.is_empty():
            return
        if "race_id" in samples.columns and (samples["race_id"] != self.race_id).any():
            raise DataError("telemetry sample of another race",
                            value=samples["race_id"].unique().to_list()[:3],
                            hint=f"this builder follows race {self.race_id!r}")
        for name in ("vehicle_id", "lap"):
            if name not in samples.columns or samples[name].null_count():
                raise DataError("a telemetry sample needs vehicle_id and lap", column=name,
                                hint="pass rows of the lake's telemetry schema")
        as_lake = samples.schema == TELEMETRY and not samples["race_id"].null_count()
        typed = samples if as_lake else samples.select(
            pl.lit(self.race_id, dtype=TELEMETRY["race_id"]).alias(name) if name == "race_id"
            else pl.col(name).cast(dtype) if name in samples.columns
            else pl.lit(None, dtype=dtype).alias(name) for name, dtype in TELEMETRY.items())
        newest: dict[str, int] = {}
        for (vehicle, lap), part in split_by(typed, ("vehicle_id", "lap")):
            key = (str(vehicle), int(lap))
            if key in self._logged_completed:
                self.n_late_samples += part.height
            elif key in self._samples:
                self._samples[key].append(part)
            else:
                self._samples[key] = [part]
                self._evict(key[0])
            newest[key[0]] = max(key[1], newest.get(key[0], key[1]))
        if self._side is not None:
            for vehicle, lap in newest.items():
                self._summarise_before(vehicle, lap)

    def _summarise_before(self, vehicle_id: str, lap: int) -> None:
        """Start summarising a logger's open laps before ``lap`` on the side thread: the
        logger has moved on, so their crossing is due and their samples are most likely
        all in. The crossing uses the summary if no sample of the lap came after it."""
        assert self._side is not None
        for key, chunks in self._samples.items():
            if key[0] != vehicle_id or key[1] >= lap or key in self._summaries:
                continue
            copied = [c if isinstance(c, pl.DataFrame) else list(c) for c in chunks]
            self._summaries[key] = (
                _rows(chunks), self._side.submit(_summarise, copied, None),
                None if self._also is None else self._side.submit(_also_of, copied, self._also))
    def _evict(self, vehicle_id: str) -> None:
        """Keep at most ``OPEN_LAPS`` open laps of a logger: a logger whose car never
        crosses the line (no timing car carries it) holds no more than that."""
        open_laps = sorted(lap for vehicle, lap in self._samples if vehicle == vehicle_id)
        for lap in open_laps[:-OPEN_LAPS]:
            dropped = self._samples.pop((vehicle_id, lap))
            self._summaries.pop((vehicle_id, lap), None)
            self.n_evicted_samples += sum(len(c) if isinstance(c, list) else c.height
                                          for c in dropped)

    def completed_samples(self, vehicle_id: str, lap: int) -> pl.DataFrame | None:
        """The samples of a logger's lap, once the lap completed and until its next one
        does (the lake's telemetry columns); None without any."""
        kept = self._last_lap.get(vehicle_id)
        return kept[1] if kept is not None and kept[0] == lap else None

    def completed_also(self, vehicle_id: str, lap: int) -> Any:
        """What ``also`` gave on the samples of a logger's completed lap (as
        ``completed_samples``), or None: without ``also``, or without samples. Made
        ahead on the side thread, it may still be on its way: this waits for it."""
        kept = self._last_lap.get(vehicle_id)
        if kept is None or kept[0] != lap:
            return None
        value = kept[2]
        if isinstance(value, Future):
            try:
                value = value.result()
            except Exception:
                assert self._also is not None  # a future of it was made
                # made again on this thread, where it raises as it did there
                value = self._also(kept[1])
            self._last_lap[vehicle_id] = (kept[0], kept[1], value)
        return value

    def held_laps(self) -> int:
        """Open laps held over every logger (at most ``OPEN_LAPS`` each)."""
        return len(self._samples)

    def add_weather(self, row: Mapping[str, Any]) -> None:
        """Record one weather row (the lake's weather schema)."""
        checked = _row(row, WEATHER, self.race_id, "weather row")
        # As the lake types it (a time without zone is UTC), to compare with lap ends.
        self._weather.append(pl.DataFrame([checked], schema=WEATHER).row(0, named=True))
        self._weather_frame = None

    def complete_lap(self, lap: Mapping[str, Any]) -> pl.DataFrame:
        """Record a completed lap and return its feature row.

        Args:
            lap: The lap-timing fields of a lake ``laps`` row; ``car_number`` (the
                timing car), ``lap`` and ``lap_end`` are required; ``vehicle_id`` (the
                car's logger) where the car has one, else its lap has no telemetry.

        Returns:
            One row with the columns of ``CATALOGUE``.

        Raises:
            DataError: when a required field is missing, ``car_number`` is not text, the
                lap was completed before, or its car completed a later lap already.
        """
        frame = pl.DataFrame([self._lap_row(lap)], schema=LAPS)
        row = frame.row(0, named=True)  # as the lake types it (a time without zone is UTC)
        key = (row["car_number"], row["lap"])
        if key in self._completed:
            raise DataError("lap completed twice", value=key)
        self._context.check_order(row["car_number"], row["lap"])
        last = self._context.last_crossing
        if last is not None and (row["lap_end"], row["car_number"]) < last:
            self.n_late_laps += 1
        self._completed.add(key)
        telemetry = self._no_telemetry
        if row["vehicle_id"] is not None:
            telemetry = self._aggregate((row["vehicle_id"], row["lap"]))
        frame = frame.with_columns(
            pl.lit(value, dtype=pl.String).alias(name) for name, value in self._race.items())
        features = finish_lap_features(self._context.lap_features(frame),
                                       self._weather_rows().lazy(), telemetry.lazy()
                                       ).collect(engine=ENGINE)
        self._context.record(features)
        self._drop_weather_before(row["lap_end"])
        return features

    def _lap_row(self, lap: Mapping[str, Any]) -> dict[str, Any]:
        """The completion as a lake laps row, its required fields checked."""
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
        return row

    def _aggregate(self, logged: LapKey) -> pl.DataFrame:
        """The telemetry aggregates of a completed lap of a logger, ``(vehicle_id, lap)``,
        from its buffered samples (none without samples); later samples of that lap are
        late. Kept, should another timing car carry the same logger."""
        self._logged_completed.add(logged)
        chunks = self._samples.pop(logged, [])
        ahead = self._summaries.pop(logged, None)
        if chunks:
            summary = None
            if ahead is not None and ahead[0] == _rows(chunks):  # no sample came after
                try:
                    summary = ahead[1].result()
                except Exception:
                    # made again below, on this thread, where it raises as it did there
                    summary = None
                if summary is not None and ahead[2] is not None:
                    summary = (summary[0], summary[1], ahead[2])  # read when asked
            if summary is None:
                summary = _summarise(chunks, self._also)
            frame, telemetry, also = summary
            self._telemetry[logged] = telemetry
            self._last_lap[logged[0]] = (logged[1], frame, also)
        return self._telemetry.get(logged, self._no_telemetry)

    def _weather_rows(self) -> pl.DataFrame:
        if self._weather_frame is None:
            self._weather_frame = pl.DataFrame(self._weather, schema=WEATHER)
        return self._weather_frame

    def _drop_weather_before(self, lap_end: dt.datetime) -> None:
        """Drop the weather rows older than the last one at or before ``lap_end``: the
        laps still to come end later, so the last row before their end is that one or a
        later one."""
        seen = [r["time"] for r in self._weather if r["time"] is not None
                and r["time"] <= lap_end]
        if seen:
            last = max(seen)
            kept = [r for r in self._weather if r["time"] is None or r["time"] >= last]
            if len(kept) < len(self._weather):
                self._weather, self._weather_frame = kept, None


__all__ = ["LiveFeatureBuilder"]
