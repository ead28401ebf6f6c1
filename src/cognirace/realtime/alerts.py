"""When the live engine raises an event, and the thresholds behind each one.

Each rule reads the models' answers (or the tower) and adds an event to the race's log
with its severity, the numbers behind it, one plain sentence, its lap and time. A
condition that holds for a while raises its event once: ``Latch`` keeps it quiet until
the condition has cleared, and where a model's number moves about its threshold the
condition clears only below a lower one (hysteresis), so one tire set going off is one
event, not one per lap that it wobbles across the line.

Thresholds are named here, each with the reason for its value.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from cognirace.realtime.events import (
    ANOMALY,
    CAUTION_END,
    CAUTION_START,
    FCY_RISK,
    LOW_FUEL,
    PACE_DROP,
    PIT_WINDOW,
    POSITION_CHANGE,
    STRATEGY,
    TIRE_DEGRADATION,
    EventLog,
    Latch,
)
from cognirace.realtime.tower import CarState
from cognirace.strategy.advisor import Advice

PACE_DROP_MARGIN_S = 0.5
"""PACE_DROP when a green lap is this much slower than the model's P90 for it: a lap
past P90 alone happens one lap in ten by design, too often to call."""
LOW_FUEL_MARGIN_LAPS = 1.0
"""LOW_FUEL when the fuel left covers fewer laps than remain plus this margin."""
PIT_WINDOW_SAVING_S = 10.0
"""PIT_WINDOW when a stop under the caution costs at least this much less than green."""
TIRE_DEG_ON_S_PER_LAP = 0.10
"""TIRE_DEGRADATION when the set's wear (``deg_s_per_lap``) reaches this: about three
times a typical GR86 set's 0.035 s a lap, a set that is going off."""
TIRE_DEG_OFF_S_PER_LAP = 0.07
"""...and it clears below this (twice the typical rate): the stint's first noisy laps
can move the estimate by a few hundredths either way."""
TIRE_LOSS_ON_S = 1.5
"""TIRE_DEGRADATION when the forecast lap at the horizon (``loss_p50_s``: its time over
the stint's level) is this much slower: over the five laps to the horizon it adds up to
a good part of a pit stop's cost."""
TIRE_LOSS_OFF_S = 1.0
"""...and it clears below this, a third lower, so a forecast that moves with each lap's
scatter does not raise the event twice."""
FCY_RISK_COLUMN = "p_fcy_start_3"
"""The hazard answer FCY_RISK reads: a caution within three laps, the time it takes to
bring a car in for a stop that the caution would make cheap."""
FCY_RISK_ON = 0.30
"""FCY_RISK when that chance reaches 30 %: about three times a green lap's usual chance
at GR Cup tracks (a caution or two in a 45-minute race)."""
FCY_RISK_OFF = 0.20
"""...and it clears below 20 %, so a hazard hovering at the threshold is one event."""
STRATEGY_P_GAIN = 0.30
"""STRATEGY when the advice changes to a call with at least this chance to gain a place:
a change of advice the car is unlikely to profit from is kept in the car's answers but
not pushed to the pit wall."""
ANOMALY_CLEAR_WINDOWS = 6
"""Telemetry windows in a row (30 s at 5 s each) a car must run without the same kind of
anomaly before another ANOMALY of that kind is raised: a fault shows in some of its
windows, not all, and the detector's flags flicker across it."""
MECHANICAL = ("brake", "power", "gearbox")
"""Anomaly kinds that are the car, not a sensor: critical, the car may need to stop."""
_ANOMALY_WORDS = {"brake": "brake fade", "power": "a power loss", "gearbox": "gearbox trouble",
                  "sensor": "a sensor fault"}


