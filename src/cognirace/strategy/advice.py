"""The advice for one car: every candidate with its odds, the recommendation and why.

``advise`` runs every candidate of the car on the same simulations (``simulate_rest``),
summarises each in places (``scoring``) and recommends one. Staying out is the normal
answer in a series without a mandatory stop, and the default: another candidate is
recommended only when its expected gain over staying out is both at least
``MIN_GAIN_POSITIONS`` and at least ``MARGIN_SE`` paired standard errors, so the noise
of a finite run never makes the car stop. Among those, the one with the best expected
position wins.

``caution_call`` answers, from the same snapshot, the question a strategist has seconds
for when the yellow comes out: pit if a caution starts now? It forces a caution on the
next lap and compares staying out with stopping now (the cheap stop); the live engine
asks it every lap so the answer is ready before it is needed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from cognirace.errors import StrategyError
from cognirace.strategy.candidates import Candidate, candidates_for
from cognirace.strategy.montecarlo import CandidateOutcome, simulate_rest
from cognirace.strategy.rejoin import Rejoin, estimate_rejoin
from cognirace.strategy.scoring import CandidateSummary, position_share, summarise
from cognirace.strategy.snapshot import RaceSnapshot

IntArray = npt.NDArray[np.int64]

MIN_GAIN_POSITIONS = 0.1
"""Least expected gain over staying out, in places, for another candidate to be advised.

Chosen on tuning seasons, never the backtest's held-out ones (``bench/strategy_tune.py``,
``docs/results/strategy-tune.txt``): on 913 decision points of 210 tuning races no stop
candidate's expected gain reached 0.1 places, so every floor from 0.1 to never-stop
gave the same advice; the smallest is kept, so that a stop the simulation is sure of
is still advised."""

MARGIN_SE = 2.0
"""Paired standard errors the gain over staying out must exceed (about a 2.5% chance
that noise alone recommends a stop that gains nothing); 2 to 4 tied on the tuning
seasons as the floor did."""

DEFAULT_SIMS = 1_000
"""Simulations per answer: P(gain) to about ±0.016, a paired gain to a few hundredths of
a place."""


@dataclass(frozen=True)
class StrategyAnswer:
    """Every candidate of one car, and the advice.

    Attributes:
        race_id: The race.
        car_number: The car.
        lap: The car's laps completed at the snapshot.
        position: Its position at the snapshot.
        stops: Its stops made at the snapshot.
        n_sims: Simulations run.
        caution: A caution was out (or forced to start) in the runs' first lap.
        candidates: Each candidate's summary, stay out first.
        recommended: The advised candidate.
        why: One plain sentence saying why.
        notes: What the snapshot lacked and how the run filled it.
        finish_positions: Finish positions, ``[candidates, sims]`` (paired comparisons;
            not part of the JSON).
    """

    race_id: str
    car_number: str
    lap: int
    position: int
    stops: int
    n_sims: int
    caution: bool
    candidates: tuple[CandidateSummary, ...]
    recommended: CandidateSummary
    why: str
    notes: tuple[str, ...]
    finish_positions: IntArray

    def summary(self, label: str) -> CandidateSummary | None:
        """A candidate by label, or None."""
        return next((c for c in self.candidates if c.label == label), None)

    def to_json(self) -> dict[str, object]:
        """As the API gives it."""
        return {"race_id": self.race_id, "car_number": self.car_number, "lap": self.lap,
                "position": self.position, "stops": self.stops, "n_sims": self.n_sims,
                "caution": self.caution,
                "recommended": self.recommended.label, "why": self.why,
                "candidates": [c.to_json() for c in self.candidates],
                "notes": list(self.notes)}


@dataclass(frozen=True)
class AdviceRule:
    """When a candidate other than staying out is advised (see the module docstring).

    Attributes:
        min_gain: Least expected gain over staying out, places.
        margin_se: Paired standard errors the gain must exceed.
    """

    min_gain: float = MIN_GAIN_POSITIONS
    margin_se: float = MARGIN_SE

    def sound(self, summary: CandidateSummary) -> bool:
        """Whether the candidate's gain over staying out is clear enough to advise it."""
        return (summary.gain_vs_stay_out >= self.min_gain
                and summary.gain_vs_stay_out > self.margin_se * summary.gain_vs_stay_out_se)


def recommend(summaries: Sequence[CandidateSummary], rule: AdviceRule | None = None
              ) -> tuple[CandidateSummary, str]:
    """The advised candidate and one sentence why (see the module docstring).

    Raises:
        StrategyError: No stay-out candidate to compare with.
    """
    stay = next((s for s in summaries if s.candidate.kind == "stay_out"), None)
    if stay is None:
        raise StrategyError("the candidates need a stay-out to compare with",
                            hint="include Candidate(car_number) (candidates_for does)")
    others = [s for s in summaries if s is not stay]
    rule = rule or AdviceRule()
    sound = [s for s in others if rule.sound(s)]
    if sound:
        best = min(sound, key=lambda s: s.expected_position)
        return best, (f"{_capital(best.label)}: {best.gain_vs_stay_out:.2f} places better "
                      f"than staying out on average (±{best.gain_vs_stay_out_se:.2f}), "
                      f"expected P{best.expected_position:.1f}, "
                      f"{best.p_gain:.0%} chance to gain a place{_fuel(best)}.")
    if not others:
        return stay, f"Stay out: no other candidate{_fuel(stay)}."
    best = max(others, key=lambda s: s.gain_vs_stay_out)
    if best.gain_vs_stay_out <= 0:
        why = (f"Stay out: every stop loses places; the best, {best.label}, is "
               f"{-best.gain_vs_stay_out:.2f} places worse on average")
    else:
        why = (f"Stay out: the best alternative, {best.label}, gains only "
               f"{best.gain_vs_stay_out:.2f} places on average "
               f"(±{best.gain_vs_stay_out_se:.2f}), too little to stop for")
    return stay, why + f"{_fuel(stay)}."


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _fuel(summary: CandidateSummary) -> str:
    if summary.p_dry is not None and summary.p_dry > 0.01:
        return f"; it runs dry in {summary.p_dry:.0%} of runs"
    return ""


