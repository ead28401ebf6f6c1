"""The random numbers of one Monte Carlo run, drawn once and shared by every candidate.

Common random numbers: the candidates of one car are compared on the same lap-time
noise, the same cautions, the same pass attempts and the same burn, so the difference
between two candidates is their decision alone, and its standard error is that of a
paired difference (small), not of two independent runs. Everything is drawn here, in a
fixed order and fixed shapes that no decision changes; nothing else draws.

The cautions are turned into a per-sim schedule here too (``caution_schedule``): a loop
over laps, vectorised over sims.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from cognirace.strategy.assumptions import (
    BURN_CAR_CV,
    CAUTION_LAPS,
    CAUTION_LAPS_P,
    ONGOING_CAUTION_ELAPSED_LAPS,
    Z_CLIP,
)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


class RaceDraws:
    """Draws for ``n_sims`` runs of ``n_cars`` cars over at most ``max_laps`` laps.

    Attributes:
        burn_factor: Each car's true burn over the model's, ``[sims, cars]``.
        u_caution: Uniforms against the hazard, ``[laps, sims]``.
        caution_laps: The length a caution starting on each lap would have, ``[laps, sims]``.

    Each lap's lap-time noise and pass draws (``lap``) are drawn when the run reaches
    that lap, laps in order, and not kept: every simulation of the run (the field, the
    car's candidates) steps through the same lap together, so a run that reaches the
    flag early draws no more than it uses; ``restart`` replays them from the first lap.

    The burn, the cautions and the laps each read their own child of ``rng`` (``spawn``),
    lap by lap, so the numbers of lap ``i`` do not depend on how many laps the run
    allows: the same seed gives the same race whatever the horizon.
    """

    def __init__(self, rng: np.random.Generator, n_sims: int, n_cars: int,
                 max_laps: int) -> None:
        self.n_sims, self.n_cars, self.max_laps = n_sims, n_cars, max_laps
        burn_rng, caution_rng, self._rng = rng.spawn(3)
        self.burn_factor = np.maximum(
            1.0 + BURN_CAR_CV * burn_rng.standard_normal((n_sims, n_cars)), 0.5)
        per_lap = [(caution_rng.random(n_sims), caution_rng.random(n_sims))
                   for _ in range(max_laps)]
        self.u_caution = np.array([u for u, _ in per_lap]).reshape(max_laps, n_sims)
        cdf = np.cumsum(CAUTION_LAPS_P)
        length_u = np.array([u for _, u in per_lap]).reshape(max_laps, n_sims)
        pick = np.searchsorted(cdf / cdf[-1], length_u, side="right")
        self.caution_laps = np.asarray(CAUTION_LAPS, dtype=np.int64)[
            np.minimum(pick, len(cdf) - 1)]
        self._start = self._rng.bit_generator.state
        self._next = 0

    def lap(self, lap: int) -> tuple[FloatArray, FloatArray]:
        """Lap ``lap``'s draws, ``[sims, cars]`` each: the lap-time noise in σ units
        (clipped at ``Z_CLIP``) and the pass uniforms (on a lap under caution, when
        nobody passes, they decide whether a car stops as the caution starts).

        Raises:
            IndexError: Laps asked out of order, or beyond ``max_laps``.
        """
        if lap != self._next or lap >= self.max_laps:
            raise IndexError(f"lap {lap} asked for; the next of the run's {self.max_laps} "
                             f"laps is {self._next} (restart() to replay)")
        shape = (self.n_sims, self.n_cars)
        z = np.clip(self._rng.standard_normal(shape), -Z_CLIP, Z_CLIP)
        self._next += 1
        return z, self._rng.random(shape)

    def restart(self) -> None:
        """Draw the laps again from the first, the same numbers."""
        self._rng.bit_generator.state = self._start
        self._next = 0


def draw_race(rng: np.random.Generator, n_sims: int, n_cars: int, n_laps: int) -> RaceDraws:
    """The random numbers of one run (see ``RaceDraws``)."""
    return RaceDraws(rng, n_sims, n_cars, n_laps)


def hazard_by_lap(hazard: tuple[float, ...], n_laps: int) -> FloatArray:
    """The snapshot's hazard for each of the next ``n_laps`` laps (the last value holds)."""
    out = np.full(n_laps, hazard[-1], dtype=np.float64)
    head = min(len(hazard), n_laps)
    out[:head] = hazard[:head]
    return out


def caution_schedule(draws: RaceDraws, hazard: tuple[float, ...], *, ongoing: bool,
                     force: bool) -> tuple[BoolArray, BoolArray]:
    """Which of the leader's next laps run under caution, and where each caution starts.

    A caution starts on a green lap with the hazard's chance and lasts its drawn length;
    none starts while one is out. ``ongoing``: a caution is out now, with its drawn
    length less ``ONGOING_CAUTION_ELAPSED_LAPS`` left (at least one lap). ``force``:
    a caution starts on the next lap whatever the hazard (the "if a caution starts now"
    question); it overrides ``ongoing`` with a fresh full length.

    Returns:
        ``(under, starts)``, both ``[laps, sims]``: lap ``i`` runs under caution; a
        caution starts on lap ``i`` (its first lap).
    """
    n_laps, n_sims = draws.u_caution.shape
    p = hazard_by_lap(hazard, n_laps)
    under = np.zeros((n_laps, n_sims), dtype=bool)
    starts = np.zeros((n_laps, n_sims), dtype=bool)
    left = np.zeros(n_sims, dtype=np.int64)
    if force and n_laps:
        starts[0] = True
        left = draws.caution_laps[0].copy()
    elif ongoing and n_laps:
        left = np.maximum(draws.caution_laps[0] - ONGOING_CAUTION_ELAPSED_LAPS, 1)
    for i in range(n_laps):
        new = (left == 0) & (draws.u_caution[i] < p[i])
        if i == 0 and force:
            new[:] = False
        left = np.where(new, draws.caution_laps[i], left)
        starts[i] |= new
        under[i] = left > 0
        left = np.maximum(left - 1, 0)
    return under, starts


__all__ = ["RaceDraws", "caution_schedule", "draw_race", "hazard_by_lap"]
