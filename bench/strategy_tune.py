"""Tuning the advice's rule on tuning seasons, never on the backtest's held-out ones.

The advice recommends a stop only when its expected gain over staying out clears a
floor in places and a margin in paired standard errors (``strategy.AdviceRule``). Those
two numbers are choices, and a choice made by looking at the held-out backtest would
make its result a fit, not a test. This script makes them on seasons of their own
(``--seed``, default 6001: neither the demo's training seasons nor the backtest's
5001 onwards): it runs the backtest's method on them, keeps every candidate's branch,
and scores each rule of a grid on the same points (the advice a rule would have given,
its car's finish in that branch, against staying out, with the race-clustered
interval).

Printed, besides the grid:

* how well the Monte Carlo's expected gain of a stop predicts the gain its branch
  really made, by bins of the predicted gain: where the predictions are biased, no
  margin can be small;
* the oracle's ceiling: what the best candidate in hindsight gains over staying out,
  which no rule can beat.

The rule chosen is the one with the highest mean gain whose interval's lower end is the
highest among ties; ``advice.MIN_GAIN_POSITIONS`` and ``advice.MARGIN_SE`` are set to it
by hand, citing this output.

    python bench/strategy_tune.py [--registry data/demo/registry] [--seed 6001]
        [--races 210] [--out docs/results/strategy-tune.txt]
"""

from __future__ import annotations

import argparse
import functools
import itertools
import math
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from cognirace.cli.backtest_cmd import load_models
from cognirace.cli.demo_cmd import demo_seeds
from cognirace.strategy.advice import AdviceRule, recommend
from cognirace.strategy.backtest_run import (
    BacktestSettings,
    PointResult,
    held_out_jobs,
    run_backtest,
)
from cognirace.strategy.backtest_stats import PairedGain, paired_gain

HELD_OUT_FIRST = 5001
"""The backtest's held-out seasons start here; tuning seasons must not reach them."""
MIN_GAINS = (0.1, 0.25, 0.5, 1.0, 2.0, math.inf)
MARGINS_SE = (2.0, 3.0, 4.0)
GAIN_BINS = (-math.inf, -1.0, -0.25, 0.0, 0.1, 0.25, 0.5, 1.0, math.inf)


def _score(points: Sequence[PointResult], rule: AdviceRule) -> tuple[PairedGain, int]:
    gains, clusters, stops = [], [], 0
    for point in points:
        summaries = [s for s, _ in point.branches]
        chosen = recommend(summaries, rule)[0]
        finish = {id(s): f for s, f in point.branches}[id(chosen)]
        gains.append(point.branches[0][1] - finish)
        clusters.append(point.race)
        stops += chosen.candidate.kind != "stay_out"
    return paired_gain(np.zeros(len(gains)), -np.asarray(gains, dtype=np.float64),
                       clusters), stops


def _bias(points: Sequence[PointResult]) -> list[str]:
    """Predicted gain of every stop candidate against its branch's, by bins."""
    predicted, realised = [], []
    for point in points:
        stay = point.branches[0][1]
        for summary, finish in point.branches[1:]:
            predicted.append(summary.gain_vs_stay_out)
            realised.append(stay - finish)
    p, r = np.asarray(predicted), np.asarray(realised, dtype=np.float64)
    lines = ["  predicted gain      candidates  mean predicted  mean realised"]
    for low, high in itertools.pairwise(GAIN_BINS):
        inside = (p >= low) & (p < high)
        if inside.any():
            lines.append(f"  [{low:+6.2f}, {high:+6.2f})  {int(inside.sum()):10d}  "
                         f"{p[inside].mean():+14.3f}  {r[inside].mean():+13.3f}")
    return lines


def _worst(points: Sequence[PointResult], at_least: float = 1.0) -> list[str]:
    """The stop candidates the Monte Carlo liked most, with what their branch did."""
    lines = []
    for point in points:
        stay_summary, stay = point.branches[0]
        for summary, finish in point.branches[1:]:
            if summary.gain_vs_stay_out >= at_least:
                lines.append(
                    f"  {point.race_id:22} car {point.car_number:>3} lap {point.car_laps:3d} "
                    f"P{point.position_now:<2d} {'+'.join(point.kinds):18} "
                    f"{summary.label:24} predicted {summary.gain_vs_stay_out:+6.2f} "
                    f"realised {stay - finish:+3d}; stay out: expected "
                    f"P{stay_summary.expected_position:.1f}, dry "
                    f"{stay_summary.p_dry if stay_summary.p_dry is not None else float('nan'):.2f}"
                    f", finished P{stay}")
    return lines or ["  none"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--registry", default="data/demo/registry")
    parser.add_argument("--seed", type=int, default=6001)
    parser.add_argument("--races", type=int, default=210)
    parser.add_argument("--cars", type=int, default=3)
    parser.add_argument("--sims", type=int, default=500)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    jobs = held_out_jobs(args.seed, args.races)
    seeds = {job.seed for job in jobs}
    if seeds & demo_seeds() or (min(seeds) <= HELD_OUT_FIRST + 40 and max(seeds) >= HELD_OUT_FIRST):
        parser.error(f"seeds {min(seeds)}-{max(seeds)} overlap the demo's or the "
                     f"backtest's held-out seasons; pick --seed 6001 or later")
    started = time.perf_counter()
    outcomes = []
    for outcome in run_backtest(jobs, functools.partial(load_models, args.registry),
                                BacktestSettings(n_sims=args.sims, cars_per_race=args.cars,
                                                 seed=args.seed), workers=args.workers):
        outcomes.append(outcome)
        print(f"\r  race {len(outcomes)}/{len(jobs)}", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    points = [p for o in outcomes for p in o.points]
    stay = np.asarray([p.branches[0][1] for p in points], dtype=np.float64)
    oracle = np.asarray([min(f for _, f in p.branches) for p in points], dtype=np.float64)
    lines = [f"advice rule tuning: {len(outcomes)} tuning races (seasons from seed "
             f"{args.seed}), {len(points)} decision points, {args.sims} simulations per "
             f"advice; {time.perf_counter() - started:.0f} s",
             "",
             f"oracle's ceiling over staying out: {float((stay - oracle).mean()):+.4f} places "
             f"per point; a stop beats staying out in hindsight at "
             f"{int((oracle < stay).sum())} of {len(points)} points",
             "",
             "predicted gain of each stop candidate over staying out vs its branch's",
             *_bias(points),
             "",
             "stop candidates predicted to gain at least one place",
             *_worst(points),
             "",
             "gain over staying out by rule (paired, 95% CI clustered by race)",
             "  min gain  margin SE  stops advised  mean gain [95% CI]"]
    best: tuple[float, float, AdviceRule] | None = None
    for min_gain in MIN_GAINS:
        for margin in MARGINS_SE:
            rule = AdviceRule(min_gain, margin)
            pg, stops = _score(points, rule)
            lines.append(f"  {min_gain:8.2f}  {margin:9.1f}  {stops:13d}  {pg.mean:+.4f} "
                         f"[{pg.low:+.4f}, {pg.high:+.4f}]  win {pg.win:6.1%}  "
                         f"loss {pg.loss:6.1%}")
            if best is None or (pg.mean, pg.low) > best[:2]:
                best = (pg.mean, pg.low, rule)
    assert best is not None
    lines += ["", f"chosen: min gain {best[2].min_gain} places, margin {best[2].margin_se} SE "
              f"(mean gain {best[0]:+.4f}, lower end {best[1]:+.4f})"]
    text = "\n".join(lines)
    print(text)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
