"""The Monte Carlo of the rest of the race: shapes, seeds, common random numbers, physics."""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pytest

from cognirace.errors import StrategyError
from cognirace.strategy import Candidate, candidates_for, simulate_rest

from .fields import car, gr_cup, race

N = 300


@pytest.fixture(scope="module")
def field25() -> object:
    return gr_cup()


def test_shapes_and_positions_are_a_permutation(field25, rng) -> None:
    chosen = candidates_for(field25, "19")
    rest = simulate_rest(field25, chosen, N, rng)
    n_cars = len(field25.cars)
    assert rest.ends_s.shape == (N, n_cars, rest.n_laps)
    assert rest.caution.shape == (N, rest.n_laps)
    assert rest.finish_position.shape == rest.laps.shape == (N, n_cars)
    assert np.array_equal(np.sort(rest.finish_position, axis=1),
                          np.tile(np.arange(1, n_cars + 1), (N, 1)))
    assert len(rest.outcomes) == len(chosen)
    for outcome in rest.outcomes:
        assert outcome.finish_position.shape == outcome.laps.shape == (N,)
        assert outcome.ends_s.shape == (N, rest.n_laps)
        assert 1 <= outcome.finish_position.min() <= outcome.finish_position.max() <= n_cars
    both = np.isfinite(rest.ends_s[..., 1:]) & np.isfinite(rest.ends_s[..., :-1])
    assert np.all(rest.ends_s[..., 1:][both] > rest.ends_s[..., :-1][both])


def test_a_seed_gives_the_same_race(field25, seed) -> None:
    chosen = candidates_for(field25, "19")[:3]
    a = simulate_rest(field25, chosen, N, np.random.default_rng(seed))
    b = simulate_rest(field25, chosen, N, np.random.default_rng(seed))
    c = simulate_rest(field25, chosen, N, np.random.default_rng(seed + 1))
    assert np.array_equal(a.ends_s, b.ends_s)
    for x, y in zip(a.outcomes, b.outcomes, strict=True):
        assert np.array_equal(x.finish_position, y.finish_position)
    assert not np.array_equal(a.ends_s, c.ends_s)


def test_identical_candidates_give_identical_outcomes(field25, rng) -> None:
    chosen = [Candidate("19"), Candidate("19", "pit_now"), Candidate("19", "pit_now"),
              Candidate("19", "pit_on_lap", lap=16), Candidate("19", "pit_on_lap", lap=16),
              Candidate("19")]
    rest = simulate_rest(field25, chosen, N, rng)
    out = rest.outcomes
    for a, b in ((0, 5), (1, 2), (3, 4)):
        assert np.array_equal(out[a].finish_position, out[b].finish_position)
        assert np.array_equal(out[a].ends_s, out[b].ends_s)
    assert not np.array_equal(out[0].finish_position, out[1].finish_position)


def test_stay_out_is_the_base_run_whatever_else_is_asked(field25, seed) -> None:
    # attrition off: it reorders the candidates' finishes only, not the field's arrays
    alone = simulate_rest(field25, [Candidate("19")], N, np.random.default_rng(seed),
                          attrition=0.0)
    many = simulate_rest(field25, candidates_for(field25, "19"), N,
                         np.random.default_rng(seed), attrition=0.0)
    i = many.car_numbers.index("19")
    stay = many.outcomes[0]
    assert stay.candidate.kind == "stay_out"
    assert np.array_equal(stay.finish_position, many.finish_position[:, i])
    assert np.array_equal(stay.ends_s, many.ends_s[:, i, :])
    assert np.array_equal(alone.outcomes[0].finish_position, stay.finish_position)
    assert np.array_equal(alone.ends_s, many.ends_s)


def test_racing_the_base_runs_field_after_a_stop_is_close_to_re_simulating_it(field25,
                                                                               seed) -> None:
    chosen = candidates_for(field25, "19")
    shared = simulate_rest(field25, chosen, N, np.random.default_rng(seed))
    exact = simulate_rest(field25, chosen, N, np.random.default_rng(seed),
                          exact_after_stop=True)
    assert np.array_equal(shared.outcomes[0].finish_position, exact.outcomes[0].finish_position)
    assert np.array_equal(shared.ends_s, exact.ends_s)
    gaps = [abs(a.finish_position.mean() - b.finish_position.mean())
            for a, b in zip(shared.outcomes, exact.outcomes, strict=True)]
    assert max(gaps) < 0.1
    assert any(not np.array_equal(a.finish_position, b.finish_position)
               for a, b in zip(shared.outcomes, exact.outcomes, strict=True))


