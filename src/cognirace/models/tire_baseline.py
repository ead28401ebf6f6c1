"""The tire task's baselines: the track's typical trend, as a race engineer reads it.

``TrackMeanSlopeBaseline`` is the fair one. The engineer knows a track's typical wear
rate from the training races' timing, with the fuel-burn gain taken out (burning fuel
makes every lap faster, and a stint's lap-time slope mixes the two): the pooled slope
of every training stint's lap times at the track on tire age, corrected for fuel. The
fuel correction is the trend per km of fuel-equivalent laps fitted across the training
tracks (``tire_stats.fuel_trend``, the same the model uses: fuel and wear only separate
across tracks of different lengths). A stint's laps ahead are forecast from its seen
level along the track's wear rate plus the fuel gain of a lap there. No per-stint
estimate, no shrinkage, no calibration: that is the model's claim to beat.

``RawTrendBaseline`` is the previous baseline, kept only to show the two side by side:
the median over the track's stints of each stint's raw lap-time slope. Its
``deg_s_per_lap`` still holds the fuel gain, so as a wear rate it starts about 0.05
s/lap wrong, though its forecast of lap times is as good.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import polars as pl

from cognirace.models.artifacts import ModelState
from cognirace.models.base import Model
from cognirace.models.lgbm import FloatArray
from cognirace.models.tire_contract import INPUTS, KEYS, OUTPUTS, TARGETS, forecast_outputs
from cognirace.models.tire_forecast import check_seen_laps
from cognirace.models.tire_stats import (
    fuel_trend,
    per_stint_slopes,
    pooled_track_slopes,
    robust_spread,
    track_lengths,
    whole_stints,
)


def _typical(slopes: FloatArray) -> tuple[float, float]:
    """The typical slope of some stints and their spread (s/lap): median and robust
    spread, so a stint wrecked by a spin or a flat tire does not set a track's trend."""
    return float(np.nanmedian(slopes)), robust_spread(slopes)


def _spreads(frame: pl.DataFrame, slopes: FloatArray) -> dict[str, float]:
    """Robust spread of the stint slopes per track, and ``""`` over all (s/lap)."""
    tracks = frame.get_column("track").to_numpy()
    usable = np.isfinite(slopes)
    spread = {"": robust_spread(slopes) if usable.any() else 0.0}
    for t in np.unique(tracks[usable]):
        spread[str(t)] = robust_spread(slopes[tracks == t])
    return spread


class TrackMeanSlopeBaseline(Model):
    """The track's pooled fuel-corrected wear rate in training, for every stint there.

    ``deg_s_per_lap`` is the track's pooled slope (``tire_stats.pooled_track_slopes``);
    ``pace_trend_s_per_lap`` adds the fuel gain of a green lap at the track. Its standard
    error, the robust spread of the track's stints' own corrected slopes, widens the loss
    interval (uncalibrated). A track not seen in training gets the slope pooled over
    every track and the mean lap length.
    """

    kind = "tire_baseline"
    kind_version = "3"  # pooled fuel-corrected slope per track
    inputs = INPUTS
    targets = TARGETS
    outputs = OUTPUTS
    keys: ClassVar[tuple[str, ...]] = KEYS

    def _fit(self, frame: pl.DataFrame) -> None:
        check_seen_laps(frame)
        whole = whole_stints(frame)
        self.fuel_s_per_km_lap_, _ = fuel_trend(whole)
        self.slopes_s_per_lap_ = pooled_track_slopes(whole, self.fuel_s_per_km_lap_)
        fuel = self.fuel_s_per_km_lap_ * track_lengths(frame.get_column("track"))
        self.spreads_s_per_lap_ = _spreads(frame, per_stint_slopes(whole, fuel, None)[0])

    def _predict(self, frame: pl.DataFrame) -> pl.DataFrame:
        check_seen_laps(frame)
        tracks = frame.get_column("track").to_list()
        deg = np.array([self.slopes_s_per_lap_.get(t, self.slopes_s_per_lap_[""])
                        for t in tracks], dtype=np.float64)
        se = np.array([self.spreads_s_per_lap_.get(t, self.spreads_s_per_lap_[""])
                       for t in tracks], dtype=np.float64)
        trend = deg + self.fuel_s_per_km_lap_ * track_lengths(frame.get_column("track"))
        return forecast_outputs(frame, deg, se, trend, 1.0)

    def _get_state(self) -> ModelState:
        return ModelState(values={"fuel_s_per_km_lap": self.fuel_s_per_km_lap_,
                                  "slopes_s_per_lap": self.slopes_s_per_lap_,
                                  "spreads_s_per_lap": self.spreads_s_per_lap_})

    def _set_state(self, state: ModelState) -> None:
        v = state.values
        self.fuel_s_per_km_lap_ = float(v["fuel_s_per_km_lap"])
        self.slopes_s_per_lap_ = {str(t): float(s) for t, s in v["slopes_s_per_lap"].items()}
        self.spreads_s_per_lap_ = {str(t): float(s) for t, s in
                                   v["spreads_s_per_lap"].items()}


class RawTrendBaseline(Model):
    """The previous baseline (not published): each stint's laps ahead follow the median
    over its track's training stints of their raw least-squares lap-time slope (fuel
    burn included, also reported as ``deg_s_per_lap``); an unknown track gets the median
    of every stint."""

    kind = "tire_raw_trend"
    inputs = INPUTS
    targets = TARGETS
    outputs = OUTPUTS
    keys: ClassVar[tuple[str, ...]] = KEYS

    def _fit(self, frame: pl.DataFrame) -> None:
        check_seen_laps(frame)
        slope, _ = per_stint_slopes(whole_stints(frame), np.zeros(frame.height),
                                    huber_k=None)
        tracks = frame.get_column("track").to_numpy()
        self.track_slopes_ = {str(t): _typical(slope[tracks == t]) for t in np.unique(tracks)}
        self.overall_ = _typical(slope)

    def _predict(self, frame: pl.DataFrame) -> pl.DataFrame:
        check_seen_laps(frame)
        pairs = [self.track_slopes_.get(t, self.overall_) for t in frame.get_column("track")]
        slope = np.array([p[0] for p in pairs], dtype=np.float64)
        spread = np.array([p[1] for p in pairs], dtype=np.float64)
        return forecast_outputs(frame, slope, spread, slope, 1.0)

    def _get_state(self) -> ModelState:
        return ModelState(values={"track_slopes": {t: list(v) for t, v in
                                                   self.track_slopes_.items()},
                                  "overall": list(self.overall_)})

    def _set_state(self, state: ModelState) -> None:
        v = state.values
        self.track_slopes_ = {str(t): (float(m), float(s)) for t, (m, s) in
                              v["track_slopes"].items()}
        self.overall_ = (float(v["overall"][0]), float(v["overall"][1]))


__all__ = ["RawTrendBaseline", "TrackMeanSlopeBaseline"]
