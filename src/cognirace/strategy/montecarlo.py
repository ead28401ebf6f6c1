"""``simulate_rest``: the rest of the race, many times over, for every candidate of a car.

One run draws every random number once (``draws``: lap-time noise, cautions, passes,
stops of the other cars, burn) and steps through the laps once (a loop over laps; each
step is array arithmetic): the field with the car asked about staying out (the base
run, ``field_run``, ``[sims, cars]``), and beside it the car under every candidate at
once (``car_run``, ``[candidates, sims]``): the base run's laps until its stop, racing
the base run's field after it. Then it classifies the car at the timed finish
(``finish``) and lets every car drop out of contention at the real races' rate
(``attrition``), on draws shared by the candidates. Sharing the field is what makes
all candidates cost little more than one, and the common random numbers make the
difference between two candidates their decision alone.

Time origin: race time since the green flag. The snapshot's moment is its latest
crossing (the leader's, for a snapshot taken at the leader's crossing), and the clock
runs out ``time_left_s`` after it. The run covers enough laps for every car to reach
the flag (``horizon_laps``), bounded from the fastest lap a car can do.

What is assumed rather than read from the snapshot is in ``assumptions``; what the
snapshot lacked and how it was filled is in the result's ``notes``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from cognirace.errors import StrategyError
from cognirace.strategy.assumptions import (
    ATTRITION_PER_LAP,
    CAUTION_GAP_S,
    FUEL_CELL_L,
    REFUEL_L_PER_S,
    Z_CLIP,
)
from cognirace.strategy.attrition import with_attrition
from cognirace.strategy.candidates import Candidate
from cognirace.strategy.car_run import CarRun, CarSim, Plans, plans_for, rivals
from cognirace.strategy.draws import RaceDraws, caution_schedule, draw_race
from cognirace.strategy.field import Field, build_field
from cognirace.strategy.field_run import EXTRA_LAPS, Conditions, FieldRun, FieldSim
from cognirace.strategy.finish import (
    FieldLaps,
    Finish,
    car_positions,
    classify,
    finishes,
    first_crossings,
    flag_times,
    lap_chart,
    last_crossings,
)
from cognirace.strategy.snapshot import RaceSnapshot

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

MAX_SIMS = 100_000
"""Most simulations one call runs: memory grows as sims × cars × laps (100,000 runs of
25 cars over 30 laps hold 600 MB of crossing times)."""


@dataclass(frozen=True)
class CandidateOutcome:
    """One candidate over every simulation, ``[sims]``.

    Attributes:
        candidate: The candidate.
        finish_position: Finish position (1 = winner).
        laps: Laps completed at the finish.
        dry: Ran out of fuel before the flag; None when the car's fuel is unknown.
        stopped: The stop was made (before the car's finish).
        ends_s: The car's crossing times, ``[sims, laps]``, s (inf once retired).
    """

    candidate: Candidate
    finish_position: IntArray
    laps: IntArray
    dry: BoolArray | None
    stopped: BoolArray
    ends_s: FloatArray

    @property
    def p_dry(self) -> float | None:
        """Chance of running out of fuel, or None when the car's fuel is unknown."""
        return None if self.dry is None else float(self.dry.mean())


@dataclass(frozen=True)
class RestOfRace:
    """The rest of the race, ``n_sims`` times.

    The field's arrays are the base run: the car asked about stays out in it (it is the
    stay-out candidate's run), the others do what they are expected to.

    Attributes:
        car_numbers: The cars, in the snapshot's position order (the ``cars`` axis).
        car_number: The car the candidates are for, or None.
        ends_s: Crossing times, ``[sims, cars, laps]``, s (inf: retired).
        caution: Lap ``i`` (of the leader) runs under caution, ``[sims, laps]``.
        flag_s: When the chequered flag fell, ``[sims]``, s.
        finish_position: ``[sims, cars]`` (1 = winner).
        laps: Laps completed at the finish, ``[sims, cars]``.
        dry: Ran out of fuel before the flag, ``[sims, cars]`` (False where unknown).
        fuel_known: Whether each car's running dry can be known, ``[cars]``.
        outcomes: One per candidate, in the order given.
        notes: What the snapshot lacked and how it was filled.
    """

    car_numbers: tuple[str, ...]
    car_number: str | None
    ends_s: FloatArray
    caution: BoolArray
    flag_s: FloatArray
    finish_position: IntArray
    laps: IntArray
    dry: BoolArray
    fuel_known: BoolArray
    outcomes: tuple[CandidateOutcome, ...]
    notes: tuple[str, ...]

    @property
    def n_sims(self) -> int:
        return int(self.ends_s.shape[0])

    @property
    def n_laps(self) -> int:
        """Laps simulated (enough for every car to reach the flag)."""
        return int(self.ends_s.shape[2])

    def p_dry(self, car_number: str) -> float | None:
        """A car's chance of running out of fuel in the base run; None when unknown."""
        i = self.car_numbers.index(car_number)
        return float(self.dry[:, i].mean()) if self.fuel_known[i] else None


def horizon_laps(field: Field, snap: RaceSnapshot, candidates: Sequence[Candidate]) -> int:
    """Laps to simulate so that every running car reaches the flag in every run.

    The flag falls at most one longest lap after the clock runs out; the car that
    crossed the line longest ago must get there at its shortest lap. The shortest lap
    is P50 less ``Z_CLIP`` σ, less all the fuel it could burn and all the wear new
    tires could take off; the longest is a caution lap at the back of the queue or the
    slowest green lap, plus the longest stop.
    """
    run = field.running
    end = field.now_s + snap.time_left_s
    span = end - float(field.race_time_s[run].min())
    fuel = np.nan_to_num(field.fuel_l, nan=FUEL_CELL_L)
    guess = max(span, 0.0) / float(field.p50_s[run].min()) + 2.0
    gain = (np.abs(field.deg_s_per_lap) * (field.tire_age_laps + guess + 1.0)
            + field.fuel_s_per_l * fuel)
    shortest = float((field.p50_s - Z_CLIP * field.sigma_lo_s - gain)[run].min())
    shortest = max(shortest, 0.5 * float(field.p50_s[run].min()))
    stop = max([snap.pit_loss_green_s, snap.pit_loss_caution_s]
               + [c.losses_s(snap)[0] for c in candidates]) + FUEL_CELL_L / REFUEL_L_PER_S
    green = float((field.p50_s + Z_CLIP * field.sigma_hi_s + gain)[run].max())
    longest = max(green, field.caution_lap_s + field.n_cars * CAUTION_GAP_S) + stop
    return max(1, math.ceil((max(span, 0.0) + longest) / shortest) + 1)


def _car_of(candidates: Sequence[Candidate], field: Field) -> int | None:
    numbers = {c.car_number for c in candidates}
    if len(numbers) > 1:
        raise StrategyError("candidates must all be for one car", value=sorted(numbers),
                            hint="call simulate_rest once per car")
    return field.index(numbers.pop()) if numbers else None


def simulate_rest(snapshot: RaceSnapshot, candidates: Sequence[Candidate], n_sims: int,
                  rng: np.random.Generator, *, force_caution: bool = False,
                  exact_after_stop: bool = False,
                  attrition: float = ATTRITION_PER_LAP) -> RestOfRace:
    """Simulate the rest of the race ``n_sims`` times for the field and each candidate.

    Args:
        snapshot: The race now.
        candidates: Candidates of one car (any number, stay out included or not; the
            car stays out in the base run either way). Empty: the field alone.
        n_sims: Simulations (each candidate runs on all of them).
        rng: The only source of randomness: equal generator states give equal results.
        force_caution: A caution starts on the next lap ("pit if a caution starts
            now?"); ignored when one is out already.
        exact_after_stop: After its stop, race the car against the field simulated
            again without it, rather than the base run's (``car_run``): twice the work.
        attrition: Chance per car and lap of dropping out, applied to the candidates'
            finish positions (``strategy.attrition``; the field's own arrays race every
            car to the flag); 0 leaves it out.

    Raises:
        StrategyError: Candidates for more than one car, a car out of the race, or
            ``n_sims`` out of range.
    """
    if not 1 <= n_sims <= MAX_SIMS:
        raise StrategyError(f"n_sims must be within 1..{MAX_SIMS:,}", value=n_sims,
                            hint="1,000 simulations give P(gain) to about ±0.016")
    field = build_field(snapshot)
    car = _car_of(candidates, field)
    max_laps = horizon_laps(field, snapshot, candidates)
    draws = draw_race(rng, n_sims, field.n_cars, max_laps)
    under, starts = caution_schedule(draws, snapshot.caution_hazard, ongoing=snapshot.caution,
                                     force=force_caution and not snapshot.caution)
    cond = Conditions(end_s=field.now_s + snapshot.time_left_s, under=under, starts=starts,
                      pit_loss_green_s=snapshot.pit_loss_green_s,
                      pit_loss_caution_s=snapshot.pit_loss_caution_s)
    lined = _Lined.of(field)
    plans = (None if car is None else
             plans_for(tuple(candidates), snapshot, int(field.laps[car]), under.T))
    for until_flag in (True, False):
        base_run, without, car_run = _run(field, draws, cond, car, plans, max_laps,
                                          until_flag, exact_after_stop)
        chart = lined.chart(base_run.ends_s)
        outcomes = () if car is None or car_run is None else _candidates(
            candidates, field, car, cond, base_run, without, car_run, chart, lined)
        if outcomes is not None:
            break
        draws.restart()
    if outcomes is None:
        raise StrategyError(f"a car did not reach the flag in the {max_laps} laps simulated",
                            hint="a lap or a stop far longer than the snapshot's paces: "
                            "check the lap-time quantiles and the pit losses")
    if outcomes and car is not None:
        outcomes = _with_attrition(outcomes, field, car, attrition, rng)
    flag = flag_times(first_crossings(chart, lined.before), cond.end_s, 0)
    ends = np.moveaxis(base_run.ends_s, 0, 2)
    base = finishes(ends, field.laps, flag[:, None], field.race_time_s)
    return RestOfRace(
        car_numbers=field.car_numbers,
        car_number=None if car is None else field.car_numbers[car],
        ends_s=ends, caution=under[:base_run.ends_s.shape[0]].T, flag_s=flag,
        finish_position=classify(base), laps=base.laps, dry=base_run.dry & ~base.took_flag,
        fuel_known=np.isfinite(field.fuel_l), outcomes=outcomes, notes=field.notes)


def _with_attrition(outcomes: tuple[CandidateOutcome, ...], field: Field, car: int,
                    hazard: float, rng: np.random.Generator) -> tuple[CandidateOutcome, ...]:
    positions = np.stack([o.finish_position for o in outcomes])
    laps_left = np.stack([o.laps for o in outcomes]) - int(field.laps[car])
    dropped = with_attrition(positions, laps_left, int(field.running.sum()), hazard, rng)
    return tuple(replace(o, finish_position=dropped[i]) for i, o in enumerate(outcomes))


def _run(field: Field, draws: RaceDraws, cond: Conditions, car: int | None,
         plans: Plans | None, max_laps: int, until_flag: bool, exact: bool
         ) -> tuple[FieldRun, FieldRun | None, CarRun | None]:
    """The laps: the base run, the field without the car (``exact``, when a plan stops),
    and the car's plans, all stepping through the same laps together.

    With ``until_flag`` the run stops ``EXTRA_LAPS`` after every car of the base run has
    taken the flag, else it runs all ``max_laps``.
    """
    base = FieldSim(field, cond, draws.burn_factor, max_laps, stay_out=car)
    stops = plans is not None and bool((plans.stop_lap >= 0).any())
    without = (FieldSim(field, cond, draws.burn_factor, max_laps, exclude=car)
               if stops and exact else None)
    runner = (None if car is None or plans is None
              else CarSim(field, car, cond, draws.burn_factor, plans, max_laps))
    done = max_laps
    for lap in range(max_laps):
        z, u_lap = draws.lap(lap)
        queue = base.step(lap, z, u_lap)
        other = None if without is None else without.step(lap, z, u_lap)
        if runner is not None and car is not None:
            raced = other if other is not None or not stops else rivals(queue, car)
            runner.step(lap, z, u_lap, queue, raced)
        if lap + 1 == done:
            break
        if until_flag and done == max_laps and base.flagged:
            done = min(lap + 1 + EXTRA_LAPS, max_laps)
    return (base.result(), None if without is None else without.result(),
            None if runner is None else runner.result())


@dataclass(frozen=True)
class _Lined:
    """How crossings are put in lap-number order (``lap_chart``)."""

    before: int
    lead: int
    down: IntArray

    @classmethod
    def of(cls, field: Field) -> _Lined:
        lead = int(field.laps[field.running].max())
        down = np.clip(lead - field.laps, 0, None)
        return cls(before=int(down[field.running].max()), lead=lead, down=down)

    def chart(self, ends: FloatArray) -> FloatArray:
        """``lap_chart`` of a field's crossings ``[laps, sims, cars]``."""
        return lap_chart(ends, np.minimum(self.down, self.before), self.before)

    def car_by_lap(self, ends: FloatArray, car: int) -> FloatArray:
        """The car's crossings ``[..., laps]`` by the leader's lap number after the
        snapshot (as ``first_crossings``), inf beyond the run."""
        down = int(self.down[car])
        if down == 0:
            return ends
        out = np.full(ends.shape, np.inf)
        out[..., :ends.shape[-1] - down] = ends[..., down:]
        return out


def _candidates(candidates: Sequence[Candidate], field: Field, car: int, cond: Conditions,
                base_run: FieldRun, without: FieldRun | None, run: CarRun,
                base_chart: FloatArray, lined: _Lined) -> tuple[CandidateOutcome, ...] | None:
    """Each candidate's finish, ranked against the base run's field (or, for a car that
    has stopped in an ``exact_after_stop`` run, the field without it). None when a run
    did not reach the flag in the laps simulated (the caller then runs every lap)."""
    n_laps = base_run.ends_s.shape[0]
    car_first = lined.car_by_lap(run.ends_s, car)
    others = np.ones(field.n_cars, dtype=bool)
    others[car] = False
    laps0, t0 = int(field.laps[car]), float(field.race_time_s[car])
    variants = [(base_run, base_chart)]
    if without is not None:
        variants.append((without, lined.chart(without.ends_s)))
    charts, last, done, flags, mine = [], [], [], [], []
    for field_run, chart in variants:
        n_done, last_s = last_crossings(np.moveaxis(field_run.ends_s, 0, 2), field.race_time_s)
        first = first_crossings(chart, lined.before, others)
        flag = flag_times(np.minimum(first[None], car_first), cond.end_s, 0)
        finish = finishes(run.ends_s, laps0, flag, t0)
        alive = np.isfinite(field_run.ends_s[-1]) & others
        if not (np.all(~alive | (last_s >= flag[..., None]))
                and np.all(finish.took_flag | ~np.isfinite(run.ends_s[..., -1]))):
            return None
        charts.append(chart)
        last.append(last_s)
        done.append(field.laps + n_done)
        flags.append(flag)
        mine.append(finish)
    final = np.minimum(mine[-1].laps - laps0 - 1, n_laps - 1)
    stopped = (run.stopped_at >= 0) & (run.stopped_at <= final)
    variant = (stopped & (without is not None)).astype(np.int64)
    chosen = Finish(took_flag=np.where(stopped, mine[-1].took_flag, mine[0].took_flag),
                    laps=np.where(stopped, mine[-1].laps, mine[0].laps),
                    time_s=np.where(stopped, mine[-1].time_s, mine[0].time_s))
    laps = FieldLaps(chart=np.stack(charts), before=lined.before, lead_laps=lined.lead,
                     last_s=np.stack(last), laps_done=np.stack(done), others=others)
    position = car_positions(laps, variant, chosen, np.where(stopped, flags[-1], flags[0]))
    known = bool(np.isfinite(field.fuel_l[car]))
    return tuple(
        CandidateOutcome(candidate=c, finish_position=position[k], laps=chosen.laps[k],
                         dry=(run.dry[k] & ~chosen.took_flag[k]) if known else None,
                         stopped=stopped[k], ends_s=run.ends_s[k])
        for k, c in enumerate(candidates))


__all__ = ["MAX_SIMS", "CandidateOutcome", "RestOfRace", "horizon_laps", "simulate_rest"]