def test_a_stop_on_lap_k_changes_nothing_before_lap_k(field25, rng) -> None:
    rest = simulate_rest(field25, [Candidate("19"), Candidate("19", "pit_on_lap", lap=17)],
                         N, rng)
    stay, stop = rest.outcomes
    before = 17 - field25.car("19").laps - 1
    assert np.array_equal(stay.ends_s[:, :before], stop.ends_s[:, :before])
    lost = stop.ends_s[:, before] - stay.ends_s[:, before]
    green = ~rest.caution[:, before]
    assert green.sum() > N // 2
    assert np.all(lost[green] > 30.0) and np.all(lost > 0.0)


def test_a_much_faster_car_finishes_ahead_on_average(rng) -> None:
    cars = [car(str(i), i, 1000.0 + 2.5 * i, 100.0, spread_s=0.6) for i in range(1, 9)]
    slow = race(cars, time_left_s=1500.0)
    fast = race([*cars[:-1], dataclasses.replace(cars[-1], lap_time_p10_s=95.4,
                                                 lap_time_p50_s=96.0, lap_time_p90_s=96.6)],
                time_left_s=1500.0)
    as_is = simulate_rest(slow, [Candidate("8")], N, np.random.default_rng(1))
    quick = simulate_rest(fast, [Candidate("8")], N, np.random.default_rng(1))
    assert quick.outcomes[0].finish_position.mean() < 4.0
    assert as_is.outcomes[0].finish_position.mean() > 6.0


def test_the_caution_stop_costs_the_caution_loss(rng) -> None:
    """One car alone, exact laps, the queue lapping at the car's own pace: the in-lap of a
    stop is longer by exactly the stop's loss, green or caution."""
    alone = [car("7", 1, 1000.0, 100.0)]
    for caution, loss in ((False, 38.0), (True, 20.0)):
        snap = race(alone, time_left_s=900.0, caution=caution, caution_lap_s=100.0)
        stay, stop = simulate_rest(snap, [Candidate("7"), Candidate("7", "pit_now")], 50,
                                   rng).outcomes
        assert np.allclose(stop.ends_s[:, 0] - stay.ends_s[:, 0], loss)


def test_the_out_lap_of_a_caution_stop_runs_at_the_queues_pace(rng) -> None:
    """Out of a stop under caution, the car laps in the pit lane at the queue's pace (as
    the simulator's out-lap does), and closes up on the queue only from the lap after."""
    cars = [car("1", 1, 1000.0, 100.0), car("2", 2, 1001.0, 100.0)]
    snap = race(cars, time_left_s=900.0, caution=True, caution_lap_s=140.0)
    rest = simulate_rest(snap, [Candidate("2", "pit_now")], 400, rng)
    ends = rest.outcomes[0].ends_s
    long = rest.caution[:, 1] & rest.caution[:, 2]
    assert long.sum() > 10
    assert np.allclose(ends[long, 1] - ends[long, 0], 140.0)
    assert np.all(ends[long, 2] - ends[long, 1] < 139.0)


def test_a_caution_makes_pitting_now_cheaper(field25) -> None:
    """In a 25-car field the stop's cost in time against staying out after the out-lap:
    about the green loss under green; under a caution at most the caution loss when the
    out-lap is still under it (less when the car rejoins behind the queue's tail and
    catches it up), and a little more when the caution ends with the in-lap (most real
    cautions last two laps) and the out-lap starts in the restart's traffic."""
    chosen = [Candidate("19"), Candidate("19", "pit_now")]
    costs = []
    for caution in (False, True):
        rest = simulate_rest(dataclasses.replace(field25, caution=caution), chosen, N,
                             np.random.default_rng(3))
        stay, stop = rest.outcomes
        costs.append((stop.ends_s[:, 1] - stay.ends_s[:, 1], rest.caution[:, 1]))
    green = float(np.median(costs[0][0]))
    cost, out_under = costs[1]
    assert 30.0 < green < 45.0
    assert 0.1 < out_under.mean() < 0.9
    assert 5.0 < float(np.median(cost[out_under])) <= 20.0 + 1e-9
    assert 20.0 < float(np.median(cost[~out_under])) < 25.0
    assert float(np.median(cost)) < green - 10.0


def test_running_dry_rises_as_fuel_falls_and_is_unknown_without_fuel(rng) -> None:
    p_dry = []
    for fuel in (45.0, 37.0, 35.5, 34.0):
        snap = gr_cup(n_cars=8, fuel_start_l=None)
        cars = [dataclasses.replace(c, fuel_left_l=fuel if c.car_number == "13" else None)
                for c in snap.cars]
        snap = dataclasses.replace(snap, cars=tuple(cars))
        rest = simulate_rest(snap, [Candidate("13")], N, np.random.default_rng(5))
        p_dry.append(rest.outcomes[0].p_dry)
        assert rest.p_dry("13") == rest.outcomes[0].p_dry
        assert rest.p_dry("10") is None
    assert p_dry[0] == 0.0 and p_dry[-1] > 0.5
    assert all(a <= b for a, b in itertools.pairwise(p_dry))
    assert any("running dry is unknown" in note for note in rest.notes)


