"""What a candidate is worth, in places, with its Monte Carlo standard errors.

Candidates are scored in finish positions, not seconds: the pit wall gains places, and
a second lost behind a car three seconds ahead costs nothing. For each candidate:

- the expected finish position and its standard error, its P10 and P90;
- ``p_gain``: the chance to finish ahead of the car's position at the snapshot (at least
  one place better than it is now), and ``p_lose``: behind it. These compare with
  where the car *is*, which a strategist reads at once; they do not say whether the
  stop is the cause, since the car may gain or lose places whatever it does;
- ``gain_vs_stay_out``: places gained over staying out, on average over the same runs
  (common random numbers), with the standard error of that paired difference. This is
  the number the recommendation rests on: the decision alone makes it;
- the chance of running out of fuel (None when the car's fuel is unknown).

Standard errors are those of a mean over independent runs: ``sd / sqrt(n)``, and for a
proportion ``sqrt(p (1 - p) / n)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from cognirace.strategy.candidates import Candidate
from cognirace.strategy.montecarlo import CandidateOutcome
from cognirace.strategy.rejoin import Rejoin

IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class CandidateSummary:
    """One candidate, summarised over every run.

    Attributes:
        candidate: The candidate.
        label: How a strategist says it.
        expected_position: Mean finish position.
        expected_position_se: Its standard error.
        position_p10, position_p90: Finish positions 10% and 90% of runs do as well as
            (nearest rank).
        p_gain, p_gain_se: Chance to finish ahead of the position at the snapshot.
        p_lose, p_lose_se: Chance to finish behind it.
        gain_vs_stay_out: Places better than staying out, mean over the same runs.
        gain_vs_stay_out_se: Standard error of that paired difference.
        p_dry, p_dry_se: Chance of running out of fuel (None: fuel unknown).
        p_stop: Share of runs in which the stop is made before the finish.
        rejoin: Where the car comes out of the pit lane (deterministic estimate; None
            for a stop whose lap depends on a caution, and for staying out).
        position_share: Share of runs finishing in each place, P1 first (the whole
            distribution, for a chart; empty when not worked out).
    """

    candidate: Candidate
    label: str
    expected_position: float
    expected_position_se: float
    position_p10: int
    position_p90: int
    p_gain: float
    p_gain_se: float
    p_lose: float
    p_lose_se: float
    gain_vs_stay_out: float
    gain_vs_stay_out_se: float
    p_dry: float | None
    p_dry_se: float | None
    p_stop: float
    rejoin: Rejoin | None
    position_share: tuple[float, ...] = ()

    def to_json(self) -> dict[str, object]:
        """As the API gives it (no arrays)."""
        out: dict[str, object] = {
            "label": self.label, "kind": self.candidate.kind, "lap": self.candidate.lap,
            "service": self.candidate.service}
        for name in ("expected_position", "expected_position_se", "position_p10",
                     "position_p90", "p_gain", "p_gain_se", "p_lose", "p_lose_se",
                     "gain_vs_stay_out", "gain_vs_stay_out_se", "p_dry", "p_dry_se",
                     "p_stop"):
            out[name] = getattr(self, name)
        out["rejoin"] = None if self.rejoin is None else self.rejoin.to_json()
        out["position_share"] = [round(p, 4) for p in self.position_share]
        return out


def mean_se(values: npt.NDArray[np.float64] | IntArray) -> tuple[float, float]:
    """Mean and its standard error."""
    n = len(values)
    mean = float(np.mean(values))
    sd = float(np.std(values, ddof=1)) if n > 1 else 0.0
    return mean, sd / math.sqrt(n) if n else math.nan


def share_se(flags: npt.NDArray[np.bool_]) -> tuple[float, float]:
    """A proportion and its standard error."""
    n = len(flags)
    p = float(np.mean(flags))
    return p, math.sqrt(p * (1.0 - p) / n)


def summarise(outcome: CandidateOutcome, stay_out: CandidateOutcome, position_now: int,
              rejoin: Rejoin | None) -> CandidateSummary:
    """A candidate's summary against staying out on the same runs.

    Args:
        outcome: The candidate's runs.
        stay_out: The stay-out candidate's runs (same draws).
        position_now: The car's position at the snapshot.
        rejoin: The deterministic rejoin estimate, if any.
    """
    position = outcome.finish_position
    mean, se = mean_se(position)
    p10, p90 = np.percentile(position, [10, 90], method="inverted_cdf")
    p_gain, p_gain_se = share_se(position < position_now)
    p_lose, p_lose_se = share_se(position > position_now)
    gain, gain_se = mean_se((stay_out.finish_position - position).astype(np.float64))
    if outcome.dry is None:
        p_dry: float | None = None
        p_dry_se: float | None = None
    else:
        p_dry, p_dry_se = share_se(outcome.dry)
    return CandidateSummary(
        candidate=outcome.candidate, label=outcome.candidate.label,
        expected_position=mean, expected_position_se=se,
        position_p10=int(p10), position_p90=int(p90),
        p_gain=p_gain, p_gain_se=p_gain_se, p_lose=p_lose, p_lose_se=p_lose_se,
        gain_vs_stay_out=gain, gain_vs_stay_out_se=gain_se, p_dry=p_dry, p_dry_se=p_dry_se,
        p_stop=float(np.mean(outcome.stopped)), rejoin=rejoin)




def position_share(finish: IntArray, n_places: int) -> tuple[float, ...]:
    """Share of runs finishing in each place 1..``n_places``."""
    counts = np.bincount(np.clip(finish, 1, n_places), minlength=n_places + 1)[1:]
    return tuple(float(c) / max(len(finish), 1) for c in counts)


__all__ = ["CandidateSummary", "mean_se", "position_share", "share_se", "summarise"]
