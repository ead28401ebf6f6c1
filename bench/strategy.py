"""Benchmark: the strategy Monte Carlo, every candidate of one car, on one core.

The goal (issue 13): 1,000 simulations of the rest of a race, 25 cars, all candidates
of one car, in at most 50 ms on one core. Measured here on a synthetic GR Cup field at
Barber (laps of 99 to 103 s a second or two apart, wear of 0.04 to 0.06 s per lap,
2.3 l per lap; no models needed), for the car in 10th place:

* ``shared``: ``simulate_rest`` with all the car's candidates at once: the field is
  simulated once with the car staying out and once without it, and every candidate
  reuses both (``car_run``);
* ``exact``: the same with ``exact_after_stop=True``: a car that has stopped races the
  field simulated again without it rather than the base run's field (and how far the
  two answers are apart);
* ``naive`` (the baseline, same run): one ``simulate_rest`` per candidate, each
  re-simulating the field, as a per-candidate Monte Carlo would.

Both on the default glibc allocator and with its trim and mmap thresholds raised
(``mallopt``, as ``MALLOC_TRIM_THRESHOLD_`` does for a long-running server): NumPy's
temporaries of one lap (25,000 floats, 200 kB) sit right at glibc's default thresholds,
where each allocation can be handed back to the kernel and faulted in again.

Then how the time grows with sims, cars and laps left, and the standard error of
P(gain) at 1,000 sims: the binomial formula the answer reports, against the spread of
P(gain) over 20 independent seeds.

    python bench/strategy.py [--repeats 15] [--out docs/results/strategy.txt]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
             "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from cognirace.strategy import (  # noqa: E402
    RaceSnapshot,
    candidates_for,
    simulate_rest,
)
from cognirace.strategy.advice import answer  # noqa: E402
from cognirace.strategy.allocator import tune_allocator  # noqa: E402
from cognirace.strategy.examples import gr_cup_field  # noqa: E402

SIMS, CARS, LAPS_LEFT, POSITION = 1_000, 25, 15, 10
GOAL_MS = 50.0


def gr_cup(n_cars: int = CARS, laps_left: float = LAPS_LEFT, lap: int = 12,
           seed: int = 0) -> RaceSnapshot:
    """A plausible GR Cup field at Barber, ``laps_left`` laps of clock to go."""
    return gr_cup_field(n_cars, laps_left, lap, seed, race_id="bench")


def timed_ms(call: Callable[[int], object], repeats: int) -> tuple[float, float]:
    """Median and best wall time of ``call(i)``, ms, after two warm-up calls."""
    call(0)
    call(1)
    times = []
    for i in range(2, repeats + 2):
        started = time.perf_counter()
        call(i)
        times.append((time.perf_counter() - started) * 1e3)
    return statistics.median(times), min(times)


def median_ms(call: Callable[[int], object], repeats: int) -> float:
    return timed_ms(call, repeats)[0]


def shared_ms(snap: RaceSnapshot, n_sims: int, repeats: int, exact: bool = False
              ) -> tuple[float, float, int]:
    """All candidates of the 10th car at once: (median ms, best ms, candidates)."""
    car = next(c.car_number for c in snap.cars if c.position == min(POSITION, len(snap.cars)))
    chosen = candidates_for(snap, car)
    median, best = timed_ms(lambda i: simulate_rest(snap, chosen, n_sims,
                                                    np.random.default_rng(i),
                                                    exact_after_stop=exact), repeats)
    return median, best, len(chosen)


def naive_ms(snap: RaceSnapshot, n_sims: int, repeats: int) -> float:
    """One ``simulate_rest`` per candidate (the field re-simulated each time), ms."""
    car = next(c.car_number for c in snap.cars if c.position == POSITION)
    chosen = candidates_for(snap, car)

    def run(seed: int) -> None:
        for candidate in chosen:
            simulate_rest(snap, [candidate], n_sims, np.random.default_rng(seed))

    return median_ms(run, repeats)


def headline(repeats: int, allocator: str) -> tuple[str, float]:
    """The goal's case, shared, exact and naive: (table row, shared median ms)."""
    snap = gr_cup()
    shared, best, n_cands = shared_ms(snap, SIMS, repeats)
    exact = shared_ms(snap, SIMS, repeats, exact=True)[0]
    naive = naive_ms(snap, SIMS, max(3, repeats // 5))
    return (f"{allocator:<26}{shared:>9.1f}{best:>8.1f}{exact:>9.1f}{naive:>9.1f}"
            f"{naive / shared:>8.1f}x{shared / SIMS * 1e3:>8.1f}{n_cands:>7d}"), shared


def exact_gap(n_sims: int = 4_000) -> str:
    """How far the shared answer is from the exact one, on the same draws."""
    snap = gr_cup()
    car = next(c.car_number for c in snap.cars if c.position == POSITION)
    chosen = candidates_for(snap, car)
    shared = simulate_rest(snap, chosen, n_sims, np.random.default_rng(7))
    exact = simulate_rest(snap, chosen, n_sims, np.random.default_rng(7),
                          exact_after_stop=True)
    gaps = [abs(a.finish_position.mean() - b.finish_position.mean())
            for a, b in zip(shared.outcomes, exact.outcomes, strict=True)]
    worst = int(np.argmax(gaps))
    return (f"shared vs exact after a stop ({n_sims:,} sims, same draws): expected finish "
            f"position differs by at most {max(gaps):.3f} places ({chosen[worst].label}), "
            f"{statistics.mean(gaps):.3f} on average over {len(chosen)} candidates")


def scaling(repeats: int) -> list[str]:
    rows = []
    for label, n_sims, n_cars, laps in (
            [("sims", s, CARS, LAPS_LEFT) for s in (250, 1_000, 4_000)]
            + [("cars", SIMS, c, LAPS_LEFT) for c in (10, 25, 40)]
            + [("laps left", SIMS, CARS, lap) for lap in (5, 15, 30)]):
        snap = gr_cup(n_cars=n_cars, laps_left=laps)
        ms, _, n_cands = shared_ms(snap, n_sims,
                                   repeats if n_sims < 4_000 else max(3, repeats // 3))
        rows.append(f"{label:<10}{n_sims:>7,d}{n_cars:>6d}{laps:>6d}{n_cands:>7d}{ms:>10.1f}"
                    f"{ms / n_sims * 1e3:>10.1f}")
    return rows


def standard_errors(seeds: int = 20) -> list[str]:
    """P(gain) and the paired gain over staying out at 1,000 sims: the reported standard
    error against the spread over independent seeds."""
    snap = gr_cup()
    car = next(c.car_number for c in snap.cars if c.position == POSITION)
    chosen = candidates_for(snap, car)
    by_label: dict[str, list[tuple[float, float, float, float]]] = {}
    for seed in range(seeds):
        rest = simulate_rest(snap, chosen, SIMS, np.random.default_rng(1000 + seed))
        for s in answer(snap, chosen, rest.outcomes, rest.notes, caution=False).candidates:
            by_label.setdefault(s.label, []).append(
                (s.p_gain, s.p_gain_se, s.gain_vs_stay_out, s.gain_vs_stay_out_se))
    rows = []
    for label in [c.label for c in chosen[:4]]:
        runs = by_label[label]
        p = [r[0] for r in runs]
        g = [r[2] for r in runs]
        p_se = statistics.mean(r[1] for r in runs)
        g_se = statistics.mean(r[3] for r in runs)
        rows.append(f"{label:<30}{statistics.mean(p):>8.3f}{p_se:>10.4f}"
                    f"{statistics.stdev(p):>10.4f}{statistics.mean(g):>9.2f}"
                    f"{g_se:>10.3f}{statistics.stdev(g):>10.3f}")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=15, help="timed calls per case")
    parser.add_argument("--out", default="", help="also write the tables here "
                        "(docs/results/strategy.txt)")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    lines = [f"strategy Monte Carlo, one core (numpy {np.__version__}, python "
             f"{sys.version.split()[0]}, load average {load:.1f} at the start): {SIMS:,} "
             f"sims, {CARS} cars, {LAPS_LEFT} laps left, all candidates of P{POSITION}", "",
             f"{'allocator':<26}{'shared':>9}{'best':>8}{'exact':>9}{'naive':>9}"
             f"{'naive/':>9}{'us/sim':>8}{'cands':>7}",
             f"{'':<26}{'ms':>9}{'ms':>8}{'ms':>9}{'ms':>9}{'shared':>9}"]
    with threadpool_limits(limits=1):
        row, best = headline(args.repeats, "glibc default")
        lines.append(row)
        tuned = tune_allocator()
        if tuned:
            row, best = headline(args.repeats, "glibc, thresholds raised")
            lines.append(row)
        lines += ["", f"goal: {GOAL_MS:.0f} ms for all candidates; "
                  f"{'met' if best <= GOAL_MS else 'not met'} ({best:.1f} ms, median"
                  f"{', thresholds raised' if tuned else ''})", exact_gap(), "",
                  "how the time grows (shared, "
                  f"{'thresholds raised' if tuned else 'default allocator'}):",
                  f"{'vary':<10}{'sims':>7}{'cars':>6}{'laps':>6}{'cands':>7}{'ms':>10}"
                  f"{'us/sim':>10}"]
        lines += scaling(args.repeats)
        lines += ["", "standard errors at 1,000 sims (reported vs spread over 20 seeds):",
                  f"{'candidate':<30}{'P(gain)':>8}{'se':>10}{'sd seeds':>10}{'gain':>9}"
                  f"{'se':>10}{'sd seeds':>10}"]
        lines += standard_errors()
    print("\n".join(lines))
    if args.out:
        Path(args.out).write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
