"""What past races say about cautions: how long they ran, and how many cars stopped in them.

The strategy's Monte Carlo has to assume both (``assumptions.CAUTION_LAPS_P`` and
``FIELD_CAUTION_STOP_P``): no model predicts them. This reads them off a lake's timing
so that the assumptions can be checked against real races (the tests do, on the 2025
season's files) and a user can check them against their own series.

A caution here is a run of consecutive lap numbers that most of the field completed
under the yellow (``flag == "FCY"`` at the line), so its length is counted in laps
crossed under it, as the timing files count them. A stop in it is a car whose lap of
that run ended in the pit lane (``in_pit``), whatever the reason (tires, repairs, a
penalty served); the cars in it are those that completed its first lap.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from cognirace.errors import DataError

LAP_COLUMNS = ("race_id", "car_number", "lap", "flag", "in_pit")
"""The lake's lap columns the record reads."""


@dataclass(frozen=True)
class CautionRecord:
    """The cautions of a set of races, summed up.

    Attributes:
        cautions: Cautions seen.
        length_share: Share of the cautions by their length in laps.
        car_cautions: Cars running at the start of a caution, summed over cautions.
        stops: Of those, the cars that stopped during it.
    """

    cautions: int
    length_share: dict[int, float]
    car_cautions: int
    stops: int

    @property
    def stop_rate(self) -> float:
        """Stops per car and caution (0 when there was no caution)."""
        return self.stops / self.car_cautions if self.car_cautions else 0.0

    def stop_rate_ci95(self) -> tuple[float, float]:
        """The stop rate's 95% interval (Wilson's: sound for a handful of stops in a few
        hundred cars, where the normal one would dip below zero); (0, 1) without cars."""
        from scipy.stats import binomtest  # about 0.3 s to import; few callers need it

        if not self.car_cautions:
            return 0.0, 1.0
        ci = binomtest(self.stops, self.car_cautions).proportion_ci(0.95, method="wilson")
        return float(ci.low), float(ci.high)

    @property
    def mean_laps(self) -> float:
        """Mean length of a caution, laps (0 when there was none)."""
        return sum(k * p for k, p in self.length_share.items())


def caution_spells(laps: pl.DataFrame) -> pl.DataFrame:
    """Every caution of every race: ``race_id``, ``first_lap``, ``laps``, ``cars``, ``stops``.

    Args:
        laps: The lake's ``laps`` table (or any frame with ``LAP_COLUMNS``).

    Raises:
        DataError: A column the record reads is missing.
    """
    missing = [c for c in LAP_COLUMNS if c not in laps.columns]
    if missing:
        raise DataError(f"the laps lack column(s) {', '.join(missing)}",
                        hint="pass the lake's laps table (open_lake(path).laps)")
    flagged = (laps.group_by("race_id", "lap")
               .agg((pl.col("flag") == "FCY").mean().alias("share"))
               .filter(pl.col("share") > 0.5)
               .sort("race_id", "lap")
               .with_columns((pl.col("lap") - pl.col("lap").shift(1).over("race_id"))
                             .fill_null(0).ne(1).cum_sum().alias("spell")))
    spans = flagged.group_by("race_id", "spell").agg(
        pl.col("lap").min().alias("first_lap"), pl.col("lap").max().alias("last_lap"))
    per_lap = laps.select(LAP_COLUMNS).join(spans, on="race_id").filter(
        pl.col("lap").is_between(pl.col("first_lap"), pl.col("last_lap")))
    return (per_lap.group_by("race_id", "first_lap", "last_lap")
            .agg(pl.col("car_number").filter(pl.col("lap") == pl.col("first_lap"))
                 .n_unique().alias("cars"),
                 pl.col("car_number").filter(pl.col("in_pit").fill_null(False))
                 .n_unique().alias("stops"))
            .select("race_id", "first_lap",
                    (pl.col("last_lap") - pl.col("first_lap") + 1).alias("laps"),
                    "cars", "stops")
            .sort("race_id", "first_lap"))


def caution_record(laps: pl.DataFrame) -> CautionRecord:
    """The cautions of ``laps`` summed up (see ``caution_spells``)."""
    return summarise(caution_spells(laps))


def summarise(spells: pl.DataFrame) -> CautionRecord:
    """``caution_spells``' rows summed up, for a caller that also reads the rows."""
    n = spells.height
    lengths = spells["laps"].value_counts()
    share = {int(k): int(c) / n for k, c in lengths.sort("laps").iter_rows()}
    return CautionRecord(cautions=n, length_share=share,
                         car_cautions=int(spells["cars"].sum()), stops=int(spells["stops"].sum()))


__all__ = ["LAP_COLUMNS", "CautionRecord", "caution_record", "caution_spells", "summarise"]
