"""The backtest's runner: held-out races branched once per policy at every decision point.

For each race (a ``RaceJob``: a season seed and a race of it):

1. the race as it ran, timing only (``sim.branch`` without decisions: the base), its
   decision points for the chosen cars (``backtest_points``);
2. the same race written in the real file format, timing only, and ingested into a
   lake of its own (a temporary folder), because the advice reads the race the way
   production does: ``snapshot_at`` with the production models, at the leader's lap of
   each decision point (one snapshot per lap, shared by the cars deciding there);
3. at each point, the advice (``strategy.advise``: every candidate of the car on the
   same Monte Carlo runs), then the race branched per policy (``backtest_policies``)
   and per candidate (the oracle), each branch the same race as it ran except the
   car's stops from the point on, and the car's classified finish position recorded.

The recommender's own Monte Carlo draws from ``numpy.random.default_rng([seed,
season, race, car, lap, ADVICE_KEY])``: a stream of its own, independent of the
simulator's race streams (``SeedSequence([season, track, event, race])``), so the advice
never sees the random numbers of the branch it is scored on.

A point without a snapshot (the laptime model has no pace for a car yet) or whose car
the snapshot has not running is skipped, and its reason counted. Races run in parallel
processes (``workers``); each worker loads the models once (``models_factory``).
"""

from __future__ import annotations

import functools
import multiprocessing
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cognirace.errors import CogniraceError
from cognirace.ingest import ingest
from cognirace.lake import Lake, open_lake
from cognirace.sim import RaceConfig, RaceResult, branch, plan_season, season_roster
from cognirace.sim.decisions import DISCRETIONARY_REASONS
from cognirace.sim.drivers import Driver
from cognirace.sim.season import simulate_one
from cognirace.strategy.advice import StrategyAnswer, advise
from cognirace.strategy.backtest_points import DecisionPoint, choose_cars, decision_points, trace_of
from cognirace.strategy.backtest_policies import (
    FIXED_POLICIES,
    Decisions,
    Setting,
    candidate_decisions,
    fixed_decisions,
    setting_of,
    stop_lap,
)
from cognirace.strategy.candidates import laps_left
from cognirace.strategy.scoring import CandidateSummary
from cognirace.strategy.snapshot import RaceSnapshot
from cognirace.strategy.snapshot_at import ModelLookup, snapshot_at

ADVICE_KEY = 424_201
"""Last word of the recommender's seed (see the module docstring)."""
CARS_KEY = 424_202
"""Last word of the seed that draws the cars of a race."""
RACES_PER_TRACK = 2
"""Races per track of a held-out season (a real season's size): 14 races a season."""


@dataclass(frozen=True)
class RaceJob:
    """One held-out race: its number in the backtest, its season's seed and config."""

    index: int
    seed: int
    config: RaceConfig


@dataclass(frozen=True)
class BacktestSettings:
    """How hard the backtest looks.

    Attributes:
        n_sims: Monte Carlo runs of each piece of advice.
        cars_per_race: Cars drawn per race whose decision points count (0: every car).
        seed: The backtest's own seed (the advice's runs and the cars drawn).
    """

    n_sims: int = 500
    cars_per_race: int = 4
    seed: int = 0


@dataclass(frozen=True)
class PointResult:
    """One decision point, scored.

    Attributes:
        race: The race's number in the backtest (the bootstrap's cluster).
        race_id: Its id in its lake.
        car_number: The car.
        leader_lap: The leader's lap of the snapshot.
        car_laps: The car's laps at the snapshot.
        kinds: Why the point is one (``backtest_points.KINDS``).
        caution_race: The race has at least one caution.
        position_now: The car's position at the snapshot.
        n_cars: Cars classified in the race.
        advice: The recommended candidate's label.
        finish: The car's finish position per policy (``backtest_policies.POLICIES``).
        p_at_or_ahead: The advice's predicted P(finish at or ahead of place k), for k = 1..n_cars.
        rejoin_estimate: Where the advice said the car rejoins (stops at a known lap).
        rejoin_actual: Where the car rejoined in the advice's branch.
        forced_after: The car, as the race ran, makes a forced stop (repair, penalty)
            after the point or retires: things the snapshot cannot know (a diagnostic
            split of the calibration, chosen in hindsight).
        branches: Every candidate's summary with the car's finish in its branch, stay
            out first: what an advice rule would have got, so rules can be compared
            on the same points (``bench/strategy_tune.py``).
    """

    race: int
    race_id: str
    car_number: str
    leader_lap: int
    car_laps: int
    kinds: tuple[str, ...]
    caution_race: bool
    position_now: int
    n_cars: int
    advice: str
    finish: dict[str, int]
    p_at_or_ahead: tuple[float, ...]
    rejoin_estimate: int | None = None
    rejoin_actual: int | None = None
    forced_after: bool = False
    branches: tuple[tuple[CandidateSummary, int], ...] = ()


