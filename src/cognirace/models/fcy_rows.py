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
from dataclasses import dataclass, replace

import polars as pl

from cognirace.domain.formats import FLAG_CAUTION, FLAG_FINISH
from cognirace.models.fcy_scoring import TARGET

OFF_PACE_S = 3.0
"""A car is off pace when its last lap was this much slower than its pace median, s."""

RACE = "race_id"
CAR = ("race_id", "car_number")

LEADER_PACE = pl.coalesce("pace_median3_s", "lap_time_s").alias("leader_pace_s")
"""The leader's green pace (see ``_leader_laps``), from its lap row."""
KEPT = ~pl.col("flag").is_in([FLAG_CAUTION, FLAG_FINISH]) & (pl.col("race_time_left_s") > 0.0)
"""The leader laps that get a row: not under FCY, not the chequered lap, time left."""


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
                      pl.col("lap_end").alias("leader_end"), LEADER_PACE))
    last_fcy = pl.when(fcy).then(pl.col("lap")).forward_fill().over(RACE)
    next_start = pl.when(start).then(pl.col("lap")).shift(-1).backward_fill().over(RACE)
    return leader.with_columns(
        n_fcy_starts=start.cast(pl.Int32).cum_sum().over(RACE),
        laps_since_fcy=(pl.col("lap") - last_fcy.fill_null(0)).cast(pl.Int32),
        **{TARGET: (next_start - pl.col("lap")).cast(pl.Int32)},
    )


@dataclass(frozen=True)
class CautionHistory:
    """The race's cautions as the leader's laps so far tell them, one leader lap at a
    time: what ``_leader_laps`` counts over a race, carried from lap to lap.

    Attributes:
        n_fcy_starts: Cautions started up to the last leader lap (null where that lap's
            flag was unknown, as the batch count is).
        last_fcy_lap: The last leader lap under FCY, 0 before any.
        prev_fcy: Whether the last leader lap was under FCY (False when unknown).
        started: Cautions started so far, the running count behind ``n_fcy_starts``.
    """

    n_fcy_starts: int | None = 0
    last_fcy_lap: int = 0
    prev_fcy: bool = False
    started: int = 0

    def after(self, lap: int, flag: str | None) -> CautionHistory:
        """The history once the leader has completed ``lap`` under ``flag``.

        Null logic as Polars runs it in ``_leader_laps``: an unknown flag starts no
        caution, leaves that lap's count unknown and is not a caution lap.
        """
        fcy = None if flag is None else flag == FLAG_CAUTION
        start = False if self.prev_fcy else fcy
        started = self.started + (1 if start else 0)
        return replace(self, n_fcy_starts=None if start is None else started,
                       last_fcy_lap=lap if fcy else self.last_fcy_lap,
                       prev_fcy=bool(fcy), started=started)


def off_pace_lap(pace_before: pl.Expr) -> pl.Expr:
    """Whether a lap ran over ``OFF_PACE_S`` slower than the car's pace before it.

    Only a clean lap counts: neither a pit lap nor an out-lap, not under or just after a
    caution, not lap 1. ``pace_before`` is the car's ``pace_median3_s`` of its lap before.
    """
    clean = (~pl.col("in_pit") & ~pl.col("out_lap") & (pl.col("flag") != FLAG_CAUTION)
             & ~pl.col("prev_fcy") & (pl.col("lap") > 1)).fill_null(False)
    return (clean & (pl.col("lap_time_s") - pace_before > OFF_PACE_S)).fill_null(False)


def field_aggregates() -> list[pl.Expr]:
    """The field's density and cars off pace, over each car's last lap done (one row per
    car: ``lap_end`` null for a car without one, ``gap_ahead_s`` and ``off_pace``)."""
    gap = pl.col("gap_ahead_s")
    return [
        pl.col("lap_end").is_not_null().sum().cast(pl.Int32).alias("n_cars"),
        (gap < 1.0).sum().cast(pl.Int32).alias("n_close_1s"),
        ((gap < 2.0).sum() / gap.is_not_null().sum().clip(lower_bound=1))
        .cast(pl.Float64).alias("p_close_2s"),
        pl.col("off_pace").fill_null(False).sum().cast(pl.Int32).alias("n_off_pace"),
    ]


def latest_row(leader: pl.DataFrame, history: CautionHistory, field: pl.DataFrame
               ) -> pl.DataFrame:
    """The row of a leader lap from what a live stream holds when the leader crosses.

    Args:
        leader: The leader's feature row of the lap (one row).
        history: ``CautionHistory`` after that lap.
        field: Each car's last lap done at that moment, one row per car (the leader's
            this lap): ``lap_end``, ``gap_ahead_s`` and ``off_pace``.

    Returns:
        As ``fcy_rows`` (without the label): one row, or none when ``fcy_rows`` leaves
        the lap out (under FCY, the chequered lap, no time left).
    """
    row = leader.select(RACE, "lap", "track", "flag", "race_time_left_s", LEADER_PACE,
                        pl.lit(history.n_fcy_starts, pl.Int32).alias("n_fcy_starts"),
                        (pl.col("lap") - history.last_fcy_lap).cast(pl.Int32)
                        .alias("laps_since_fcy"))
    row = pl.concat([row, field.select(field_aggregates())], how="horizontal")
    return row.filter(KEPT).select(RACE, *ROW_INPUTS, "n_cars", "flag")


def _car_state(features: pl.DataFrame) -> pl.DataFrame:
    """Each car's laps with an off-pace flag: a clean lap > ``OFF_PACE_S`` over its pace.

    A clean lap is neither a pit lap nor under or just after a caution, nor lap 1; the
    pace is the car's green median before the lap. A car is the table's timing car
    (``race_id, car_number``): every car on track counts, with logger data or without.
    """
    pace = pl.col("pace_median3_s").shift(1).over(CAR)
    return (features.sort(*CAR, "lap")
            .with_columns(off_pace_lap(pace).alias("off_pace"))
            .select(*CAR, "lap_end", "gap_ahead_s", "off_pace")
            .sort("lap_end"))


def _field_at_leader(leader: pl.DataFrame, cars: pl.DataFrame) -> pl.DataFrame:
    """Field density and cars off pace from each car's last lap done when the leader crossed."""
    grid = (leader.select(RACE, "lap", "leader_end")
            .join(cars.select(CAR).unique(), on=RACE).sort("leader_end"))
    asof = grid.join_asof(cars, left_on="leader_end", right_on="lap_end",
                          by=list(CAR), strategy="backward",
                          check_sortedness=False)  # both sorted by time above
    return asof.group_by(RACE, "lap").agg(field_aggregates())


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
            .filter(KEPT))
    return rows.select(RACE, *ROW_INPUTS, TARGET, "n_cars", "flag").sort(RACE, "lap")


__all__ = ["KEPT", "LEADER_PACE", "OFF_PACE_S", "ROW_INPUTS", "CautionHistory", "fcy_rows",
           "field_aggregates", "latest_row", "off_pace_lap"]
