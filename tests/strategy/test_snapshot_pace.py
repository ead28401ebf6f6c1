"""The field's pace for a car the laptime model has none for yet, on frames built by hand."""

from __future__ import annotations

import polars as pl

from cognirace.strategy.snapshot_pace import field_pace, with_field_pace

ANSWERS = {"1": (99.0, 100.0, 102.0), "2": (101.0, 103.0, 104.0), "3": (98.0, 99.0, 100.0)}


def _laps(times: list[float], in_pit: list[bool], out_lap: list[bool]) -> pl.DataFrame:
    return pl.DataFrame({"lap_time_s": times, "in_pit": in_pit, "out_lap": out_lap})


def test_the_field_pace_is_the_median_of_each_quantile() -> None:
    pace, how = field_pace(_laps([150.0], [False], [False]), ANSWERS)
    assert pace == (99.0, 100.0, 102.0)  # each quantile's median, not one car's
    assert "3 cars' quantiles" in how


def test_without_any_answer_it_is_the_median_lap_pit_laps_left_out() -> None:
    laps = _laps([150.0, 152.0, 300.0, 148.0, 500.0],
                 [False, False, True, False, False], [False, False, False, False, True])
    pace, how = field_pace(laps, {})
    assert pace == (150.0, 150.0, 150.0)
    assert "no spread known" in how
    only_pit = _laps([300.0, 320.0, 310.0], [True, False, False], [False, True, True])
    assert field_pace(only_pit, {})[0] == (310.0, 310.0, 310.0)  # nothing else to go on


def test_only_running_cars_lacking_an_answer_get_it_and_the_note_names_them() -> None:
    notes: list[str] = []
    out = with_field_pace(_laps([150.0], [False], [False]), ANSWERS, ["1", "2", "9", "12"],
                          notes)
    assert {k: out[k] for k in ANSWERS} == ANSWERS
    assert out["9"] == out["12"] == (99.0, 100.0, 102.0)
    assert len(notes) == 1 and "car(s) 9, 12" in notes[0] and "fallback" in notes[0]
    quiet: list[str] = []
    assert with_field_pace(_laps([150.0], [False], [False]), ANSWERS, ["1", "2"],
                           quiet) == ANSWERS
    assert quiet == []
