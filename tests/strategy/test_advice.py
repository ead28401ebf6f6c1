"""The advice: stay out unless a stop gains clearly, a sentence why, and no flicker."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from cognirace.errors import StrategyError
from cognirace.strategy import Advisor, Candidate, advise, caution_call, recommend
from cognirace.strategy.advice import MARGIN_SE, MIN_GAIN_POSITIONS, StrategyAnswer
from cognirace.strategy.scoring import CandidateSummary

from .fields import gr_cup


def summary(candidate: Candidate, gain: float, se: float, position: float = 10.0,
            p_dry: float | None = 0.0) -> CandidateSummary:
    return CandidateSummary(
        candidate=candidate, label=candidate.label, expected_position=position,
        expected_position_se=0.05, position_p10=8, position_p90=12, p_gain=0.3,
        p_gain_se=0.01, p_lose=0.3, p_lose_se=0.01, gain_vs_stay_out=gain,
        gain_vs_stay_out_se=se, p_dry=p_dry, p_dry_se=0.0, p_stop=1.0, rejoin=None)


STAY, NOW = Candidate("7"), Candidate("7", "pit_now")
LATER = Candidate("7", "pit_on_lap", lap=15)


def test_stay_out_unless_a_stop_gains_clearly() -> None:
    small = [summary(STAY, 0.0, 0.0), summary(NOW, MIN_GAIN_POSITIONS / 2, 0.001, 9.95)]
    noisy = [summary(STAY, 0.0, 0.0), summary(NOW, 0.5, 0.5 / MARGIN_SE, 9.5)]
    clear = [summary(STAY, 0.0, 0.0), summary(NOW, 0.5, 0.1, 9.5),
             summary(LATER, 0.8, 0.1, 9.2)]
    losing = [summary(STAY, 0.0, 0.0), summary(NOW, -3.0, 0.1, 13.0)]
    assert recommend(small)[0].candidate == STAY
    assert recommend(noisy)[0].candidate == STAY
    assert "too little to stop for" in recommend(noisy)[1]
    best, why = recommend(clear)
    assert best.candidate == LATER and why.startswith("Pit on lap 15 (tires): 0.80 places")
    assert recommend(losing)[1].startswith("Stay out: every stop loses places")
    with pytest.raises(StrategyError, match="stay-out"):
        recommend(clear[1:])


def test_the_normal_answer_is_stay_out_with_every_candidate_scored(rng) -> None:
    answer = advise(gr_cup(), "19", rng, n_sims=400)
    assert answer.recommended.candidate.kind == "stay_out"
    assert answer.why.startswith("Stay out")
    assert answer.finish_positions.shape == (len(answer.candidates), 400)
    stay = answer.candidates[0]
    assert stay.gain_vs_stay_out == 0.0 and stay.rejoin is None
    now = answer.summary("pit now (tires)")
    assert now is not None and now.rejoin is not None and now.rejoin.position > 15
    assert now.gain_vs_stay_out < -5.0 and now.p_lose > 0.9
    assert 0.0 < now.gain_vs_stay_out_se < 0.2
    assert stay.position_p10 <= stay.expected_position <= stay.position_p90
    body = json.loads(json.dumps(answer.to_json()))
    assert body["recommended"] == "stay out" and len(body["candidates"]) == len(answer.candidates)
    assert body["candidates"][1]["rejoin"]["position"] == now.rejoin.position


def test_a_car_that_would_run_dry_is_told_to_take_fuel(rng) -> None:
    snap = gr_cup()
    short = tuple(dataclasses.replace(c, fuel_left_l=20.0) if c.car_number == "19" else c
                  for c in snap.cars)
    answer = advise(dataclasses.replace(snap, cars=short), "19", rng, n_sims=400)
    assert answer.candidates[0].p_dry == 1.0
    assert answer.recommended.candidate.service == "tires_fuel"
    assert answer.recommended.p_dry == 0.0
    assert "places better than staying out" in answer.why


def test_pit_if_a_caution_starts_now(rng) -> None:
    call = caution_call(gr_cup(), "19", rng, n_sims=300)
    assert call.answer.caution and [c.label for c in call.answer.candidates] == [
        "stay out", "pit now (tires)"]
    now = call.answer.candidates[1]
    assert now.rejoin is not None and now.rejoin.gap_ahead_s is not None
    assert call.pit == (call.answer.recommended.label != "stay out")


def _answer(labels: list[str], best: str, positions: list[list[int]],
            stops: int = 0) -> StrategyAnswer:
    cands = {"stay out": STAY, "pit now (tires)": NOW, "pit on lap 15 (tires)": LATER}
    sums = tuple(summary(cands[label], 0.0, 0.0) for label in labels)
    rec = next(s for s in sums if s.label == best)
    return StrategyAnswer(race_id="r", car_number="7", lap=10, position=10, stops=stops,
                          n_sims=4,
                          caution=False, candidates=sums, recommended=rec, why=f"{best}.",
                          notes=(), finish_positions=np.array(positions))


def test_the_advisor_changes_its_call_only_by_a_clear_margin() -> None:
    advisor = Advisor()
    labels = ["stay out", "pit now (tires)", "pit on lap 15 (tires)"]
    first = advisor.update(_answer(labels, "stay out", [[5, 6, 7, 8]] * 3))
    assert first.label == "stay out" and first.changed
    # 0.25 places better, but only one standard error (0.25) clear of staying out
    slight = advisor.update(_answer(labels, "pit now (tires)",
                                    [[5, 6, 7, 8], [5, 6, 7, 7], [5, 6, 7, 8]]))
    assert slight.label == "stay out" and not slight.changed
    assert "short of" in slight.why
    clear = advisor.update(_answer(labels, "pit now (tires)",
                                   [[5, 6, 7, 8], [4, 5, 6, 7], [5, 6, 7, 8]]))
    assert clear.label == "pit now (tires)" and clear.changed
    back = advisor.update(_answer(labels, "stay out",
                                  [[5, 6, 7, 8], [5, 6, 7, 8], [5, 6, 7, 8]]))
    assert back.label == "pit now (tires)" and not back.changed
    assert advisor.advice("7") == back


def test_the_advisor_starts_over_after_a_stop_or_when_its_call_expires() -> None:
    advisor = Advisor()
    advisor.update(_answer(["stay out", "pit on lap 15 (tires)"], "pit on lap 15 (tires)",
                           [[5, 6], [4, 5]]))
    gone = advisor.update(_answer(["stay out", "pit now (tires)"], "stay out",
                                  [[5, 6], [5, 6]]))
    assert gone.label == "stay out" and gone.changed
    advisor.update(_answer(["stay out", "pit now (tires)"], "pit now (tires)",
                           [[5, 6], [3, 4]]))
    after = advisor.update(_answer(["stay out", "pit now (tires)"], "stay out",
                                   [[5, 6], [5, 6]], stops=1))
    assert after.label == "stay out" and after.stops == 1 and after.changed


def test_each_candidate_carries_its_whole_finish_distribution(rng) -> None:
    snap = gr_cup()
    answer = advise(snap, "19", rng, n_sims=400)
    body = json.loads(json.dumps(answer.to_json()))
    for index, candidate in enumerate(body["candidates"]):
        share = candidate["position_share"]
        assert len(share) == len(snap.cars)
        assert sum(share) == pytest.approx(1.0, abs=1e-3)
        counts = np.bincount(answer.finish_positions[index], minlength=len(snap.cars) + 1)
        assert share == pytest.approx(list(counts[1:] / 400), abs=1e-4)
        mean = sum((k + 1) * p for k, p in enumerate(share))
        assert mean == pytest.approx(candidate["expected_position"], abs=1e-2)
