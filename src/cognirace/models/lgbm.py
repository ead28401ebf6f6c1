"""LightGBM boosters for the models that use them: training, text artifacts, categories.

Boosters are stored in LightGBM's own text format, which is data, not code, so a model
loaded from the registry cannot run anything (see ``cognirace.models.artifacts``). The
text is read into memory whole because the registry may delete the folder right after.
Categorical columns (the track) are encoded against a fixed list of known values stored
with the model, so a code means the same at training and in live prediction; an unknown
value becomes NaN, which LightGBM sends down its "missing" branch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import numpy.typing as npt
import polars as pl

from cognirace.errors import ArtifactError

FloatArray = npt.NDArray[np.float64]

BASE_PARAMS: dict[str, Any] = {
    "verbosity": -1,
    "deterministic": True,
    "force_row_wise": True,
    "max_bin": 63,
}
"""Parameters every booster shares: quiet, reproducible for a seed, small bins."""


def train_booster(x: FloatArray, y: FloatArray, params: Mapping[str, Any], *,
                  n_estimators: int, categorical: Sequence[int] = ()) -> lgb.Booster:
    """Train one booster on a float matrix.

    Args:
        x: Features, one row per example (NaN for missing).
        y: Target per row.
        params: LightGBM parameters on top of ``BASE_PARAMS`` (objective, alpha, seed,
            ``num_threads``...).
        n_estimators: Boosting rounds.
        categorical: Column indexes holding integer category codes.
    """
    data = lgb.Dataset(x, label=y, categorical_feature=list(categorical) or "auto",
                       params={"verbosity": -1}, free_raw_data=True)
    return lgb.train({**BASE_PARAMS, **params}, data, num_boost_round=n_estimators)


def save_booster(path: Path, booster: lgb.Booster) -> Path:
    """Write a booster as LightGBM text; returns the path."""
    path.write_text(booster.model_to_string(), encoding="utf-8")
    return path


def load_booster(path: Path) -> lgb.Booster:
    """Read a booster written by ``save_booster`` (text only, no pickle).

    Raises:
        ArtifactError: The file is missing or not a LightGBM model.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ArtifactError("booster file is missing", path=path) from exc
    try:
        return lgb.Booster(model_str=text)
    except lgb.basic.LightGBMError as exc:
        raise ArtifactError("booster file is not a LightGBM model", path=path,
                            hint=str(exc).splitlines()[0]) from exc


def category_codes(values: pl.Series, categories: Sequence[str]) -> FloatArray:
    """Codes ``0..n-1`` of ``values`` in ``categories``; NaN for unknown or null values."""
    lookup = {name: float(i) for i, name in enumerate(categories)}
    if values.len() <= 8:  # live prediction: a dict lookup beats a Polars expression
        return np.array([lookup.get(v, np.nan) for v in values.to_list()], dtype=np.float64)
    codes = values.cast(pl.String).replace_strict(lookup, default=None, return_dtype=pl.Float64)
    return codes.fill_null(np.nan).to_numpy().astype(np.float64, copy=False)


__all__ = ["BASE_PARAMS", "category_codes", "load_booster", "save_booster", "train_booster"]
