"""The lap-by-lap race engine: all cars, one lap at a time.

Race state lives in arrays indexed ``[lap, car]`` (lap 0 is lap 1 of the race). A car's
lap time is the sum of named terms, each in seconds:

``base`` (a perfect driver's ideal lap) + ``driver`` (the driver's own ideal lap above
it) + ``tyre`` (wear with age and track temperature, cold out-laps) + ``fuel`` (mass
above the calibration mass) + ``start`` (rolling start, lap 1) + ``error`` (mistakes,
incidents) + ``fault`` (mechanical faults) + ``noise`` (the driver's scatter) +
``traffic`` (dirty air, being held up, defending) + ``caution`` (the full-course yellow
pace and bunching, the slow restart lap and the lap after it) + ``pit`` (pit-lane time
above racing time, stationary time).

The terms sum to ``lap_time_s`` (within the millisecond the line times are rounded
to). The race is timed: the leader takes the flag at the first crossing after
``duration_s``; every other car finishes at its next crossing. What is random before
the start (cautions, faults, stops) comes from ``plan``; traffic from ``traffic``.

A race can be branched: ``simulate_race(..., decisions=...)`` replays it with one car's
stops decided (``decisions``) and every other random number as in the race without
decisions (``tape`` says how; the plain race's output is unchanged by the machinery).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from cognirace.domain.tracks import TRACKS
from cognirace.errors import ConfigError
from cognirace.sim.car import FUEL_DENSITY_KG_PER_L, GR86
from cognirace.sim.config import RaceConfig
from cognirace.sim.decisions import Decision, apply_decisions, resolve_decisions
from cognirace.sim.drivers import Driver
from cognirace.sim.lapsim import Style, driver_profile, simulate_lap
from cognirace.sim.layout import PIT_LIMIT_KPH, build_layout
from cognirace.sim.pace import (
    RESTART_LOSS_SHARE,
    SCATTER_REF_LAP_S,
    TRACK_SCATTER,
    caution_profile,
    lap_scatter,
)
from cognirace.sim.plan import PitStop, plan_race
from cognirace.sim.result import RaceResult
from cognirace.sim.stops import with_outcomes
from cognirace.sim.tape import LapSource, LapTape, RaceTape, TapePlayer, TapeRecorder, race_root
from cognirace.sim.traffic import resolve_order
from cognirace.sim.weather import draw_weather

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

TERMS = ("base", "driver", "tyre", "fuel", "start", "error", "fault", "noise", "traffic",
         "caution", "pit")
"""Names of the lap-time terms, in seconds (``<term>_s`` columns of the truth)."""

FUEL_S_PER_KG = 0.025
"""Lap time per kg of fuel above the calibration mass (half a tank's 30 kg), s/kg."""

CALIBRATION_FUEL_KG = 30.0
"""Fuel mass at which the lap simulation's ideal laps are computed, kg."""

DEG_S_PER_LAP = 0.034
"""Median tyre loss per lap of age at 40 °C track temperature, s/lap."""

DEG_RANGE_S_PER_LAP = (0.012, 0.075)
"""Bounds of a car's tyre loss per lap of age, s/lap."""

COLD_TYRE_S = 0.8
"""Extra time on a lap started on cold new tyres, s."""

CAUTION_FUEL_FACTOR = 0.5
"""Fuel burnt on a yellow lap relative to a green lap."""

START_SPACING_S = 0.3
"""Rolling-start spacing between grid rows, s per grid position."""

LAP1_EXTRA_SHARE: dict[str, float] = {"sonoma": 0.45}
"""Extra time of lap 1, share of a perfect lap, where the real lap 1 is slow without a
caution (Sonoma's first lap runs about 1.5 times the best lap in both 2025 races)."""


def pit_fractions(track_key: str) -> tuple[float, float, float]:
    """Share of a racing lap spent on the pit entry and exit stretches, and the limiter time.

    Returns:
        ``(entry_share, exit_share, half_transit_s)``: shares of the reference lap time
        over the pit lane's half before and after the line, and the time to drive one
        half at the limiter, s.
    """
    layout = build_layout(track_key)
    prof = driver_profile(track_key, Style())
    half = layout.pit_length_m / 2
    cum = np.cumsum(prof.dt_s)
    total = cum[-1]
    t_exit = float(np.interp(half, layout.s_m, cum))
    t_entry = float(total - np.interp(layout.length_m - half, layout.s_m, cum))
    return t_entry / total, t_exit / total, half / (PIT_LIMIT_KPH / 3.6)


def physics_floor_s(track_key: str) -> float:
    """Fastest lap physics allows: a perfect driver, fresh tyres, an empty tank, s."""
    layout = build_layout(track_key)
    return simulate_lap(layout, Style(), mass_kg=GR86.mass_kg).lap_time_s


def race_lap_limit(config: RaceConfig) -> int:
    """Most laps a race can run: its duration at 97% of the track's best lap, plus three."""
    return math.ceil(config.duration_s / (0.97 * TRACKS[config.track].best_lap_s)) + 3


def simulate_race(
    config: RaceConfig, drivers: list[Driver], rng: np.random.Generator,
    decisions: Sequence[Decision] | None = None, *, base: RaceResult | None = None,
) -> RaceResult:
    """Run a race lap by lap; with ``decisions``, a branch of it.

    Without decisions the race is what it always was for the same generator. With
    them, it is the same race (same cautions, faults, other cars' stops, weather, every
    car's noise and mistakes, the same traffic draws where cars meet as they did) except
    for the decided cars' stops (see ``decisions`` and ``tape``).

    Args:
        config: The race (validated here).
        drivers: One driver per car, ``config.n_cars`` of them, in car order.
        rng: The race's random generator, built from a seed (a branch keys its own draws
            on the generator's seed sequence).
        decisions: Stops decided for some cars; None or empty for the plain race.
        base: This race already run without decisions (from the same generator state):
            its tape is reused instead of running it again; ignored without decisions.

    Raises:
        ConfigError: A bad configuration, a decision the race cannot take, or a
            ``base`` of another race.
    """
    config.validate()
    if len(drivers) != config.n_cars:
        raise ValueError(f"{len(drivers)} drivers for {config.n_cars} cars")
    if not decisions:
        return _run(_RaceState(config, drivers, rng))
    by_car = resolve_decisions(decisions, drivers, race_lap_limit(config))
    root = race_root(rng)
    if base is None:
        base = _run(_RaceState(config, drivers, copy.deepcopy(rng)))
    if base.tape is None:
        raise ConfigError("base carries no tape", hint="pass a result of simulate_race")
    base.tape.check_fits(config, tuple(d.driver_id for d in drivers), rng)
    state = _RaceState(config, drivers, rng, TapePlayer(base.tape, rng, root))
    state.plan = apply_decisions(state.plan, by_car, root)
    return _run(state)


def _run(state: _RaceState) -> RaceResult:
    for lap in range(state.max_laps):
        state.run_lap(lap)
    return state.finish()


class _RaceState:
    """Arrays and per-lap update of one race (internal to ``simulate_race``).

    ``source`` gives each lap's traffic draws and temperature clock: by default the
    race's own, recorded into a fresh tape (``tape.TapeRecorder``).
    """

    def __init__(self, config: RaceConfig, drivers: list[Driver], rng: np.random.Generator,
                 source: TapePlayer | None = None):
        self.config = config
        self.drivers = drivers
        self.rng = rng
        track = TRACKS[config.track]
        self.track = track
        n = config.n_cars
        self.n = n
        self.base_s = driver_profile(track.key, Style()).lap_time_s
        self.floor_s = physics_floor_s(track.key)
        profiles = [driver_profile(track.key, d.style) for d in drivers]
        self.driver_s = np.array([p.lap_time_s for p in profiles]) - self.base_s
        self.burn_l = np.array([p.fuel_l * d.fuel_factor for p, d in zip(profiles, drivers,
                                                                           strict=True)])
        scatter = TRACK_SCATTER.get(track.key, 1.0)
        self.sigma = np.array([d.consistency_s for d in drivers]) * (
            scatter * self.base_s / SCATTER_REF_LAP_S)
        self.p_err = np.clip(np.array([d.p_error_per_lap for d in drivers]) * scatter, 0, 0.5)
        self.craft = np.array([d.racecraft for d in drivers])
        self.max_laps = race_lap_limit(config)
        self.tape = source.tape if source else RaceTape(
            config, tuple(d.driver_id for d in drivers), rng.bit_generator.state,
            [LapTape() for _ in range(self.max_laps)])
        self.source: LapSource = source or TapeRecorder(self.tape, rng)
        expected = math.ceil(config.duration_s / track.best_lap_s) + 1
        self.weather = draw_weather(track.key, config.duration_s + 600, rng)
        self.plan = plan_race(config, expected, track.best_lap_s, rng)
        (self.caution_lap, self.caution_share, self.caution_pace,
         self.after_restart) = caution_profile(self.plan.cautions, self.max_laps)
        quali = self.driver_s + rng.normal(0, 0.25, n)
        self.grid = np.argsort(quali, kind="stable").astype(np.int64)
        shape = (self.max_laps, n)
        self.terms = {t: np.full(shape, np.nan) for t in TERMS}
        self.end_s = np.full(shape, np.nan)
        self.tyre_age = np.zeros(shape, dtype=np.int64)
        self.grip = np.full(shape, np.nan)
        self.deg = np.clip(DEG_S_PER_LAP * np.array([d.tyre_wear_factor for d in drivers])
                           * rng.lognormal(0, 0.15, n), *DEG_RANGE_S_PER_LAP)
        self.fuel_used = np.full(shape, np.nan)
        self.fuel_left = np.full(shape, np.nan)
        self.overtakes = np.zeros(shape, dtype=np.int64)
        self.overtaken = np.zeros(shape, dtype=np.int64)
        self.pit_in = np.zeros(shape, dtype=bool)
        self.pit_out = np.zeros(shape, dtype=bool)
        self.stationary = np.zeros(shape)
        self.age = rng.integers(0, 3, n).astype(np.int64)
        self.new_set = np.ones(n, dtype=bool)
        self.fuel = np.minimum(GR86.tank_l, self.burn_l * (expected + 2) * 1.08
                               + rng.uniform(1.0, 4.0, n))
        self.alive = np.ones(n, dtype=bool)
        self.prev_end = np.arange(n, dtype=np.float64)
        self.prev_end[self.grid] = -START_SPACING_S * np.arange(n)
        self.entry_share, self.exit_share, self.half_pit_s = pit_fractions(track.key)
        self.pending_out: dict[int, PitStop] = {}

    def _deg_now(self, lap: int) -> FloatArray:
        t_now = self.source.clock_s(lap, float(np.nanmax(np.maximum(self.prev_end, 0.0))))
        temp = float(self.weather.track_temp_at(np.array([t_now]))[0])
        factor = float(np.clip(1.0 + 0.015 * (temp - 40.0), 0.7, 1.3))
        return np.clip(self.deg * factor, *DEG_RANGE_S_PER_LAP)

    def _free_terms(self, lap: int) -> dict[str, FloatArray]:
        """Terms that do not depend on the other cars, for every car."""
        n, rng = self.n, self.rng
        deg = self._deg_now(lap)
        tyre = deg * self.age + np.where(self.new_set, COLD_TYRE_S, 0.0)
        fuel_kg = self.fuel * FUEL_DENSITY_KG_PER_L
        t = {
            "base": np.full(n, self.base_s),
            "driver": self.driver_s.copy(),
            "tyre": tyre,
            "fuel": FUEL_S_PER_KG * (fuel_kg - CALIBRATION_FUEL_KG),
            "start": np.zeros(n),
            "error": np.where(rng.random(n) < self.p_err, rng.uniform(0.8, 4.0, n), 0.0),
            "fault": np.zeros(n),
            "noise": lap_scatter(rng, n) * self.sigma,
        }
        if lap == 0:
            pos = np.empty(n)
            pos[self.grid] = np.arange(n)
            extra = LAP1_EXTRA_SHARE.get(self.track.key, 0.0) * self.base_s
            t["start"] = 1.5 + extra + START_SPACING_S * pos + rng.uniform(0, 1.0, n)
            t["error"] = np.zeros(n)
        for (lp, car), loss in self.plan.incident_loss.items():
            if lp == lap:
                t["error"][car] += loss
        for f in self.plan.faults:
            if f.lap_loss_s and f.start_lap - 1 <= lap <= f.end_lap - 1:
                t["fault"][f.car] += f.lap_loss_s
        self.grip[lap] = 1.0 - deg * self.age / (0.5 * self.base_s)
        total = np.sum(list(t.values()), axis=0)
        floor_gap = np.minimum(total - self.floor_s, 0.0)
        t["noise"] -= floor_gap
        return t

    def _caution_terms(self, lap: int, free: FloatArray) -> FloatArray:
        """Time above the free lap from the yellow: its share of the lap at caution pace."""
        share = float(self.caution_share[lap])
        slow: FloatArray = share * np.maximum(self.caution_pace[lap] * self.base_s - free, 0.0)
        if self.after_restart[lap]:
            slow = slow + self.base_s * self.rng.uniform(*RESTART_LOSS_SHARE, self.n)
        return slow

    def run_lap(self, lap: int) -> None:
        """Advance every running car by one lap."""
        for car, lp in self.plan.dnf_lap.items():
            if lp - 1 == lap:
                self.alive[car] = False
        terms = self._free_terms(lap)
        free: FloatArray = np.sum(list(terms.values()), axis=0)
        flagged = bool(self.caution_lap[lap])
        queue = flagged and self.caution_share[lap] >= 1.0
        pit_extra = np.zeros(self.n)
        pits_now = {car: p for (lp, car), p in self.plan.pits.items() if lp - 1 == lap}
        for car, stop in pits_now.items():
            pit_extra[car] += self.half_pit_s - self.entry_share * free[car]
            stop.pit_time_s = 2 * self.half_pit_s + stop.stationary_s
            self.pit_in[lap, car] = True
        for car, stop in self.pending_out.items():
            pit_extra[car] += self.half_pit_s + stop.stationary_s - self.exit_share * free[car]
            self.pit_out[lap, car] = True
            self.stationary[lap, car] = stop.stationary_s
        caution_t = self._caution_terms(lap, free)
        own_end = self.prev_end + free + caution_t + pit_extra
        pitting = (pit_extra != 0)
        lap_traffic = resolve_order(
            self.prev_end, own_end, free, self.alive, pitting, caution=queue,
            base_s=self.base_s, difficulty=self.track.overtake_difficulty, craft=self.craft,
            draws=self.source.traffic(lap))
        self.source.after_traffic(lap)
        self.overtakes[lap] += lap_traffic.overtakes
        self.overtaken[lap] += lap_traffic.overtaken
        ends = np.round(lap_traffic.ends, 3)
        traffic = lap_traffic.traffic_s
        terms["traffic"] = np.where(queue, 0.0, traffic)
        terms["caution"] = caution_t + np.where(queue, traffic, 0.0)
        terms["pit"] = pit_extra
        self._commit(lap, terms, ends, pits_now)

    def _commit(self, lap: int, terms: dict[str, FloatArray], ends: FloatArray,
                pits_now: dict[int, PitStop]) -> None:
        alive = self.alive
        for name, values in terms.items():
            self.terms[name][lap] = np.where(alive, values, np.nan)
        self.end_s[lap] = np.where(alive, ends, np.nan)
        self.tyre_age[lap] = np.where(alive, self.age, 0)
        slow = float(self.caution_share[lap]) * (1.0 - CAUTION_FUEL_FACTOR)
        burn = self.burn_l * (1.0 - slow)
        burn = burn * (1.0 + self.rng.normal(0, 0.015, self.n))
        self.fuel_used[lap] = np.where(alive, burn, np.nan)
        self.fuel = np.maximum(self.fuel - burn, 0.0)
        self.fuel_left[lap] = np.where(alive, self.fuel, np.nan)
        self.prev_end = np.where(alive, ends, self.prev_end)
        self.age += 1
        self.new_set[:] = False
        self.pending_out = {}
        for car, stop in pits_now.items():
            if not alive[car]:
                continue
            self.pending_out[car] = stop
            if stop.new_tyres:
                self.age[car] = 0
                self.new_set[car] = True

    def finish(self) -> RaceResult:
        """Apply the chequered flag and package the race."""
        duration = self.config.duration_s
        done = np.isfinite(self.end_s)
        laps_before = np.where(done & (self.end_s < duration), 1, 0).sum(axis=0)
        last_before = np.array([
            self.end_s[laps_before[c] - 1, c] if laps_before[c] else 0.0 for c in range(self.n)])
        leader = int(np.lexsort((last_before, -laps_before))[0])
        after = self.end_s[:, leader]
        after = after[np.isfinite(after) & (after >= duration)]
        if not len(after):
            every = self.end_s[np.isfinite(self.end_s) & (self.end_s >= duration)]
            after = every if len(every) else np.array([np.nanmax(self.end_s)])
        finish_s = float(after.min())
        keep = np.zeros_like(done)
        for c in range(self.n):
            col = self.end_s[:, c]
            over = np.nonzero(np.isfinite(col) & (col >= finish_s))[0]
            last = over[0] if len(over) else int(np.isfinite(col).sum()) - 1
            keep[: last + 1, c] = np.isfinite(col[: last + 1])
        return self._package(keep, finish_s)

    def _package(self, keep: BoolArray, finish_s: float) -> RaceResult:
        end = np.where(keep, self.end_s, np.nan)
        start = np.vstack([np.zeros((1, self.n)), end[:-1]])
        lap_time = np.round(end - start, 3)
        terms = {k: np.where(keep, v, np.nan) for k, v in self.terms.items()}
        laps_done = keep.sum(axis=0).astype(np.int64)
        status = ["DNF" if c in self.plan.dnf_lap and laps_done[c] < self.plan.dnf_lap[c]
                  else "Classified" for c in range(self.n)]
        stops = with_outcomes(
            [p for (lp, car), p in sorted(self.plan.pits.items())
             if lp <= laps_done[car] and keep[lp - 1, car]],
            end, lap_time, terms["pit"], keep & self.pit_out,
            np.where(keep, self.stationary, 0.0), self.grid,
            exit_share=self.exit_share, half_pit_s=self.half_pit_s)
        return RaceResult(
            config=self.config, drivers=self.drivers, grid=self.grid, weather=self.weather,
            cautions=[c for c in self.plan.cautions if c.start_lap <= int(laps_done.max())],
            faults=[f for f in self.plan.faults if f.start_lap <= laps_done[f.car]],
            pit_stops=stops, laps_done=laps_done, status=status, lap_time_s=lap_time,
            end_s=end, terms=terms, tyre_age_laps=np.where(keep, self.tyre_age, 0),
            grip=np.where(keep, self.grip, np.nan), deg_s_per_lap=self.deg.copy(),
            fuel_used_l=np.where(keep, self.fuel_used, np.nan),
            fuel_left_l=np.where(keep, self.fuel_left, np.nan),
            overtakes=np.where(keep, self.overtakes, 0),
            overtaken=np.where(keep, self.overtaken, 0),
            caution_lap=keep & self.caution_lap[:, None], pit_in=keep & self.pit_in,
            pit_out=keep & self.pit_out, stationary_s=np.where(keep, self.stationary, 0.0),
            finish_s=finish_s, dnf_lap=dict(self.plan.dnf_lap), tape=self.tape,
        )


__all__ = ["TERMS", "PitStop", "RaceResult", "physics_floor_s", "pit_fractions",
           "race_lap_limit", "simulate_race"]
