"""The interpolation of slow channels, nested or in layers: the same bits either way."""

from __future__ import annotations

import datetime as dt

import polars as pl

from cognirace.features.signals import HOLD_S, interpolated, interpolation_steps, reading

T0 = dt.datetime(2025, 4, 5, 14, 0, tzinfo=dt.UTC)


def _samples() -> pl.DataFrame:
    """Two cars' samples, time-sorted within each car: readings every fourth sample, a
    NaN written for a dropout, a gap longer than ``HOLD_S`` and a car with none at all."""
    rows = []
    for car, offset in (("GR86-002-2", 0.0), ("GR86-004-4", 0.013)):
        for i in range(40):
            time = T0 + dt.timedelta(seconds=offset + 0.05 * i + (HOLD_S + 1.0) * (i >= 25))
            speed = 100.0 + 0.37 * i if i % 4 == 1 else None
            if i == 9:
                speed = float("nan")
            rows.append({"vehicle_id": car, "time": time, "speed_kph": speed,
                         "rpm": None if car == "GR86-004-4" or i % 5 else 5000.0 + 7.0 * i})
    return pl.DataFrame(rows)


def test_layers_give_the_nested_expressions_bits_per_group_and_alone() -> None:
    samples = _samples()
    for over in ((), ("vehicle_id",)):
        frame = samples if over else samples.filter(pl.col("vehicle_id") == "GR86-002-2")
        values = {"speed_i": reading("speed_kph"), "rpm_i": reading("rpm")}
        nested = frame.select(interpolated(v, over).alias(n) for n, v in values.items())
        first, second, third = interpolation_steps(values, over)
        layered = frame.with_columns(first).with_columns(second).select(third)
        assert layered.equals(nested)
        # what is compared is not empty: readings, interpolations and dropouts are all there
        speed = layered["speed_i"]
        assert speed.null_count() > 0 and speed.drop_nulls().n_unique() > 10


def test_a_car_whose_group_has_no_reading_stays_null() -> None:
    first, second, third = interpolation_steps({"rpm_i": reading("rpm")}, ("vehicle_id",))
    out = _samples().with_columns(first).with_columns(second).select("vehicle_id", *third)
    assert out.filter(pl.col("vehicle_id") == "GR86-004-4")["rpm_i"].null_count() == 40
    assert out.filter(pl.col("vehicle_id") == "GR86-002-2")["rpm_i"].null_count() < 40
