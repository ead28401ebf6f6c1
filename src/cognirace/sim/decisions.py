"""What the pit wall decides for one car, and how a decision rewrites the race's plan.

A branch of a race (``simulate_race(..., decisions=...)``, ``season.branch``) replays
the same race with the same random numbers except for one car's stops, so two branches
differ by the decision alone. A ``Decision`` is a stop (``Decision.pit(car, lap,
service)``) or no discretionary stop at all (``Decision.stay_out(car)``).

The decisions for a car replace its discretionary planned stops: the tyre gambles under
a yellow (reason ``tyres``, the only stops the plan draws by choice). What a team cannot
decide away stays: the repair after a caution the car caused or after damage under
green, drive-through penalties, retirements. A decided stop on the lap of such a forced
stop adds nothing: the car is in the pit lane already. Other cars keep their plan.

Services: ``tires`` (a tyre change, ``plan.TYRE_CHANGE_S`` standing), ``repair`` (a
damage repair with new tyres, ``plan.REPAIR_S``), ``drive_through`` (the pit lane at the
limiter, no stop). There is no fuel service: a car starts with fuel for the whole race
and the simulator models no refuelling (``engine`` only burns fuel), so a splash would
change nothing.

A decided stop's stationary time comes from a generator of its own, keyed by the race's
seed, the car and the in-lap (``tape.keyed_rng``), never from the race's generator: the
race draws exactly what it draws without decisions. The same draw sets the time of every
service on that lap (its share of the service's range), so branches that differ only by
service differ by the service alone.

A car is addressed by its index in the race's car order (``car``) or by its number as
text (``car_number``; ``"03"`` and ``"3"`` are different cars), which is what a backtest
knows before the field is drawn.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np

from cognirace.errors import ConfigError
from cognirace.sim.drivers import Driver
from cognirace.sim.plan import REPAIR_S, TYRE_CHANGE_S, PitStop, RacePlan
from cognirace.sim.tape import keyed_rng

Action = Literal["pit", "stay_out"]
Service = Literal["tires", "repair", "drive_through"]
SERVICES: tuple[str, ...] = get_args(Service)
"""The services a decided stop can have."""

DISCRETIONARY_REASONS = frozenset({"tyres"})
"""Reasons of planned stops a decision replaces; every other reason is forced."""

DECISION_KEY = 911_001
"""First word of the spawn key of a decided stop's stationary-time draw."""

_SERVICE_STOP: dict[str, tuple[str, tuple[float, float], bool]] = {
    "tires": ("tyres", TYRE_CHANGE_S, True),
    "repair": ("damage", REPAIR_S, True),
    "drive_through": ("drive_through", (0.0, 0.0), False),
}
"""Per service: the stop's reason (the plan's names), stationary range in s, new tyres."""


def _bad(field_name: str, message: str, value: object, hint: str) -> ConfigError:
    return ConfigError(f"Decision.{field_name}: {message}", value=value, hint=hint)


