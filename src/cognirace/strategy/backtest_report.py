"""The backtest's report: the JSON the issue asks for and the table a person reads.

Goals, stated and checked, never softened: the advice ahead of every fixed policy with
the whole 95% interval above zero; at least ``GOAL_ORACLE_SHARE`` of the oracle's gain;
a calibration error of at most ``GOAL_CALIBRATION``. A goal the run misses is printed
as NOT met.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from cognirace.strategy.backtest_points import KINDS
from cognirace.strategy.backtest_policies import FIXED_POLICIES
from cognirace.strategy.backtest_run import PointResult, RaceOutcome
from cognirace.strategy.backtest_stats import (
    INFORMATIVE,
    calibration_pairs,
    oracle_share,
    paired_gain,
    reliability,
)

GOAL_ORACLE_SHARE = 0.70
"""Least share of the oracle's gain the advice must capture."""
GOAL_CALIBRATION = 0.05
"""Largest calibration error allowed."""


def _vs(points: Sequence[PointResult], policy: str) -> dict[str, object]:
    gain = paired_gain([p.finish[policy] for p in points], [p.finish["advice"] for p in points],
                       [p.race for p in points])
    return gain.to_json()


def _policy(points: Sequence[PointResult], policy: str) -> dict[str, object]:
    out = _vs(points, policy)
    out["with_caution"] = _vs([p for p in points if p.caution_race], policy)
    out["without_caution"] = _vs([p for p in points if not p.caution_race], policy)
    return out


def _calibration(points: Sequence[PointResult]) -> tuple[dict[str, object], float]:
    predicted, observed = calibration_pairs([p.p_at_or_ahead for p in points],
                                            [p.finish["advice"] for p in points])
    every = reliability(predicted, observed)
    keep = (predicted >= INFORMATIVE) & (predicted <= 1.0 - INFORMATIVE)
    informative = reliability(predicted[keep], observed[keep])
    plain = [p for p in points if not p.forced_after]
    unforced = reliability(*calibration_pairs([p.p_at_or_ahead for p in plain],
                                              [p.finish["advice"] for p in plain]))
    return {"all": every.to_json(), "informative": informative.to_json(),
            "without_forced_stop_after": unforced.to_json()}, informative.error


def _rejoin(points: Sequence[PointResult]) -> tuple[float | None, int]:
    pairs = [(p.rejoin_estimate, p.rejoin_actual) for p in points
             if p.rejoin_estimate is not None and p.rejoin_actual is not None]
    if not pairs:
        return None, 0
    return float(np.mean([abs(a - b) <= 1 for a, b in pairs])), len(pairs)


def _mean(points: Sequence[PointResult], policy: str) -> float | None:
    return float(np.mean([p.finish[policy] for p in points])) if points else None


def build_report(outcomes: Sequence[RaceOutcome], settings: dict[str, object]
                 ) -> dict[str, Any]:
    """The backtest's JSON (see the module docstring and ``backtest_stats``)."""
    points = [p for o in outcomes for p in o.points]
    vs = {policy: _policy(points, policy) for policy in FIXED_POLICIES}
    share = oracle_share([p.finish["stay_out"] for p in points],
                         [p.finish["advice"] for p in points],
                         [p.finish["oracle"] for p in points])
    calibration, informative_error = _calibration(points)
    error = calibration["all"]["calibration_error"]  # type: ignore[index]
    within, n_rejoin = _rejoin(points)
    skipped = Counter(s for o in outcomes for s in o.skipped)
    goals = {
        "ahead_of_every_fixed_policy": all(v["ci95"][0] > 0 for v in vs.values()),  # type: ignore[index]
        f"oracle_share_at_least_{GOAL_ORACLE_SHARE}": share is not None
        and share >= GOAL_ORACLE_SHARE,
        f"calibration_error_at_most_{GOAL_CALIBRATION}": bool(error <= GOAL_CALIBRATION),
    }
    return {
        "races": len(outcomes), "races_with_caution": sum(o.caution for o in outcomes),
        "decision_points": len(points), "skipped_points": dict(skipped),
        "points_by_kind": {k: sum(k in p.kinds for p in points) for k in KINDS},
        "advice_taken": dict(Counter(_advice_kind(p.advice) for p in points)),
        "mean_finish": {policy: _mean(points, policy)
                        for policy in ("advice", *FIXED_POLICIES, "oracle")},
        "vs": vs,
        "vs_stay_out_by_kind": {k: _vs([p for p in points if k in p.kinds], "stay_out")
                                for k in KINDS},
        "oracle_share": share,
        "calibration_error": error,
        "calibration_error_informative": informative_error,
        "calibration": calibration,
        "rejoin_within_one": within, "rejoin_n": n_rejoin,
        "goals": goals, "settings": settings,
    }


def _advice_kind(label: str) -> str:
    """``pit on lap 17 (tires)`` -> ``pit on lap k``: the advice's kind for counting."""
    if label.startswith("pit on lap"):
        return "pit on lap k"
    return label.split(" (")[0]


