"""A tiny reference model that keeps the model contract, for tests of the platform.

Lap time as a straight line in tire age and fuel load, fitted by least squares: small
enough to read at a glance, yet it has hyperparameters, array state and JSON state.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import polars as pl

from cognirace.models import ColumnSpec, Model, ModelState

FEATURES = ("tire_age_laps", "fuel_l")


class LinearLapTimeModel(Model):
    """Lap time = intercept + slope per lap of tire age + slope per litre of fuel."""

    kind = "reference_linear"
    kind_version = "1"
    inputs = (
        ColumnSpec("tire_age_laps", "Float64", "laps on the current tires", "laps", 0.0, 80.0),
        ColumnSpec("fuel_l", "Float64", "fuel in the tank at the lap's start", "l", 0.0, 60.0),
    )
    targets = (ColumnSpec("lap_time_s", "Float64", "the lap's time", "s", 30.0, 600.0),)
    outputs = (ColumnSpec("lap_time_pred_s", "Float64", "predicted lap time", "s", 30.0, 600.0),)
    keys: ClassVar[tuple[str, ...]] = ("race_id", "car_number", "lap")

    def __init__(self, *, ridge: float = 0.0, features: tuple[str, ...] = FEATURES) -> None:
        self.ridge = ridge
        self.features = features

    def _fit(self, frame: pl.DataFrame) -> None:
        x = np.column_stack([np.ones(frame.height), frame.select(self.features).to_numpy()])
        penalty = self.ridge * np.eye(x.shape[1])
        penalty[0, 0] = 0.0
        self.coef_ = np.linalg.solve(x.T @ x + penalty, x.T @ frame["lap_time_s"].to_numpy())
        self.n_rows_ = frame.height

    def _predict(self, frame: pl.DataFrame) -> pl.DataFrame:
        x = frame.select(self.features).to_numpy()
        return pl.DataFrame({"lap_time_pred_s": self.coef_[0] + x @ self.coef_[1:]})

    def _get_state(self) -> ModelState:
        return ModelState(values={"n_rows": self.n_rows_}, arrays={"coef": self.coef_})

    def _set_state(self, state: ModelState) -> None:
        self.coef_ = state.arrays["coef"]
        self.n_rows_ = int(state.values["n_rows"])


def lap_frame(rng: np.random.Generator, n_rows: int = 200) -> pl.DataFrame:
    """Laps with a known linear truth plus noise, and the key columns."""
    tire_age = rng.integers(0, 30, n_rows).astype(float)
    fuel = rng.uniform(5.0, 50.0, n_rows)
    lap_time = 100.0 + 0.08 * tire_age + 0.03 * fuel + rng.normal(0.0, 0.2, n_rows)
    return pl.DataFrame({
        "race_id": rng.choice(["r1", "r2", "r3"], n_rows),
        "car_number": rng.integers(1, 20, n_rows).astype(str),
        "lap": np.arange(n_rows) + 1,
        "tire_age_laps": tire_age,
        "fuel_l": fuel,
        "lap_time_s": lap_time,
    })
