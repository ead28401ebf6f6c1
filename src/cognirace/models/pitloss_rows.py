"""Pit stops as examples: the time each stop cost, from the timing files alone.

The label of a stop is its in-lap plus its out-lap, minus what the car would have run
on those two laps without stopping. On a lap that ended green that is the car's green
pace before the stop (``pace_median3_s``; the car's median green lap of the race when
the stop came before it had three). On a lap that ended under a full-course yellow, or
followed one (the restart lap, flagged green but run largely at caution pace), the
whole field ran slowly, so the reference is the median lap of the cars not in the pit
lane on that lap: measured against green pace, a yellow stop would be charged the
caution's own slowness, which staying out costs as much.

The stop kind (``tire_change``: the car gets new tires, for a tire change or a repair,
rather than a drive-through; ``repair``: the stop is a damage repair, which stands
longer than a plain tire change) is what the team plans before the stop. It must not come
from the stop's own pit-lane time: that time is most of the label, so a kind read from
it (a long stop is a tire change) would tell the model the answer. The simulator's
truth records each stop's service (``pit_stops.new_tyres`` and its ``reason``, a
repair being ``damage``); real timing records none,
and nothing else in it tells a planned tire change from a long drive-through (the
car's pace after the stop does not: in the simulated seasons it changes by as little
after new tires as after a drive-through), so on real races the kind is null and the
model says it answered without it.
"""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl

from cognirace.domain.formats import FLAG_CAUTION
from cognirace.models.task import truth_by_car

KEYS: tuple[str, ...] = ("race_id", "car_number", "lap")
TARGET = "pit_loss_s"
KIND = "tire_change"
REPAIR = "repair"
CAR = ["race_id", "car_number"]


def _with_references(features: pl.DataFrame) -> pl.DataFrame:
    """Add each lap's next lap, the car's fallback pace and the field's median laps.

    A car is the table's timing car (``race_id, car_number``), whether logged or not.
    """
    laps = features.sort(*CAR, "lap").with_columns(
        out_time_s=pl.col("lap_time_s").shift(-1).over(CAR),
        out_flag=pl.col("flag").shift(-1).over(CAR),
        next_is_out=pl.col("out_lap").shift(-1).over(CAR).fill_null(False),
        race_pace_s=pl.col("lap_time_s").filter(pl.col("green_lap")).median().over(CAR),
    )
    field = (laps.filter(~pl.col("in_pit") & ~pl.col("out_lap"))
             .group_by("race_id", "lap").agg(field_lap_s=pl.col("lap_time_s").median()))
    after = field.with_columns(pl.col("lap") - 1).rename({"field_lap_s": "field_out_s"})
    return (laps.join(field, on=["race_id", "lap"], how="left")
            .join(after, on=["race_id", "lap"], how="left"))


def stop_kinds(truth: Mapping[str, pl.DataFrame] | None) -> pl.DataFrame:
    """The planned service of each stop the truth records: keys, ``tire_change`` and
    ``repair``.

    Empty (no stop known) without truth, or when its ``pit_stops`` table is empty.
    """
    schema = {"race_id": pl.String, "car_number": pl.String, "lap": pl.Int32,
              KIND: pl.Boolean, REPAIR: pl.Boolean}
    if truth is None or truth.get("pit_stops") is None or truth["pit_stops"].is_empty():
        return pl.DataFrame(schema=schema)
    stops = truth_by_car(truth, "pit_stops")
    return (stops.select("race_id", "car_number", pl.col("lap").cast(pl.Int32),
                         pl.col("new_tyres").cast(pl.Boolean).alias(KIND),
                         (pl.col("reason") == "damage").alias(REPAIR))
            .unique(list(KEYS), keep="first"))


def planned_tire_change(track: str, caution: bool) -> pl.DataFrame:
    """The ``pitloss`` question a strategy asks: a planned tire change (not a repair)
    at ``track``, under caution or green; one row, the same for every car and lap."""
    return pl.DataFrame({"track": [track], "caution": [caution], KIND: [True],
                         REPAIR: [False]})


def pit_stop_rows(features: pl.DataFrame,
                  truth: Mapping[str, pl.DataFrame] | None = None) -> pl.DataFrame:
    """One row per pit stop of the lap feature table, with its loss (see the module doc).

    A stop is an ``in_pit`` lap followed by the car's out-lap; a car that retired in
    the pits, or a stop without a reference, has no row. ``truth`` (simulated races)
    gives each stop's planned kind; without it the kind (both columns) is null.

    Returns:
        Keys, ``track``, the inputs, ``pit_loss_s`` and, for reading, ``vehicle_id``,
        ``flag`` (in-lap), ``out_flag``, ``pit_time_s`` and the reference
        ``ref_in_s``/``ref_out_s`` (s).
    """
    pace = pl.coalesce("pace_median3_s", "race_pace_s")
    in_fcy = pl.col("flag") == FLAG_CAUTION
    ref_in = pl.when(in_fcy | pl.col("prev_fcy")).then(pl.col("field_lap_s")).otherwise(pace)
    ref_out = pl.when((pl.col("out_flag") == FLAG_CAUTION) | in_fcy) \
        .then(pl.col("field_out_s")).otherwise(pace)
    stops = (_with_references(features)
             .filter(pl.col("in_pit") & pl.col("next_is_out"))
             .with_columns(caution=(pl.col("flag") == FLAG_CAUTION).fill_null(False),
                           ref_in_s=ref_in, ref_out_s=ref_out))
    stops = stops.with_columns((pl.col("lap_time_s") + pl.col("out_time_s")
                                - pl.col("ref_in_s") - pl.col("ref_out_s")).alias(TARGET))
    kinds = stop_kinds(truth)
    return (stops.filter(pl.col(TARGET).is_not_null())
            .select(*KEYS, "vehicle_id", "track", "caution", TARGET, "flag", "out_flag",
                    "pit_time_s", "ref_in_s", "ref_out_s")
            .join(kinds, on=list(KEYS), how="left")
            .select(*KEYS, "vehicle_id", "track", "caution", KIND, REPAIR, TARGET, "flag",
                    "out_flag", "pit_time_s", "ref_in_s", "ref_out_s")
            .sort(KEYS))


__all__ = ["KEYS", "KIND", "REPAIR", "TARGET", "pit_stop_rows", "planned_tire_change",
           "stop_kinds"]