def test_a_dry_car_retires_and_is_classified_behind_the_finishers(rng) -> None:
    cars = [car("1", 1, 1000.0, 100.0, fuel_left_l=3.0, fuel_burn_l_per_lap=2.0),
            car("2", 2, 1050.0, 110.0)]
    rest = simulate_rest(race(cars, time_left_s=500.0), [Candidate("1")], 20, rng)
    out = rest.outcomes[0]
    assert out.dry is not None and out.dry.all()
    assert np.all(out.finish_position == 2)
    assert np.all(out.laps == 11)
    assert np.all(np.isinf(out.ends_s[:, 1:]))


def test_the_timed_finish_counts_laps_by_hand(rng) -> None:
    """Exact laps of 100 s; the snapshot's moment is its latest crossing (1060 s).

    Clock out at 1310 s: the leader crosses at 1100, 1200, 1300 (before it) and 1400,
    where the flag falls; the second car takes it at 1430 on the same lap, the car a lap
    down at 1460. With 11 s less the clock runs out at 1299: the flag falls at 1300.
    The flag follows whoever leads: when A stops, B leads and brings it out earlier."""
    cars = [car("A", 1, 1000.0), car("B", 2, 1030.0), car("C", 3, 1060.0, laps=9)]
    rest = simulate_rest(race(cars, time_left_s=250.0), [], 10, rng)
    assert np.all(rest.flag_s == 1400.0)
    assert np.all(rest.laps == [14, 14, 13])
    assert np.all(rest.finish_position == [1, 2, 3])
    early = simulate_rest(race(cars, time_left_s=239.0), [], 10, rng)
    assert np.all(early.flag_s == 1300.0)
    assert np.all(early.laps == [13, 13, 12])
    lapped = simulate_rest(race(cars, time_left_s=250.0), [Candidate("C")], 10, rng)
    assert np.all(lapped.outcomes[0].laps == 13)
    assert np.all(lapped.outcomes[0].finish_position == 3)
    leader = simulate_rest(race(cars, time_left_s=250.0), [Candidate("A"),
                                                           Candidate("A", "pit_now")], 10, rng)
    stay, stop = leader.outcomes
    assert np.all(stay.finish_position == 1) and np.all(stay.laps == 14)
    # A's stop (38 s) hands B the lead: B crosses lap 13 at 1330, after the clock, so
    # the flag falls there, a lap earlier, and A takes it at 1338 on lap 13.
    assert np.all(stop.finish_position == 2) and np.all(stop.laps == 13)


def test_the_clock_already_out_ends_the_race_at_the_leaders_next_crossing(rng) -> None:
    cars = [car("A", 1, 1000.0), car("B", 2, 1040.0)]
    rest = simulate_rest(race(cars, time_left_s=-5.0), [Candidate("B")], 10, rng)
    assert np.all(rest.flag_s == 1100.0)
    assert np.all(rest.laps == [11, 11])
    assert np.all(rest.outcomes[0].finish_position == 2)


def test_cautions_follow_the_hazard_and_can_be_forced(field25, rng) -> None:
    calm = simulate_rest(dataclasses.replace(field25, caution_hazard=(0.0,)), [], N, rng)
    assert not calm.caution.any()
    forced = simulate_rest(field25, [], N, rng, force_caution=True)
    assert forced.caution[:, 0].all()
    # a caution of a single lap (3 of the 16 real ones) ends where it starts
    assert 0.7 < forced.caution[:, 1].mean() < 0.9
    assert not forced.caution[:, 6:].all(axis=1).any()
    out = simulate_rest(dataclasses.replace(field25, caution=True), [], N, rng)
    assert out.caution[:, 0].all() and not out.caution[:, 5].all()
    busy = simulate_rest(dataclasses.replace(field25, caution_hazard=(0.2,)), [], N, rng)
    assert 0.3 < busy.caution.mean() < 0.8


def test_notes_say_what_was_filled(rng) -> None:
    cars = [car("1", 1, 1000.0), car("2", 2, 1002.0, p_pass_ahead=0.3, p_passed=0.1)]
    rest = simulate_rest(race(cars, time_left_s=300.0, caution_lap_s=None), [], 10, rng)
    text = " ".join(rest.notes)
    assert "no pass chance for car(s) 1" in text and "overtake difficulty" in text
    assert "no caution lap time" in text and "no wear slope" in text


def test_wrong_questions_are_refused(field25, rng) -> None:
    with pytest.raises(StrategyError, match="one car"):
        simulate_rest(field25, [Candidate("19"), Candidate("20")], 10, rng)
    with pytest.raises(StrategyError, match="n_sims"):
        simulate_rest(field25, [], 0, rng)
    out = dataclasses.replace(field25, cars=tuple(
        dataclasses.replace(c, running=c.car_number != "19") for c in field25.cars))
    with pytest.raises(StrategyError, match="out of the race"):
        simulate_rest(out, [Candidate("19")], 10, rng)
