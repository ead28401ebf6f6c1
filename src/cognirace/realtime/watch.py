"""The pit strategy of the cars a race watches (``Entry.watch``), kept every leader lap.

On the leader's crossing the engine hands the race as it stands (a ``RaceSnapshot``)
to ``StrategyWatch.ask``: each watched car's advice and its answer to "pit if a caution
starts now?" are made on the engine's side thread, each on random numbers seeded by the
race, the car and the lap, so every replica makes the same. ``settle`` takes the answers
in the order asked, at points the engine sets from the stream alone (before a later
frame's first flag or crossing): the advice in force changes only with hysteresis
(``strategy.advisor``), and the car keeps the latest answer in its predictions.
"""

from __future__ import annotations

import datetime as dt
import zlib
from collections.abc import Callable, Iterable
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field

import numpy as np

from cognirace.errors import CogniraceError
from cognirace.realtime.tower import CarState, Entry
from cognirace.strategy.advice import CautionCall, StrategyAnswer, advise, caution_call
from cognirace.strategy.advisor import Advice, Advisor
from cognirace.strategy.snapshot import RaceSnapshot

LIVE_STRATEGY_SIMS = 500
"""Simulations per watched car and leader lap: P(gain) to about ±0.02, a paired gain to a
few hundredths of a place, in about 25 ms on the side thread."""

Answers = tuple[StrategyAnswer, CautionCall]


def advice_and_caution_call(snap: RaceSnapshot, car_number: str, seed: list[int]
                            ) -> Answers:
    """A watched car's advice, and "pit if a caution starts now?" ready for when it does
    (each on random numbers of its own)."""
    return (advise(snap, car_number, np.random.default_rng([*seed, 0]),
                   n_sims=LIVE_STRATEGY_SIMS),
            caution_call(snap, car_number, np.random.default_rng([*seed, 1]),
                         n_sims=LIVE_STRATEGY_SIMS))


@dataclass
class StrategyWatch:
    """The watched cars' advice being made, and the advice in force."""

    race_id: str
    advisor: Advisor = field(default_factory=Advisor)
    _pending: list[tuple[str, Future[Answers], dt.datetime, int]] = field(
        default_factory=list)

    def ask(self, snap: RaceSnapshot, entries: Iterable[Entry], side: Executor,
            time: dt.datetime, frame: int) -> None:
        """Start every watched, running car's answers from ``snap``."""
        running = {c.car_number: c for c in snap.cars if c.running}
        for entry in entries:
            car = running.get(entry.car_number)
            if not entry.watch or car is None:
                continue
            seed = [zlib.crc32(self.race_id.encode()), zlib.crc32(car.car_number.encode()),
                    snap.lap]
            self._pending.append((car.car_number, side.submit(
                advice_and_caution_call, snap, car.car_number, seed), time, frame))

    def settle(self, before_frame: int, cars: dict[str, CarState],
               raise_event: Callable[[CarState, Advice, dt.datetime], None]) -> int:
        """Take the answers asked before frame ``before_frame``, in the order asked;
        returns how many could not be made."""
        failed = 0
        while self._pending and self._pending[0][3] < before_frame:
            number, pending, time, _ = self._pending.pop(0)
            try:
                answer, call = pending.result()
            except CogniraceError:
                failed += 1
                continue
            advice = self.advisor.update(answer)
            car = cars.get(number)
            if car is None:
                continue
            car.predictions["strategy"] = {
                **answer.to_json(), "advice": {"label": advice.label, "why": advice.why,
                                               "changed": advice.changed},
                "if_caution_now": {"pit": call.pit, "why": call.answer.why}}
            raise_event(car, advice, time)
        return failed


__all__ = ["LIVE_STRATEGY_SIMS", "StrategyWatch", "advice_and_caution_call"]
