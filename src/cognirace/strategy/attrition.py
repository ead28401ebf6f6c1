"""Cars that drop out: the spread the race's own laps do not give the forecast.

The Monte Carlo races every running car to the flag. In the real series about one
starter in ten does not get there, or gets there laps down after a long repair
(``bench/attrition.py``: 35 of 368 starters in the 14 races of 2025). Ignoring that
makes every forecast too sure: a car running 3rd "cannot" finish 20th, and a car
running 20th "cannot" gain from the cars ahead dropping out.

``with_attrition`` adds it on top of the finishes of a run, the same way for every
candidate (common random numbers, so the comparisons between candidates stay paired):
in each run the car drops out with the chance ``1 - (1 - h) ** laps_left``, and so does
each of the other running cars; a car that drops out ranks behind every car that does
not, among the drop-outs at random (by how far each got, which the run does not know);
the car's position otherwise improves by the drop-outs among the cars that finished
ahead of it. Which car drops out is drawn per slot of the order (the k-th car ahead),
not per car number, which is what the car's position needs.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


def with_attrition(positions: IntArray, laps_left: IntArray, n_running: int, hazard: float,
                   rng: np.random.Generator) -> IntArray:
    """Finish positions with drop-outs, ``[candidates, sims]``.

    Args:
        positions: The car's finish positions per candidate and run (1 = winner).
        laps_left: The car's laps from the snapshot to its finish, same shape.
        n_running: Running cars at the snapshot (the car included).
        hazard: Chance per car and lap of dropping out.
        rng: One draw per run and slot, shared by every candidate.
    """
    if hazard <= 0.0 or n_running < 1:
        return positions
    n_sims = positions.shape[-1]
    u = rng.random((n_sims, n_running + 1))  # [own, rank among drop-outs, others by slot]
    left = np.clip(laps_left, 0, None).astype(np.float64)
    p_out = 1.0 - (1.0 - hazard) ** left  # [candidates, sims]
    own_out = u[None, :, 0] < p_out
    slots = np.arange(n_running - 1)
    others_out = u[None, :, 2:] < p_out[..., None] if n_running > 1 else \
        np.zeros((*p_out.shape, 0), dtype=bool)
    ahead = slots[None, None, :] < (positions - 1)[..., None]
    out_ahead = (others_out & ahead).sum(axis=-1)
    out_all = others_out.sum(axis=-1)
    rank = np.floor(u[None, :, 1] * (out_all + 1)).astype(np.int64)  # 0..out_all
    dropped = n_running - out_all + rank
    out: IntArray = np.where(own_out, dropped, positions - out_ahead).astype(np.int64)
    return out


__all__ = ["with_attrition"]
