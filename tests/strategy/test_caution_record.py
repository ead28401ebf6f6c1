"""The caution record read off timing, and the strategy's caution assumptions against the
real 2025 races."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from cognirace.errors import DataError
from cognirace.lake import open_lake
from cognirace.strategy.assumptions import (
    CAUTION_LAPS,
    CAUTION_LAPS_P,
    FIELD_CAUTION_STOP_P,
)
from cognirace.strategy.caution_record import CautionRecord, caution_record, caution_spells


def _laps(race: str, flags: dict[int, list[str]], pits: set[tuple[str, int]]) -> pl.DataFrame:
    """One race's laps: ``flags[lap]`` gives each car's flag at the line, cars A, B, C..."""
    rows = [{"race_id": race, "car_number": "ABCD"[i], "lap": lap, "flag": flag,
             "in_pit": ("ABCD"[i], lap) in pits}
            for lap, per_car in flags.items() for i, flag in enumerate(per_car)]
    return pl.DataFrame(rows, schema={"race_id": pl.String, "car_number": pl.String,
                                      "lap": pl.Int32, "flag": pl.String, "in_pit": pl.Boolean})


def test_spells_are_runs_of_laps_the_field_crossed_under_the_yellow() -> None:
    green, fcy = ["GF"] * 3, ["FCY"] * 3
    one = _laps("r1", {1: green, 2: fcy, 3: ["FCY", "FCY", "GF"], 4: green,
                       5: ["FCY", "GF", "GF"], 6: fcy},
                pits={("B", 3), ("C", 4), ("A", 6)})
    two = _laps("r2", {1: fcy, 2: green}, pits={("A", 2)})
    spells = caution_spells(pl.concat([one, two]))
    assert spells.to_dicts() == [
        # laps 2-3 (lap 3: two of three under the yellow); B stops in it, C after it
        {"race_id": "r1", "first_lap": 2, "laps": 2, "cars": 3, "stops": 1},
        # lap 5: one car of three is not a caution; lap 6 is
        {"race_id": "r1", "first_lap": 6, "laps": 1, "cars": 3, "stops": 1},
        {"race_id": "r2", "first_lap": 1, "laps": 1, "cars": 3, "stops": 0},
    ]
    record = caution_record(pl.concat([one, two]))
    assert (record.cautions, record.car_cautions, record.stops) == (3, 9, 2)
    assert record.length_share == {1: pytest.approx(2 / 3), 2: pytest.approx(1 / 3)}
    assert record.mean_laps == pytest.approx(4 / 3)
    assert record.stop_rate == pytest.approx(2 / 9)
    low, high = record.stop_rate_ci95()
    assert 0.0 < low < 2 / 9 < high < 1.0


def test_the_stop_rates_interval_narrows_with_cars_and_stays_in_zero_to_one() -> None:
    few = CautionRecord(cautions=2, length_share={2: 1.0}, car_cautions=40, stops=1)
    many = CautionRecord(cautions=20, length_share={2: 1.0}, car_cautions=400, stops=10)
    assert few.stop_rate == many.stop_rate == 0.025
    (lo_few, hi_few), (lo_many, hi_many) = few.stop_rate_ci95(), many.stop_rate_ci95()
    assert 0.0 < lo_few < lo_many < 0.025 < hi_many < hi_few < 1.0
    none = CautionRecord(cautions=1, length_share={1: 1.0}, car_cautions=30, stops=0)
    assert none.stop_rate_ci95()[0] == pytest.approx(0.0, abs=1e-12)
    assert 0.0 < none.stop_rate_ci95()[1] < 0.2


def test_a_car_that_retired_before_the_caution_is_not_counted_in_it() -> None:
    laps = _laps("r", {1: ["GF"] * 3, 2: ["FCY"] * 3}, pits=set()).filter(
        ~((pl.col("car_number") == "C") & (pl.col("lap") == 2)))
    assert caution_spells(laps)["cars"].to_list() == [2]


def test_races_without_a_caution_give_an_empty_record() -> None:
    record = caution_record(_laps("r", {1: ["GF"] * 3, 2: ["GF"] * 3}, pits={("A", 2)}))
    assert (record.cautions, record.stop_rate, record.mean_laps) == (0, 0.0, 0.0)


def test_laps_without_the_flag_are_refused_with_what_to_pass() -> None:
    with pytest.raises(DataError, match="flag") as err:
        caution_spells(_laps("r", {1: ["GF"] * 3}, pits=set()).drop("flag"))
    assert "open_lake" in (err.value.hint or "")


def test_the_strategys_caution_assumptions_match_the_real_races(real_lake_dir: Path) -> None:
    """The Monte Carlo's caution length and other cars' stops in a caution are those of
    the 2025 season's timing (16 cautions in 14 races), not another series' figures."""
    record = caution_record(open_lake(real_lake_dir).laps)
    assert record.cautions >= 10
    low, high = record.stop_rate_ci95()
    assert low <= FIELD_CAUTION_STOP_P <= high, (record, FIELD_CAUTION_STOP_P)
    # the length distribution: the same most likely length, the mean within a quarter lap
    assumed = dict(zip(CAUTION_LAPS, CAUTION_LAPS_P, strict=True))
    assert max(assumed, key=lambda k: assumed[k]) == max(
        record.length_share, key=lambda k: record.length_share[k])
    mean = sum(k * q for k, q in assumed.items()) / sum(assumed.values())
    assert abs(mean - record.mean_laps) <= 0.25, (record.length_share, assumed)
