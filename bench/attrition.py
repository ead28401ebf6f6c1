"""Attrition in the real races: how often a running car drops out of contention per lap.

The strategy's Monte Carlo races every car to the flag; in the real series some do not
get there, or get there laps down after a long repair. That changes where everyone
else finishes, and a forecast that ignores it is overconfident. No model predicts it,
so the strategy assumes a rate (``strategy.assumptions.ATTRITION_PER_LAP``) and this
script is where it comes from: the 14 real races' official results, ingested from
``../shared/real/`` in place by the ingest.

A car drops out when it started (at least one lap) and finished more than
``LAPS_DOWN`` laps behind the winner or was not classified: a spec field runs within a
lap or two of the winner, so more than that is a retirement or a repair. The rate is
drop-outs per car-lap of exposure (every starter times the winner's laps). For
comparison the same figure over a simulated lake (``--sim-lake``, e.g. the demo's), which
the strategy does not read.

    python bench/attrition.py [--real ../shared/real] [--sim-lake data/demo/lake]
        [--out docs/results/attrition.txt]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import polars as pl

from cognirace.ingest import ingest
from cognirace.lake import open_lake

LAPS_DOWN = 2
"""More than this many laps behind the winner counts as out of contention."""


def attrition(results: pl.DataFrame) -> pl.DataFrame:
    """Per race: starters, drop-outs and exposure (car-laps)."""
    per_race = results.with_columns(pl.col("laps").max().over("race_id").alias("winner"))
    started = per_race.filter(pl.col("laps") >= 1)
    out = (pl.col("laps") < pl.col("winner") - LAPS_DOWN) | (pl.col("status") != "Classified")
    return (started.group_by("race_id")
            .agg(pl.len().alias("starters"), out.sum().alias("out"),
                 pl.col("winner").first().alias("winner_laps"))
            .with_columns((pl.col("starters") * pl.col("winner_laps")).alias("car_laps"))
            .sort("race_id"))


def _real_results(src: Path, lake: Path) -> pl.DataFrame:
    ingest(src, lake)
    return open_lake(lake).results


def _line(name: str, table: pl.DataFrame) -> str:
    out, exposure = int(table["out"].sum()), int(table["car_laps"].sum())
    return (f"{name:10} races {table.height:4d}  starters {int(table['starters'].sum()):5d}  "
            f"out {out:4d}  car-laps {exposure:7d}  per car-lap {out / exposure:.5f}  "
            f"per starter {out / int(table['starters'].sum()):.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--real", type=Path, default=Path("../shared/real"))
    parser.add_argument("--sim-lake", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    if not args.real.is_dir():
        raise SystemExit(f"no real data at {args.real}: pass --real DIR")
    with tempfile.TemporaryDirectory(prefix="cognirace-attrition-") as tmp:
        real = attrition(_real_results(args.real, Path(tmp) / "lake"))
    lines = [f"attrition: a starter more than {LAPS_DOWN} laps behind the winner or not "
             "classified", "", "real races:"]
    lines += [f"  {r['race_id']:24} starters {r['starters']:3d}  out {r['out']:2d}  "
              f"winner laps {r['winner_laps']:3d}" for r in real.iter_rows(named=True)]
    lines += ["", _line("real", real)]
    if args.sim_lake is not None:
        lines.append(_line("simulated", attrition(open_lake(args.sim_lake).results)))
    text = "\n".join(lines)
    print(text)
    if args.out is not None:
        args.out.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