def _rejoin(snap: RaceSnapshot, candidate: Candidate) -> Rejoin | None:
    """The deterministic rejoin of a stop whose lap is known now (under the caution the
    snapshot says is out)."""
    car = snap.car(candidate.car_number)
    if candidate.kind == "pit_now":
        in_lap = car.laps + 1
    elif candidate.kind == "pit_on_lap" and candidate.lap is not None:
        in_lap = candidate.lap
    else:
        return None
    green, caution = candidate.losses_s(snap)
    loss = caution if snap.caution and in_lap == car.laps + 1 else green
    return estimate_rejoin(snap, candidate.car_number, loss, in_lap=in_lap)


def answer(snap: RaceSnapshot, candidates: Sequence[Candidate],
           outcomes: Sequence[CandidateOutcome], notes: Sequence[str],
           caution: bool) -> StrategyAnswer:
    """Summaries and the recommendation, from outcomes of ``simulate_rest``."""
    car = snap.car(candidates[0].car_number)
    stay = next(o for o in outcomes if o.candidate.kind == "stay_out")
    seen = replace(snap, caution=True) if caution and not snap.caution else snap
    summaries = tuple(replace(summarise(o, stay, car.position, _rejoin(seen, o.candidate)),
                              position_share=position_share(o.finish_position, len(snap.cars)))
                      for o in outcomes)
    best, why = recommend(summaries)
    return StrategyAnswer(
        race_id=snap.race_id, car_number=car.car_number, lap=car.laps,
        position=car.position, stops=car.stops, n_sims=len(stay.finish_position),
        caution=caution,
        candidates=summaries, recommended=best, why=why, notes=tuple(notes),
        finish_positions=np.stack([o.finish_position for o in outcomes]))


def advise(snap: RaceSnapshot, car_number: str, rng: np.random.Generator, *,
           n_sims: int = DEFAULT_SIMS, candidates: Sequence[Candidate] | None = None,
           drive_through_loss_s: float | None = None) -> StrategyAnswer:
    """Every candidate of the car on the same runs, and the advice.

    Args:
        snap: The race now.
        car_number: The car.
        rng: The runs' random numbers.
        n_sims: Simulations.
        candidates: The candidates (default ``candidates_for``); a stay-out is added
            first when missing.
        drive_through_loss_s: A pending drive-through's loss (adds that candidate).

    Raises:
        DataError: No such car.
        StrategyError: The car is out, or the candidates are for another car.
    """
    chosen = list(candidates_for(snap, car_number, drive_through_loss_s=drive_through_loss_s)
                  if candidates is None else candidates)
    if not any(c.kind == "stay_out" for c in chosen):
        chosen.insert(0, Candidate(car_number))
    if any(c.car_number != car_number for c in chosen):
        raise StrategyError(f"the candidates must all be for car {car_number!r}",
                            value=sorted({c.car_number for c in chosen}))
    rest = simulate_rest(snap, chosen, n_sims, rng)
    return answer(snap, chosen, rest.outcomes, rest.notes, snap.caution)


@dataclass(frozen=True)
class CautionCall:
    """"Pit if a caution starts now?", answered ahead of time.

    Attributes:
        pit: Stop under the caution.
        answer: Stay out against a stop now, under a caution forced to start.
    """

    pit: bool
    answer: StrategyAnswer


def caution_call(snap: RaceSnapshot, car_number: str, rng: np.random.Generator, *,
                 n_sims: int = DEFAULT_SIMS) -> CautionCall:
    """Whether to stop if a caution starts on the next lap (see the module docstring)."""
    chosen = [Candidate(car_number), Candidate(car_number, "pit_now")]
    car = snap.car(car_number)
    if car.fuel_left_l is not None and car.fuel_burn_l_per_lap is not None:
        chosen += [c for c in candidates_for(snap, car_number)
                   if c.kind == "pit_now" and c.service == "tires_fuel"]
    rest = simulate_rest(snap, chosen, n_sims, rng, force_caution=True)
    result = answer(snap, chosen, rest.outcomes, rest.notes, caution=True)
    return CautionCall(pit=result.recommended.candidate.kind != "stay_out", answer=result)


__all__ = ["DEFAULT_SIMS", "MARGIN_SE", "MIN_GAIN_POSITIONS", "AdviceRule", "CautionCall",
           "StrategyAnswer", "advise", "answer", "caution_call", "recommend"]
