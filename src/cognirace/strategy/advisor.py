"""Advice that does not flicker: a small stateful advisor with hysteresis.

Each lap brings a new answer, and with it new noise: two candidates a hair apart would
swap places from one lap to the next, and a pit wall cannot act on advice that changes
every lap. The ``Advisor`` keeps the last advice per car and changes it only when the
new answer's recommendation beats the kept advice, on the new answer's own runs (paired,
common random numbers), by at least ``SWITCH_MARGIN_POSITIONS`` and by ``SWITCH_SE``
paired standard errors. It changes at once when the kept advice is no longer on offer
(its lap has passed), when the car has stopped since (a stop was made, so the advice
was acted on or overtaken), or when it is new for the car.

It holds no clock, no I/O and nothing but the last advice per car: the live engine owns
one per race.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from cognirace.strategy.advice import StrategyAnswer
from cognirace.strategy.scoring import CandidateSummary

SWITCH_MARGIN_POSITIONS = 0.25
"""Least expected gain, in places, for new advice to replace the kept one."""

SWITCH_SE = 2.0
"""Paired standard errors that gain must also exceed."""


@dataclass(frozen=True)
class Advice:
    """The advice in force for a car.

    Attributes:
        car_number: The car.
        label: The advised candidate (as in the answer's summaries).
        summary: Its summary in the latest answer.
        why: Why it is advised (the answer's sentence when it changed, else why it holds).
        changed: It changed with this answer.
        stops: The car's stops when it was given.
    """

    car_number: str
    label: str
    summary: CandidateSummary
    why: str
    changed: bool
    stops: int


class Advisor:
    """The last advice per car; see the module docstring."""

    def __init__(self) -> None:
        self._last: dict[str, Advice] = {}

    def advice(self, car_number: str) -> Advice | None:
        """The advice in force for the car, if any."""
        return self._last.get(car_number)

    def update(self, answer: StrategyAnswer) -> Advice:
        """The advice after a new answer for its car (a change in the car's stops since
        the last one starts the advice over)."""
        stops = answer.stops
        last = self._last.get(answer.car_number)
        best = answer.recommended
        labels = [c.label for c in answer.candidates]
        if last is None or last.stops != stops or last.label not in labels:
            return self._keep(Advice(answer.car_number, best.label, best, answer.why,
                                     changed=last is None or last.label != best.label,
                                     stops=stops))
        kept = labels.index(last.label)
        if best.label == last.label:
            return self._keep(Advice(answer.car_number, best.label, best, answer.why,
                                     changed=False, stops=stops))
        new = labels.index(best.label)
        diff = (answer.finish_positions[kept] - answer.finish_positions[new]).astype(float)
        gain = float(diff.mean())
        se = float(diff.std(ddof=1)) / math.sqrt(len(diff)) if len(diff) > 1 else math.inf
        if gain >= SWITCH_MARGIN_POSITIONS and gain > SWITCH_SE * se:
            return self._keep(Advice(answer.car_number, best.label, best, answer.why,
                                     changed=True, stops=stops))
        held = answer.candidates[kept]
        why = (f"Still {held.label}: {best.label} is {gain:.2f} places better (±{se:.2f}), "
               f"short of the {SWITCH_MARGIN_POSITIONS} places it takes to change the call.")
        return self._keep(Advice(answer.car_number, held.label, held, why, changed=False,
                                 stops=stops))

    def _keep(self, advice: Advice) -> Advice:
        self._last[advice.car_number] = advice
        return advice


__all__ = ["SWITCH_MARGIN_POSITIONS", "SWITCH_SE", "Advice", "Advisor"]
