"""Branching a race: one car's stops decided, every other random number as without them."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from cognirace.errors import ConfigError
from cognirace.sim import Decision, RaceConfig, RaceResult, branch, season_roster, simulate_one
from cognirace.sim.plan import TYRE_CHANGE_S

SEED = 89
CONFIG = RaceConfig("sonoma", n_cars=25)
"""Two cautions; car 2 gambles on tyres under the first (lap 14) and serves a
drive-through on lap 19; cars 9 and 17 stop for damage."""

PLAIN_HASH = "78c797fe337464c45813d7bf9fbe88032c351a6d56a7b24a959f7bcee0aecdfd"
"""``race_hash`` of ``branch(CONFIG, season_roster(89), 89)`` as the simulator computes it
(the same generator as ``simulate_one`` builds): decisions must never change the plain
race, and every recorded season depends on it, so it changes only with the simulator's
model (last: caution stops held to the real races' rate)."""

FREE_TERMS = ("base", "driver", "tyre", "fuel", "start", "error", "fault", "noise")


def race_hash(race: RaceResult) -> str:
    """sha256 of a race's arrays, stops, status and finish."""
    h = hashlib.sha256()
    arrays = [race.grid, race.laps_done, race.lap_time_s, race.end_s,
              *(race.terms[t] for t in sorted(race.terms)), race.tyre_age_laps, race.grip,
              race.deg_s_per_lap, race.fuel_used_l, race.fuel_left_l, race.overtakes,
              race.overtaken, race.caution_lap, race.pit_in, race.pit_out, race.stationary_s]
    for a in arrays:
        h.update(np.ascontiguousarray(a).tobytes())
    h.update(repr([(p.car, p.lap, p.reason, p.stationary_s, p.pit_time_s, p.new_tyres)
                   for p in race.pit_stops]).encode())
    h.update(repr((race.status, race.finish_s, sorted(race.dnf_lap.items()))).encode())
    return h.hexdigest()


@pytest.fixture(scope="module")
def base() -> RaceResult:
    return branch(CONFIG, season_roster(SEED), SEED)


def _branch(decisions: list[Decision], base: RaceResult | None = None) -> RaceResult:
    return branch(CONFIG, season_roster(SEED), SEED, decisions, base=base)


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(np.array_equal(a, b, equal_nan=a.dtype.kind == "f"))


def _stops(race: RaceResult, car: int) -> list[tuple[int, str]]:
    return [(p.lap, p.reason) for p in race.pit_stops if p.car == car]


def test_the_plain_race_is_what_it_was_before_decisions(base: RaceResult) -> None:
    assert race_hash(base) == PLAIN_HASH
    assert race_hash(_branch([])) == PLAIN_HASH


def test_two_branches_with_the_same_decisions_are_identical(base: RaceResult) -> None:
    decisions = [Decision.pit(5, 8), Decision.stay_out(2)]
    first = _branch(decisions)
    assert race_hash(_branch(decisions)) == race_hash(first)
    assert race_hash(_branch(decisions, base)) == race_hash(first)


def test_a_decision_that_changes_no_stop_replays_the_race_exactly(base: RaceResult) -> None:
    assert not _stops(base, 5)
    assert race_hash(_branch([Decision.stay_out(5)], base)) == PLAIN_HASH


@pytest.mark.parametrize("lap", [3, 12])
def test_a_new_stop_changes_nothing_before_it_and_no_other_cars_draws(
        base: RaceResult, lap: int) -> None:
    car = 5
    assert not _stops(base, car)
    race = _branch([Decision.pit(base.drivers[car].car_number, lap)], base)
    before = slice(0, lap - 1)
    for name in ("end_s", "lap_time_s", "tyre_age_laps", "overtakes", "fuel_left_l"):
        assert _same(getattr(race, name)[before], getattr(base, name)[before]), name
    for term in base.terms:
        assert _same(race.terms[term][before], base.terms[term][before]), term
    others = np.arange(CONFIG.n_cars) != car
    both = np.isfinite(race.lap_time_s) & np.isfinite(base.lap_time_s) & others
    for term in FREE_TERMS:  # every car's own draws: noise, mistakes, ...
        assert _same(race.terms[term][both], base.terms[term][both]), term
    assert _same(race.fuel_used_l[both], base.fuel_used_l[both])
    assert race.cautions == base.cautions and race.faults == base.faults
    assert [p for p in race.pit_stops if p.car != car] != []
    assert [(p.car, p.lap, p.stationary_s) for p in race.pit_stops if p.car != car] == \
        [(p.car, p.lap, p.stationary_s) for p in base.pit_stops if p.car != car]
    stop = next(p for p in race.pit_stops if p.car == car)
    assert (stop.lap, stop.reason, stop.decided, stop.new_tyres) == (lap, "tyres", True, True)
    assert TYRE_CHANGE_S[0] <= stop.stationary_s <= TYRE_CHANGE_S[1]
    assert race.pit_in[lap - 1, car] and race.pit_out[lap, car]
    assert not _same(race.end_s[:, car], base.end_s[:, car])


def test_stay_out_removes_a_tyre_gamble_but_not_a_penalty(base: RaceResult) -> None:
    assert _stops(base, 2) == [(14, "tyres"), (19, "drive_through")]
    race = _branch([Decision.stay_out(base.drivers[2].car_number)], base)
    assert _stops(race, 2) == [(19, "drive_through")]
    for car in (9, 17):  # damage repairs of the other cars stay
        assert _stops(race, car) == _stops(base, car)


def test_a_decision_replaces_the_cars_discretionary_stop(base: RaceResult) -> None:
    race = _branch([Decision.pit(2, 10, "repair")], base)
    assert _stops(race, 2) == [(10, "damage"), (19, "drive_through")]


def test_the_stop_records_where_the_car_rejoined(base: RaceResult) -> None:
    positions = base.positions()
    for stop in base.pit_stops:
        assert stop.position_before == positions[stop.lap - 2, stop.car]
        assert stop.rejoin_position == positions[stop.lap, stop.car]
        assert stop.pit_exit_s is not None
        assert stop.pit_exit_s > base.end_s[stop.lap - 1, stop.car]
        gaps = [g for g in (stop.gap_ahead_s, stop.gap_behind_s) if g is not None]
        assert gaps and all(g >= 0 for g in gaps)
    assert sorted(base.finish_position()) == list(range(1, CONFIG.n_cars + 1))


def test_simulate_one_writes_the_decided_stop_into_the_truth(tmp_path: Path) -> None:
    roster = season_roster(SEED)
    number = branch(CONFIG, roster, SEED).drivers[5].car_number
    summary = simulate_one(tmp_path, CONFIG, roster, SEED, decisions=[Decision.pit(number, 12)])
    stops = pl.read_parquet(summary.folder / "truth" / "R1_pit_stops.parquet")
    row = stops.filter(pl.col("car_number") == number)
    assert row.select("lap", "decided", "reason").rows() == [(12, True, "tyres")]
    assert stops.schema["rejoin_position"] == pl.Int64
    assert stops.schema["gap_behind_s"] == pl.Float64
    assert stops["position_before"].is_not_null().all()


@pytest.mark.parametrize(("make", "field"), [
    (lambda: Decision.pit(0, 0), "Decision.lap"),
    (lambda: Decision.pit(0, 3, "fuel"), "Decision.service"),  # type: ignore[arg-type]
    (lambda: Decision("stay_out", car=1, lap=4), "Decision.lap"),
    (lambda: Decision("pit", lap=4, service="tires"), "Decision.car"),
])
def test_a_malformed_decision_names_its_field(make: Callable[[], object], field: str) -> None:
    with pytest.raises(ConfigError, match=field):
        make()


@pytest.mark.parametrize(("decisions", "field"), [
    ([Decision.pit(0, 500)], "Decision.lap"),
    ([Decision.pit(25, 5)], "Decision.car"),
    ([Decision.pit("999", 5)], "Decision.car_number"),
    ([Decision.pit(3, 5), Decision.stay_out(3)], "Decision.action"),
    ([Decision.pit(3, 5), Decision.pit(3, 5, "repair")], "Decision.lap"),
])
def test_a_decision_the_race_cannot_take_names_its_field(
        base: RaceResult, decisions: list[Decision], field: str) -> None:
    with pytest.raises(ConfigError, match=field):
        _branch(decisions, base)


def test_fuel_is_refused_because_the_sim_does_not_refuel() -> None:
    with pytest.raises(ConfigError, match="refuelling"):
        Decision.pit(0, 3, "fuel")  # type: ignore[arg-type]


def test_a_base_of_another_race_is_refused(base: RaceResult) -> None:
    other = RaceConfig("sonoma", session="R2", n_cars=25)
    with pytest.raises(ConfigError, match="another race"):
        branch(other, season_roster(SEED), SEED, [Decision.pit(0, 4)], base=base)