@dataclass(frozen=True)
class RaceOutcome:
    """One race's scored points, the points skipped (their reasons) and its time, s."""

    race: int
    race_id: str
    caution: bool
    points: tuple[PointResult, ...]
    skipped: tuple[str, ...]
    seconds: float


def held_out_jobs(seed: int, n_races: int) -> list[RaceJob]:
    """The first ``n_races`` races of the timing-only seasons of seeds ``seed, seed+1, ...``."""
    jobs: list[RaceJob] = []
    season = seed
    while len(jobs) < n_races:
        for config in plan_season("demo", races=RACES_PER_TRACK, seed=season,
                                  telemetry_hz=0.0):
            if len(jobs) < n_races:
                jobs.append(RaceJob(len(jobs), season, config))
        season += 1
    return jobs


@functools.lru_cache(maxsize=8)
def _roster(seed: int) -> list[Driver]:
    return season_roster(seed)


def _lake(root: Path, job: RaceJob) -> tuple[Lake, str]:
    """The race written timing-only and ingested into a lake under ``root``."""
    written = simulate_one(root / "races", job.config, _roster(job.seed), job.seed)
    reports = ingest(written.folder, root / "lake", strict=True)
    return open_lake(root / "lake"), reports[0].race_id


class _Branches:
    """The car's finish in branches of one race, each decision set run once."""

    def __init__(self, job: RaceJob, base: RaceResult, car: int) -> None:
        self.job, self.base, self.car = job, base, car
        self.finish: dict[Decisions, int] = {}
        self.races: dict[Decisions, RaceResult] = {}

    def __call__(self, decisions: Decisions, keep: bool = False) -> int:
        if decisions not in self.finish:
            race = branch(self.job.config, _roster(self.job.seed), self.job.seed,
                          list(decisions), base=self.base)
            self.finish[decisions] = int(race.finish_position()[self.car])
            if keep:
                self.races[decisions] = race
        return self.finish[decisions]


def _rejoin_actual(race: RaceResult | None, car: int, lap: int | None) -> int | None:
    if race is None or lap is None:
        return None
    stop = next((p for p in race.pit_stops if p.car == car and p.lap == lap and p.decided),
                None)
    return None if stop is None else stop.rejoin_position


def _predicted(answer: StrategyAnswer, n_cars: int) -> tuple[float, ...]:
    index = answer.candidates.index(answer.recommended)
    finish = answer.finish_positions[index]
    return tuple(float(np.mean(finish <= k)) for k in range(1, n_cars + 1))


def score_point(job: RaceJob, base: RaceResult, point: DecisionPoint, snap: RaceSnapshot,
                settings: BacktestSettings, race_id: str) -> PointResult:
    """One decision point: the advice, every policy's branch and the oracle."""
    car = snap.car(point.car_number)
    rng = np.random.default_rng([settings.seed, job.seed, job.index, point.car,
                                 point.leader_lap, ADVICE_KEY])
    answer = advise(snap, point.car_number, rng, n_sims=settings.n_sims)
    setting: Setting = setting_of(base, point.car, car.laps,
                                  car.laps + laps_left(snap, point.car_number))
    run = _Branches(job, base, point.car)
    advised = candidate_decisions(answer.recommended.candidate, setting)
    finish = {"advice": run(advised, keep=True)}
    finish.update({p: run(fixed_decisions(p, setting)) for p in FIXED_POLICIES})
    every = [run(candidate_decisions(s.candidate, setting)) for s in answer.candidates]
    finish["oracle"] = min([*every, *finish.values()])
    rejoin = answer.recommended.rejoin
    lap = stop_lap(advised, setting)
    return PointResult(
        race=job.index, race_id=race_id, car_number=point.car_number,
        leader_lap=point.leader_lap, car_laps=car.laps, kinds=point.kinds,
        caution_race=bool(base.cautions), position_now=car.position, n_cars=base.n_cars,
        advice=answer.recommended.label, finish=finish,
        p_at_or_ahead=_predicted(answer, base.n_cars),
        rejoin_estimate=None if rejoin is None or lap is None else rejoin.position,
        rejoin_actual=None if rejoin is None else _rejoin_actual(
            run.races.get(advised), point.car, lap),
        forced_after=_forced_after(base, point.car, car.laps),
        branches=tuple(zip(answer.candidates, every, strict=True)))