@dataclass
class Alerts:
    """The event rules of one race, writing to its log (see the module docstring)."""

    log: EventLog
    latch: Latch = field(default_factory=Latch)
    _quiet: dict[tuple[str, str], int] = field(default_factory=dict)

    # --- the race -------------------------------------------------------------

    def caution(self, before: str, after: str, lap: int, time: dt.datetime | None,
                source: str) -> bool:
        """CAUTION_START or CAUTION_END on a change of flag; True when one started.

        A caution that starts ends the risk of one (FCY_RISK may be raised again once
        the field is back to green); one that ends closes the cheap pit window.
        """
        if before != "FCY" and after == "FCY":
            self.log.add(CAUTION_START, "warning", f"Full-course yellow on lap {lap}.",
                         lap=lap, time=time, data={"source": source})
            self.latch.clear(FCY_RISK, "race")
            return True
        if before == "FCY" and after != "FCY":
            self.log.add(CAUTION_END, "info", f"Green flag: the caution ends on lap {lap}.",
                         lap=lap, time=time, data={"source": source})
            self.latch.on = {k for k in self.latch.on if k[0] != PIT_WINDOW}
        return False

    def fcy_risk(self, answer: dict[str, Any], inputs: dict[str, Any],
                 time: dt.datetime | None) -> None:
        """FCY_RISK when the hazard of a caution within three laps is high (``inputs``:
        the hazard row it answered, for the numbers behind the event)."""
        p = float(answer[FCY_RISK_COLUMN])
        if p < FCY_RISK_OFF:
            self.latch.clear(FCY_RISK, "race")
        if p >= FCY_RISK_ON and self.latch.fire(FCY_RISK, "race"):
            lap = int(answer["lap"])
            self.log.add(FCY_RISK, "warning",
                         f"A full-course yellow within 3 laps is {p:.0%} likely after lap "
                         f"{lap} ({inputs['n_off_pace']} car(s) off pace).", lap=lap,
                         time=time, data={**inputs, **answer, "threshold": FCY_RISK_ON})

    def pit_windows(self, cars: Iterable[CarState], time: dt.datetime | None) -> None:
        """At a caution's start: each car for which a stop now costs much less."""
        for car in cars:
            stops = car.predictions.get("pitloss")
            if not stops or "pit_loss_caution_s" not in stops or car.in_pit:
                continue
            saving = stops["pit_loss_green_s"] - stops["pit_loss_caution_s"]
            if saving >= PIT_WINDOW_SAVING_S and self.latch.fire(PIT_WINDOW, car.car_number):
                self.log.add(PIT_WINDOW, "warning",
                             f"Car {car.car_number}: a stop under this caution costs "
                             f"{stops['pit_loss_caution_s']:.0f} s, {saving:.0f} s less "
                             "than under green.", car_number=car.car_number, lap=car.laps,
                             time=time, data={**stops, "saving_s": saving})

    # --- one car --------------------------------------------------------------

    def strategy(self, car: CarState, advice: Advice, time: dt.datetime | None) -> None:
        """STRATEGY when the advice in force changes (the advisor's hysteresis keeps it
        from flickering) to a call with a fair chance to gain a place."""
        summary = advice.summary
        if not advice.changed or summary.p_gain < STRATEGY_P_GAIN:
            return
        rejoin = summary.rejoin
        self.log.add(STRATEGY, "warning" if summary.candidate.kind != "stay_out" else "info",
                     f"Car {car.car_number}: {advice.why}", car_number=car.car_number,
                     lap=car.laps, time=time,
                     data={"label": advice.label, "kind": summary.candidate.kind,
                           "lap": summary.candidate.lap,
                           "expected_position": summary.expected_position,
                           "p_gain": summary.p_gain, "p_lose": summary.p_lose,
                           "gain_vs_stay_out": summary.gain_vs_stay_out,
                           "rejoin_position": None if rejoin is None else rejoin.position})

    def pace_drop(self, car: CarState, previous: dict[str, Any] | None, flag: str) -> None:
        """The lap just run against the P90 the model gave for it a lap earlier."""
        if previous is None or car.last_lap_s is None or car.in_pit or flag == "FCY":
            return
        p90 = float(previous["lap_time_p90_s"])
        if not car.last_lap_s > p90:
            self.latch.clear(PACE_DROP, car.car_number)
        elif car.last_lap_s >= p90 + PACE_DROP_MARGIN_S \
                and self.latch.fire(PACE_DROP, car.car_number):
            self.log.add(PACE_DROP, "warning",
                         f"Car {car.car_number} ran {car.last_lap_s:.3f} s, "
                         f"{car.last_lap_s - p90:.1f} s slower than the {p90:.3f} s it "
                         "should beat nine times in ten.",
                         car_number=car.car_number, lap=car.laps, time=car.last_crossing,
                         data={"lap_time_s": car.last_lap_s, "p90_s": p90,
                               "p50_s": float(previous["lap_time_p50_s"])})

    def low_fuel(self, car: CarState, laps_left: float | None) -> None:
        """LOW_FUEL when the fuel left does not cover the laps left and a margin."""
        left, burn = car.fuel_left_l, car.predictions["fuel"]["fuel_used_pred_l"]
        if left is None or laps_left is None or burn <= 0:
            return
        laps_of_fuel = left / burn
        if not laps_of_fuel < laps_left + LOW_FUEL_MARGIN_LAPS:
            self.latch.clear(LOW_FUEL, car.car_number)
        elif self.latch.fire(LOW_FUEL, car.car_number):
            self.log.add(LOW_FUEL, "critical",
                         f"Car {car.car_number} has fuel for {laps_of_fuel:.1f} laps, "
                         f"{laps_left:.1f} remain.", car_number=car.car_number,
                         lap=car.laps, time=car.last_crossing,
                         data={"fuel_left_l": left, "burn_l_per_lap": burn,
                               "laps_of_fuel": laps_of_fuel, "laps_left": laps_left})

    def position(self, old: int | None, car: CarState, time: dt.datetime | None) -> None:
        """A change of place of the car that crossed, once it has run a lap."""
        new = car.position
        if old is None or new is None or old == new or car.laps < 2:
            return
        gained = old - new
        self.log.add(POSITION_CHANGE, "info",
                     f"Car {car.car_number} {'gains' if gained > 0 else 'loses'} "
                     f"{abs(gained)} place{'s' if abs(gained) > 1 else ''}: P{old} to P{new}.",
                     car_number=car.car_number, lap=car.laps, time=time,
                     data={"from": old, "to": new})

    def new_stint(self, car: CarState) -> None:
        """A new tire set: the last set's wear no longer holds."""
        self.latch.clear(TIRE_DEGRADATION, car.car_number)

    def tire(self, car: CarState, answer: dict[str, Any]) -> None:
        """TIRE_DEGRADATION when the set's wear, or the forecast loss at the horizon,
        is high; cleared when both are back below their lower thresholds."""
        deg, loss = float(answer["deg_s_per_lap"]), float(answer["loss_p50_s"])
        if deg < TIRE_DEG_OFF_S_PER_LAP and loss < TIRE_LOSS_OFF_S:
            self.latch.clear(TIRE_DEGRADATION, car.car_number)
        if (deg >= TIRE_DEG_ON_S_PER_LAP or loss >= TIRE_LOSS_ON_S) \
                and self.latch.fire(TIRE_DEGRADATION, car.car_number):
            horizon = float(answer["horizon_age_laps"])
            self.log.add(TIRE_DEGRADATION, "warning",
                         f"Car {car.car_number}'s tires are going off: {deg:.3f} s a lap "
                         f"of wear, a lap {loss:.1f} s slower than the stint's level at "
                         f"{horizon:.0f} laps of tire age.", car_number=car.car_number,
                         lap=car.laps, time=car.last_crossing,
                         data={**answer, "deg_threshold_s_per_lap": TIRE_DEG_ON_S_PER_LAP,
                               "loss_threshold_s": TIRE_LOSS_ON_S})

    def anomaly(self, car: CarState, answer: dict[str, Any], time: dt.datetime | None
                ) -> None:
        """ANOMALY when a window is flagged; the same kind again on the car only after
        ``ANOMALY_CLEAR_WINDOWS`` windows in a row without it. ``time``: the window's
        start."""
        kind = str(answer["anomaly_kind"]) if answer["is_anomaly"] else None
        for key in [k for k in self._quiet if k[0] == car.car_number and k[1] != kind]:
            self._quiet[key] += 1
            if self._quiet[key] >= ANOMALY_CLEAR_WINDOWS:
                del self._quiet[key]
                self.latch.clear(ANOMALY, f"{key[0]}:{key[1]}")
        if kind is None:
            return
        self._quiet[(car.car_number, kind)] = 0
        if not self.latch.fire(ANOMALY, f"{car.car_number}:{kind}"):
            return
        channels = [c for c in str(answer["anomaly_channels"] or "").split(",") if c]
        words = _ANOMALY_WORDS.get(kind, f"a {kind} anomaly")
        self.log.add(ANOMALY, "critical" if kind in MECHANICAL else "warning",
                     f"Car {car.car_number}: likely {words} on lap {answer['lap']}"
                     f"{', in ' + ', '.join(channels) if channels else ''} "
                     f"(score {float(answer['p_anomaly']):.2f}).",
                     car_number=car.car_number, lap=answer["lap"], time=time,
                     data={**answer, "kind": kind, "channels": channels})


__all__ = ["ANOMALY_CLEAR_WINDOWS", "FCY_RISK_COLUMN", "FCY_RISK_OFF", "FCY_RISK_ON",
           "LOW_FUEL_MARGIN_LAPS", "MECHANICAL", "PIT_WINDOW_SAVING_S", "TIRE_DEG_OFF_S_PER_LAP",
           "TIRE_DEG_ON_S_PER_LAP", "TIRE_LOSS_OFF_S", "TIRE_LOSS_ON_S", "Alerts"]
