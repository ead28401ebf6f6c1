"""The candidates of one car: which, in what order, and what each costs."""

from __future__ import annotations

import pytest

from cognirace.errors import StrategyError
from cognirace.strategy import Candidate, candidates_for
from cognirace.strategy.candidates import laps_left, splash_l, stop_lap_index

from .fields import gr_cup


def test_the_candidates_of_a_car_in_a_15_lap_window() -> None:
    snap = gr_cup()
    car = snap.car("19")
    chosen = candidates_for(snap, "19")
    kinds = [c.kind for c in chosen]
    assert kinds[:3] == ["stay_out", "pit_now", "pit_next_caution"]
    laps = [c.lap for c in chosen if c.kind == "pit_on_lap"]
    left = laps_left(snap, "19")
    assert laps == list(range(car.laps + 2, car.laps + left))
    assert 14 <= left <= 17
    assert [c.label for c in chosen[:4]] == [
        "stay out", "pit now (tires)", "pit at next caution (tires)",
        f"pit on lap {car.laps + 2} (tires)"]


def test_a_short_car_gets_a_fuel_stop_and_a_pending_drive_through_its_own() -> None:
    snap = gr_cup(fuel_start_l=50.0)
    assert splash_l(gr_cup(), "19") is None
    need = splash_l(snap, "19")
    assert need is not None and need > 5.0
    chosen = candidates_for(snap, "19", drive_through_loss_s=22.0)
    fuel = [c for c in chosen if c.service == "tires_fuel"]
    assert len(fuel) == 1 and fuel[0].fuel_l == need and fuel[0].kind == "pit_now"
    green, _ = fuel[0].losses_s(snap)
    assert green == pytest.approx(snap.pit_loss_green_s + need / 2.0)
    drive = [c for c in chosen if c.service == "drive_through"]
    assert drive[0].losses_s(snap) == pytest.approx(
        (22.0, 22.0 * snap.pit_loss_caution_s / snap.pit_loss_green_s))


def test_stop_lap_indices_follow_the_cautions() -> None:
    import numpy as np

    under = np.array([[False, False, True, True], [False, False, False, False]])
    assert stop_lap_index(Candidate("7"), 10, under).tolist() == [-1, -1]
    assert stop_lap_index(Candidate("7", "pit_now"), 10, under).tolist() == [0, 0]
    assert stop_lap_index(Candidate("7", "pit_next_caution"), 10, under).tolist() == [2, -1]
    assert stop_lap_index(Candidate("7", "pit_on_lap", lap=13), 10, under).tolist() == [2, 2]
    assert stop_lap_index(Candidate("7", "pit_on_lap", lap=30), 10, under).tolist() == [-1, -1]


def test_malformed_candidates_are_refused() -> None:
    with pytest.raises(StrategyError, match="pit_on_lap"):
        Candidate("7", "pit_on_lap")
    with pytest.raises(StrategyError, match="drive-through"):
        Candidate("7", "pit_now", service="drive_through")
    with pytest.raises(StrategyError, match="fuel"):
        Candidate("7", "pit_now", service="tires_fuel")
    snap = gr_cup(n_cars=5)
    with pytest.raises(StrategyError, match="out of the race"):
        import dataclasses

        candidates_for(dataclasses.replace(snap, cars=tuple(
            dataclasses.replace(c, running=c.car_number != "12") for c in snap.cars)), "12")