def _forced_after(base: RaceResult, car: int, car_laps: int) -> bool:
    """Whether the car makes a forced stop after ``car_laps`` or retires, as it ran."""
    return base.status[car] == "DNF" or any(
        p.car == car and p.lap > car_laps and p.reason not in DISCRETIONARY_REASONS
        for p in base.pit_stops)


def _snapshots(lake: Lake, race_id: str, base: RaceResult, models: ModelLookup
               ) -> Callable[[int], RaceSnapshot | str]:
    """Snapshots by leader lap, built once; a failure is its reason (text)."""
    fill = {d.car_number: float(base.fuel_left_l[0, c] + base.fuel_used_l[0, c])
            for c, d in enumerate(base.drivers)}
    built: dict[int, RaceSnapshot | str] = {}

    def get(lap: int) -> RaceSnapshot | str:
        if lap not in built:
            try:
                built[lap] = snapshot_at(lake, race_id, lap, models, fuel_start_l=fill,
                                         race_duration_s=base.config.duration_s)
            except CogniraceError as exc:
                built[lap] = f"no snapshot: {exc.message.split(' for car(s)')[0]}"
        return built[lap]
    return get


def backtest_race(job: RaceJob, models: ModelLookup, settings: BacktestSettings
                  ) -> RaceOutcome:
    """Every decision point of one race, scored (see the module docstring)."""
    started = time.perf_counter()
    base = branch(job.config, _roster(job.seed), job.seed)
    pick = np.random.default_rng([settings.seed, job.seed, job.index, CARS_KEY])
    points = decision_points(trace_of(base), choose_cars(base.n_cars,
                                                         settings.cars_per_race, pick))
    scored: list[PointResult] = []
    skipped: list[str] = []
    race_id = f"{job.config.track}-{job.config.session}"
    if points:
        with tempfile.TemporaryDirectory(prefix="cognirace-backtest-") as tmp:
            lake, race_id = _lake(Path(tmp), job)
            snapshot = _snapshots(lake, race_id, base, models)
            for point in points:
                snap = snapshot(point.leader_lap)
                if isinstance(snap, str):
                    skipped.append(snap)
                elif not any(c.car_number == point.car_number and c.running
                             for c in snap.cars):
                    skipped.append("car not running in the snapshot")
                else:
                    scored.append(score_point(job, base, point, snap, settings, race_id))
    return RaceOutcome(job.index, race_id, bool(base.cautions), tuple(scored),
                       tuple(skipped), time.perf_counter() - started)


_WORKER_MODELS: list[ModelLookup] = []


def _init_worker(models_factory: Callable[[], ModelLookup]) -> None:
    _WORKER_MODELS[:] = [models_factory()]


def _in_worker(job: RaceJob, settings: BacktestSettings) -> RaceOutcome:
    return backtest_race(job, _WORKER_MODELS[0], settings)


def run_backtest(jobs: Sequence[RaceJob], models_factory: Callable[[], ModelLookup],
                 settings: BacktestSettings, *, workers: int = 1) -> Iterator[RaceOutcome]:
    """Each race's outcome as it is done (in the order of ``jobs`` with one worker).

    Args:
        jobs: The races.
        models_factory: Loads the production models (called once per process; a
            module-level function or ``functools.partial`` of one, so it pickles).
        settings: Sims, cars and seed.
        workers: Processes; 1 runs in this one.
    """
    if workers <= 1:
        models = models_factory()
        for job in jobs:
            yield backtest_race(job, models, settings)
        return
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker,
                             initargs=(models_factory,)) as pool:
        yield from pool.map(_in_worker, jobs, [settings] * len(jobs))


__all__ = ["ADVICE_KEY", "CARS_KEY", "RACES_PER_TRACK", "BacktestSettings", "PointResult",
           "RaceJob", "RaceOutcome", "backtest_race", "held_out_jobs", "run_backtest",
           "score_point"]
