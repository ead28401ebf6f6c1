"""The one side-by-side of the former baselines and the fair ones, from two saved tables.

``docs/results/evaluation-before.md`` is what ``cognirace demo`` printed before the
baselines were made fair (commit d52083d: same seeds, the simulator without sensor
noise); ``docs/results/evaluation.md`` is the current demo's table. This script puts
their primary rows side by side into ``docs/results/baselines-before-after.md``, which
the README shows; re-run it after refreshing either table.
"""

from __future__ import annotations

from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def primary_rows(path: Path) -> dict[str, list[str]]:
    """Model name to the cells of its primary metric's row."""
    rows = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 5 and cells[1].endswith("(primary)"):
            rows[cells[0]] = cells
    return rows


def main() -> None:
    before = primary_rows(RESULTS / "evaluation-before.md")
    after = primary_rows(RESULTS / "evaluation.md")
    lines = ["| model | metric | former baseline | its verdict | fair baseline | model | "
             "gain [95% interval] | beats the fair baseline |",
             "| --- | --- | ---: | --- | ---: | ---: | ---: | --- |"]
    for model, now in after.items():
        old = before.get(model)
        metric = now[1].replace(" (primary)", "")
        lines.append(f"| {model} | {metric} | {old[2] if old else '-'} | "
                     f"{old[-1] if old else '-'} | {now[2]} | {now[3]} | {now[4]} {now[5]} | "
                     f"{now[-1]} |")
    out = RESULTS / "baselines-before-after.md"
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
