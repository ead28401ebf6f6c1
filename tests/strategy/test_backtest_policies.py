"""The backtest's policies as the simulator's decisions."""

from __future__ import annotations

from cognirace.sim import Decision
from cognirace.strategy.backtest_policies import (
    Setting,
    candidate_decisions,
    fixed_decisions,
    stop_lap,
)
from cognirace.strategy.candidates import Candidate

SETTING = Setting(car_number="7", car_laps=10, history=(Decision.pit("7", 4),),
                  first_caution_lap=14, fixed_lap=12, max_laps=25)


def test_candidates_map_to_one_stop_after_the_point_and_keep_the_history() -> None:
    assert candidate_decisions(Candidate("7"), SETTING) == SETTING.history
    now = candidate_decisions(Candidate("7", "pit_now"), SETTING)
    assert now == (*SETTING.history, Decision.pit("7", 11, "tires"))
    assert stop_lap(candidate_decisions(Candidate("7", "pit_on_lap", lap=17), SETTING),
                    SETTING) == 17
    assert stop_lap(candidate_decisions(Candidate("7", "pit_next_caution"), SETTING),
                    SETTING) == 14
    splash = Candidate("7", "pit_now", service="tires_fuel", fuel_l=3.0)
    assert candidate_decisions(splash, SETTING)[-1].service == "tires"
    penalty = Candidate("7", "pit_now", service="drive_through", loss_s=20.0)
    assert candidate_decisions(penalty, SETTING)[-1].service == "drive_through"


def test_a_stop_beyond_the_race_or_no_caution_is_no_stop() -> None:
    late = Candidate("7", "pit_on_lap", lap=40)
    assert candidate_decisions(late, SETTING) == SETTING.history
    calm = Setting("7", 10, (), None, 12, 25)
    assert fixed_decisions("first_caution", calm) == (Decision.stay_out("7"),)
    assert fixed_decisions("stay_out", calm) == (Decision.stay_out("7"),)
    assert stop_lap(fixed_decisions("fixed_lap", calm), calm) == 12