def _fmt(value: object, spec: str = ".3f") -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "-"
    return format(value, spec)


def _gain_row(name: str, row: dict[str, Any]) -> str:
    low, high = row["ci95"]
    return (f"  {name:<26} {row['n']:>6} {_fmt(row['mean_gain'], '+.3f'):>8} "
            f"[{_fmt(low, '+.3f')}, {_fmt(high, '+.3f')}]  "
            f"{_fmt(row['win'], '.1%'):>6} {_fmt(row['tie'], '.1%'):>6} "
            f"{_fmt(row['loss'], '.1%'):>6}")


def render(report: dict[str, Any]) -> list[str]:
    """The report as plain text lines."""
    s = report["settings"]
    lines = [f"backtest: {report['races']} held-out races (seasons from seed {s['seed']}, "
             f"{report['races_with_caution']} with a caution), {report['decision_points']} "
             f"decision points, {s['n_sims']} simulations per advice, "
             f"{s['cars_per_race'] or 'every'} car(s) per race; {s['elapsed_s']:.0f} s",
             "", "positions gained by following the advice, against each fixed policy "
             "(paired; 95% CI clustered by race)",
             f"  {'against':<26} {'points':>6} {'mean':>8} {'95% CI':<18} {'win':>6} "
             f"{'tie':>6} {'loss':>6}"]
    for policy, row in report["vs"].items():
        lines.append(_gain_row(policy, row))
        lines.append(_gain_row("  races with a caution", row["with_caution"]))
        lines.append(_gain_row("  races without", row["without_caution"]))
    lines += ["", "against staying out, by reason of the decision point"]
    lines += [_gain_row(kind, row) for kind, row in report["vs_stay_out_by_kind"].items()]
    means = ", ".join(f"{k} {_fmt(v, '.2f')}" for k, v in report["mean_finish"].items())
    lines += ["", f"mean finish position: {means}",
              f"advice taken: {', '.join(f'{k} {n}' for k, n in report['advice_taken'].items())}",
              f"oracle share (advice's gain over staying out / the oracle's): "
              f"{_fmt(report['oracle_share'], '.1%')}"
              + ("" if report["oracle_share"] is not None else
                 " (undefined: at no point did any stop beat staying out)"),
              f"rejoin within one place (recommended stops, estimate vs branch): "
              f"{_fmt(report['rejoin_within_one'], '.1%')} of {report['rejoin_n']}", ""]
    lines += _reliability_lines(report)
    lines += _goal_lines(report)
    if report["skipped_points"]:
        lines += ["", "decision points skipped:"]
        lines += [f"  {n:>5} {why}" for why, n in report["skipped_points"].items()]
    return lines


def _reliability_lines(report: dict[str, Any]) -> list[str]:
    cal = report["calibration"]
    lines = ["calibration: predicted P(finish at or ahead of place k) of the advice vs "
             "its branch, every point and k",
             f"  {'predicted':<11} {'pairs':>7} {'mean p':>7} {'observed':>8}"]
    for row in cal["all"]["bins"]:
        lines.append(f"  {row['p_low']:.1f}-{row['p_high']:.1f}    {row['n']:>7} "
                     f"{row['predicted']:>7.3f} {row['observed']:>8.3f}")
    lines.append(f"  calibration error {_fmt(report['calibration_error'])} over "
                 f"{cal['all']['n_pairs']} pairs; over the {cal['informative']['n_pairs']} "
                 f"pairs predicted {INFORMATIVE:.2f}-{1 - INFORMATIVE:.2f}: "
                 f"{_fmt(report['calibration_error_informative'])}")
    plain = cal["without_forced_stop_after"]
    lines.append(f"  diagnostic: over the points whose car makes no forced stop (repair, "
                 f"penalty) and does not retire after them, which no snapshot can know: "
                 f"{_fmt(plain['calibration_error'])} over {plain['n_pairs']} pairs")
    return lines


def _goal_lines(report: dict[str, Any]) -> list[str]:
    vs = report["vs"]
    lows = ", ".join(f"{k} {_fmt(v['ci95'][0], '+.3f')}" for k, v in vs.items())
    met = list(report["goals"].values())
    words = ["met" if ok else "NOT met" for ok in met]
    return ["", "goals:",
            f"  ahead of every fixed policy, interval above zero (lower ends: {lows}): "
            f"{words[0]}",
            f"  at least {GOAL_ORACLE_SHARE:.0%} of the oracle's gain "
            f"({_fmt(report['oracle_share'], '.1%')}): {words[1]}",
            f"  calibration error at most {GOAL_CALIBRATION} "
            f"({_fmt(report['calibration_error'])}; informative pairs "
            f"{_fmt(report['calibration_error_informative'])}): {words[2]}"]


__all__ = ["GOAL_CALIBRATION", "GOAL_ORACLE_SHARE", "build_report", "render"]
