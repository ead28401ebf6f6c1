"""The caution hazard's rows: the race as it stands each time the leader crosses the line.

One row per race and leader lap. Every field value of a row comes from the laps each
car had completed by that moment (an as-of join on ``lap_end``), and the leader's own
values from its laps up to this one, so a row never reads a lap that ends after it.

The label comes from the timing files alone: the leader's ``flag`` at the line. A
caution starts on the first ``FCY`` lap after a green one; rows whose leader lap ended
under FCY are left out (the hazard is of a *new* caution), and so are the leader's
chequered lap (``FF``) and any row without race time left (no lap follows).
``laps_to_fcy_start`` counts leader laps from the row to the next start, null when none
comes before the race ends.
"""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl

from cognirace.domain.formats import FLAG_CAUTION, FLAG_FINISH
from cognirace.models.fcy_scoring import TARGET

OFF_PACE_S = 3.0
"""A car is off pace when its last lap was this much slower than its pace median, s."""

RACE = "race_id"
CAR = ("race_id", "car_number")


def _leader_laps(features: pl.DataFrame) -> pl.DataFrame:
    """The leader's crossing of each lap, with its pace, the caution history and the label.

    ``leader_pace_s`` is the leader's green pace (the median of its last three green
    laps, ``pace_median3_s``), or its last lap while it has no green lap yet: the lap
    just done may be a slow restart lap, which would make the race look shorter than it is.
    """
    fcy = pl.col("flag") == FLAG_CAUTION
    start = fcy & ~fcy.shift(1).over(RACE).fill_null(False)
    leader = (features.filter(pl.col("position") == 1).sort(RACE, "lap")
              .unique([RACE, "lap"], keep="first", maintain_order=True)
              .select(RACE, "lap", "track", "flag", "race_time_left_s",
                      pl.col("lap_end").alias("leader_end"),
                      pl.coalesce("pace_median3_s", "lap_time_s").alias("leader_pace_s")))
    last_fcy = pl.when(fcy).then(pl.col("lap")).forward_fill().over(RACE)
    next_start = pl.when(start).then(pl.col("lap")).shift(-1).backward_fill().over(RACE)
    return leader.with_columns(
        n_fcy_starts=start.cast(pl.Int32).cum_sum().over(RACE),
        laps_since_fcy=(pl.col("lap") - last_fcy.fill_null(0)).cast(pl.Int32),
        **{TARGET: (next_start - pl.col("lap")).cast(pl.Int32)},
    )


def _car_state(features: pl.DataFrame) -> pl.DataFrame:
    """Each car's laps with an off-pace flag: a clean lap > ``OFF_PACE_S`` over its pace.

    A clean lap is neither a pit lap nor under or just after a caution, nor lap 1; the
    pace is the car's green median before the lap. A car is the table's timing car
    (``race_id, car_number``): every car on track counts, with logger data or without.
    """
    clean = (~pl.col("in_pit") & ~pl.col("out_lap") & (pl.col("flag") != FLAG_CAUTION)
             & ~pl.col("prev_fcy") & (pl.col("lap") > 1)).fill_null(False)
    pace = pl.col("pace_median3_s").shift(1).over(CAR)
    return (features.sort(*CAR, "lap")
            .with_columns(off_pace=(clean & (pl.col("lap_time_s") - pace > OFF_PACE_S))
                          .fill_null(False))
            .select(*CAR, "lap_end", "gap_ahead_s", "off_pace")
            .sort("lap_end"))


def _field_at_leader(leader: pl.DataFrame, cars: pl.DataFrame) -> pl.DataFrame:
    """Field density and cars off pace from each car's last lap done when the leader crossed."""
    grid = (leader.select(RACE, "lap", "leader_end")
            .join(cars.select(CAR).unique(), on=RACE).sort("leader_end"))
    asof = grid.join_asof(cars, left_on="leader_end", right_on="lap_end",
                          by=list(CAR), strategy="backward",
                          check_sortedness=False)  # both sorted by time above
    gap = pl.col("gap_ahead_s")
    return asof.group_by(RACE, "lap").agg(
        n_cars=pl.col("lap_end").is_not_null().sum().cast(pl.Int32),
        n_close_1s=(gap < 1.0).sum().cast(pl.Int32),
        p_close_2s=((gap < 2.0).sum() / gap.is_not_null().sum().clip(lower_bound=1))
        .cast(pl.Float64),
        n_off_pace=pl.col("off_pace").fill_null(False).sum().cast(pl.Int32),
    )


ROW_INPUTS: tuple[str, ...] = (
    "lap", "race_time_left_s", "track", "leader_pace_s", "n_close_1s", "p_close_2s",
    "laps_since_fcy", "n_fcy_starts", "n_off_pace")
"""The columns of a row that a hazard model may read (``fcy.INPUTS`` declares them)."""


def fcy_rows(features: pl.DataFrame,
             truth: Mapping[str, pl.DataFrame] | None = None) -> pl.DataFrame:
    """One row per race and green leader lap with a lap to follow (see the module doc).

    ``truth`` is not used: the label is the leader's flag in the timing files.

    Returns:
        ``race_id``, the inputs (``ROW_INPUTS``), ``laps_to_fcy_start`` and, for reading,
        ``n_cars`` (timing cars with a lap done) and the leader's ``flag``.
    """
    leader = _leader_laps(features)
    field = _field_at_leader(leader, _car_state(features))
    rows = (leader.join(field, on=[RACE, "lap"], how="left")
            .filter(~pl.col("flag").is_in([FLAG_CAUTION, FLAG_FINISH])
                    & (pl.col("race_time_left_s") > 0.0)))
    return rows.select(RACE, *ROW_INPUTS, TARGET, "n_cars", "flag").sort(RACE, "lap")


__all__ = ["OFF_PACE_S", "ROW_INPUTS", "fcy_rows"]
