"""``cognirace strategy``'s table: every candidate, the advised one marked, the notes."""

from __future__ import annotations

import numpy as np
from rich.console import Console

from cognirace.cli.strategy_cmd import print_advice
from cognirace.strategy.advice import advise
from cognirace.strategy.examples import gr_cup_field


def test_the_table_lists_every_candidate_and_marks_the_advice() -> None:
    snap = gr_cup_field(n_cars=8, laps_left=6)
    answer = advise(snap, "14", np.random.default_rng(1), n_sims=200).to_json()
    console = Console(record=True, width=160)
    print_advice(console, answer)
    text = console.export_text()
    assert f"P{answer['position']} after {answer['lap']} laps" in text
    for row in answer["candidates"]:
        assert row["label"] in text
    assert f"{answer['recommended']} (advised)" in text
    assert answer["why"] in text.replace("\n", " ")