@dataclass(frozen=True, slots=True)
class Decision:
    """For one car, what the pit wall decides: a stop on a lap, or staying out.

    Build one with ``Decision.pit`` or ``Decision.stay_out``; the fields are checked on
    construction, the car and the lap against the race when it runs.

    Attributes:
        action: ``pit`` or ``stay_out``.
        car: Index of the car in the race's car order; or None with ``car_number``.
        car_number: The car's number as text; or None with ``car``.
        lap: In-lap of the stop, 1-based as ``PitStop.lap`` (``pit`` only).
        service: ``tires``, ``repair`` or ``drive_through`` (``pit`` only).
    """

    action: Action
    car: int | None = None
    car_number: str | None = None
    lap: int | None = None
    service: Service | None = None

    def __post_init__(self) -> None:
        if self.action not in ("pit", "stay_out"):
            raise _bad("action", "must be 'pit' or 'stay_out'", self.action,
                       "use Decision.pit(car, lap, service) or Decision.stay_out(car)")
        if (self.car is None) == (self.car_number is None):
            raise _bad("car", "give exactly one of car (index) and car_number (text)",
                       (self.car, self.car_number), "e.g. Decision.pit('13', 8)")
        if self.car is not None and (isinstance(self.car, bool) or not isinstance(
                self.car, int) or self.car < 0):
            raise _bad("car", "must be an index 0, 1, ... in the race's car order", self.car,
                       "pass a car number as text, e.g. '7'")
        if self.car_number is not None and (not isinstance(self.car_number, str)
                                            or not self.car_number):
            raise _bad("car_number", "must be the car's number as text", self.car_number,
                       "numbers are text: '03' and '3' are different cars")
        if self.action == "stay_out":
            if self.lap is not None or self.service is not None:
                raise _bad("lap", "stay_out takes no lap or service", (self.lap, self.service),
                           "use Decision.pit(car, lap, service) for a stop")
            return
        self._check_pit()

    def _check_pit(self) -> None:
        if isinstance(self.lap, bool) or not isinstance(self.lap, int) or self.lap < 1:
            raise _bad("lap", "a stop's in-lap must be 1 or more (1-based, as PitStop.lap)",
                       self.lap, "lap k means the car crosses the line in the pit lane "
                       "at the end of lap k")
        if self.service not in SERVICES:
            hint = f"use one of {', '.join(SERVICES)}"
            if str(self.service) == "fuel":
                hint = ("the simulator models no refuelling (a car starts with fuel for "
                        f"the race); {hint}")
            raise _bad("service", "unknown service", self.service, hint)

    @classmethod
    def pit(cls, car: int | str, lap: int, service: Service = "tires") -> Decision:
        """Stop ``car`` (index, or number as text) at the end of ``lap`` for ``service``."""
        if isinstance(car, str):
            return cls("pit", car_number=car, lap=lap, service=service)
        return cls("pit", car=car, lap=lap, service=service)

    @classmethod
    def stay_out(cls, car: int | str) -> Decision:
        """No discretionary stop for ``car`` (index, or number as text)."""
        if isinstance(car, str):
            return cls("stay_out", car_number=car)
        return cls("stay_out", car=car)

    def car_in(self, drivers: Sequence[Driver]) -> int:
        """The car's index in the race whose field (in car order) is ``drivers``.

        Raises:
            ConfigError: The car is not in the field.
        """
        if self.car_number is None:
            assert self.car is not None
            if self.car >= len(drivers):
                raise _bad("car", f"no such car: the race runs cars 0..{len(drivers) - 1}",
                           self.car, "index the race's car order, or pass the car number")
            return self.car
        numbers = [d.car_number for d in drivers]
        if self.car_number not in numbers:
            raise _bad("car_number", "no car of this race carries that number",
                       self.car_number, f"the field runs {', '.join(sorted(numbers))}")
        return numbers.index(self.car_number)


def resolve_decisions(decisions: Sequence[Decision], drivers: Sequence[Driver],
                      max_laps: int) -> dict[int, list[Decision]]:
    """Check decisions against the race and group them by car index.

    Args:
        decisions: The decisions of a branch.
        drivers: The race's field in car order.
        max_laps: Most laps the race can run (``engine.race_lap_limit``).

    Raises:
        ConfigError: A car not in the field, a lap beyond the race, a car both staying
            out and stopping, or two stops of one car on one lap.
    """
    by_car: dict[int, list[Decision]] = {}
    for d in decisions:
        if not isinstance(d, Decision):
            raise ConfigError("decisions must be Decision objects", value=d,
                              hint="build them with Decision.pit or Decision.stay_out")
        car = d.car_in(drivers)
        if d.lap is not None and d.lap > max_laps:
            raise _bad("lap", f"beyond the race: it runs at most {max_laps} laps", d.lap,
                       "choose an in-lap the race reaches")
        for other in by_car.get(car, []):
            if (d.action == "stay_out") != (other.action == "stay_out"):
                raise _bad("action", f"car {car} both stays out and stops", d.action,
                           "give a car either stops or stay_out")
            if d.action == "pit" and d.lap == other.lap:
                raise _bad("lap", f"car {car} already stops on this lap", d.lap,
                           "give one service per stop")
        by_car.setdefault(car, []).append(d)
    return by_car


def decided_stop(car: int, decision: Decision, root: np.random.SeedSequence) -> PitStop:
    """The stop a ``pit`` decision makes, its stationary time keyed by race, car and lap."""
    assert decision.lap is not None and decision.service is not None
    reason, (low, high), new_tyres = _SERVICE_STOP[decision.service]
    share = float(keyed_rng(root, DECISION_KEY, car, decision.lap).random())
    stationary = low + (high - low) * share
    return PitStop(car, decision.lap, reason, stationary, new_tyres, decided=True)


def apply_decisions(plan: RacePlan, by_car: dict[int, list[Decision]],
                    root: np.random.SeedSequence) -> RacePlan:
    """The plan with each decided car's discretionary stops replaced by its decisions.

    Args:
        plan: The race's plan as drawn.
        by_car: Checked decisions by car index (``resolve_decisions``).
        root: The race's seed sequence (``tape.race_root``).
    """
    pits = {key: stop for key, stop in plan.pits.items()
            if not (key[1] in by_car and stop.reason in DISCRETIONARY_REASONS)}
    for car, decisions in by_car.items():
        for d in decisions:
            if d.action == "pit":
                assert d.lap is not None
                pits.setdefault((d.lap, car), decided_stop(car, d, root))
    return dataclasses.replace(plan, pits=pits)


__all__ = ["DISCRETIONARY_REASONS", "SERVICES", "Action", "Decision", "Service",
           "apply_decisions", "decided_stop", "resolve_decisions"]
