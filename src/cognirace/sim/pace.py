"""Pace beyond the car and the driver's ideal lap: lap-to-lap scatter and the yellow.

A driver's laps scatter around their pace by a skewed amount (a best lap lies closer to
the median than the worst), more at tracks where a lap is hard to repeat. A full-course
yellow slows a share of each lap it covers: part of its first flagged lap, all of the
laps in between, most of the green-flagged restart lap; the lap after the restart is a
little slow too.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from cognirace.sim.events import Caution

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

RESTART_LOSS_SHARE = (0.0, 0.02)
"""Time lost on the lap after a restart (a bunched field on cooled tyres), share of a
perfect lap."""

SCATTER_REF_LAP_S = 100.0
"""Lap time at which a driver's ``consistency_s`` holds; the scatter scales with the lap."""

TRACK_SCATTER: dict[str, float] = {
    "barber": 0.8, "cota": 1.6, "indianapolis": 1.8, "road_america": 1.9, "sebring": 1.25,
    "sonoma": 2.8, "vir": 1.3,
}
"""How much harder a lap is to repeat at each track, × a driver's scatter and error rate.

Fitted to the real lap charts: a driver's green laps spread 0.4% of the lap at Barber,
about 0.5% at Sebring and VIR, 0.8% at COTA, 1% at Indianapolis and 1.3% at Sonoma
(blind crests and walls)."""

NOISE_SHAPE = 3.0
"""Shape of the gamma distribution of a driver's lap scatter: skewed to the slow side, as
real laps are (a driver's best lap lies closer to their median than their worst)."""


def lap_scatter(rng: np.random.Generator, n: int) -> FloatArray:
    """Standardised lap scatter: mean 0, sd 1, bounded below at -sqrt(NOISE_SHAPE)."""
    k = NOISE_SHAPE
    return np.asarray(np.minimum(rng.gamma(k, 1.0 / np.sqrt(k), n) - np.sqrt(k), 4.0))


def caution_profile(cautions: list[Caution], n_laps: int
                    ) -> tuple[BoolArray, FloatArray, FloatArray, BoolArray]:
    """Per lap index: flagged FCY, share run at caution pace, the pace, lap after restart."""
    flagged = np.zeros(n_laps, dtype=bool)
    share = np.zeros(n_laps)
    pace = np.ones(n_laps)
    after = np.zeros(n_laps, dtype=bool)
    for c in cautions:
        first, last = c.start_lap - 1, min(c.end_lap, n_laps)
        flagged[first:last] = True
        share[first:last] = 1.0
        share[first] = c.first_share
        pace[first: last + 1] = c.pace
        if last < n_laps:
            share[last] = c.restart_share
        if last + 1 < n_laps:
            after[last + 1] = True
    return flagged, share, pace, after


__all__ = ["NOISE_SHAPE", "RESTART_LOSS_SHARE", "SCATTER_REF_LAP_S", "TRACK_SCATTER",
           "caution_profile", "lap_scatter"]
