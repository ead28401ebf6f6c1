"""Every model keeps the one contract; new models join by adding a case to CASES."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from models.contract import ContractCase, check_model_contract
from models.reference import LinearLapTimeModel, lap_frame

CASES = [
    ContractCase("reference_linear", LinearLapTimeModel, lap_frame),
    ContractCase("reference_linear_ridge", lambda: LinearLapTimeModel(ridge=5.0), lap_frame),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_model_keeps_the_contract(case: ContractCase, tmp_path: Path, seed: int) -> None:
    check_model_contract(case.factory, case.frame(np.random.default_rng(seed)), tmp_path)
