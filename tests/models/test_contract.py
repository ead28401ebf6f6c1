"""Every model keeps the one contract; new models join by adding a case to CASES."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cognirace.models.anomaly import (
    AnomalyDetector,
    AnomalyDetectorWithCarHistory,
    TunedZScoreBaseline,
    ZScoreBaseline,
)
from cognirace.models.driver import DriverEmbeddingModel, RandomEmbeddingBaseline
from cognirace.models.fcy import ConstantHazardBaseline, FcyHazardModel
from cognirace.models.fuel import FuelBurnModel, TrackMeanFuelBaseline
from cognirace.models.laptime import LapTimeModel, PaceMedianBaseline
from cognirace.models.pitloss import PitLossModel, TransitPitLossBaseline
from cognirace.models.tire import TireDegradationModel, TrackMeanSlopeBaseline
from cognirace.models.traffic import GapPaceLogisticBaseline, TrafficGnnModel
from models.contract import ContractCase, check_model_contract
from models.reference import LinearLapTimeModel, lap_frame
from models.test_anomaly import anomaly_frame
from models.test_driver import driver_frame
from models.test_fcy import fcy_frame
from models.test_fuel import fuel_frame
from models.test_laptime import laptime_frame
from models.test_pitloss import stop_frame
from models.test_tire import tire_frame
from models.test_traffic import traffic_frame

CASES = [
    ContractCase("reference_linear", LinearLapTimeModel, lap_frame),
    ContractCase("reference_linear_ridge", lambda: LinearLapTimeModel(ridge=5.0), lap_frame),
    ContractCase("fuel_burn", FuelBurnModel, fuel_frame),
    ContractCase("fuel_burn_track_mean", TrackMeanFuelBaseline, fuel_frame),
    ContractCase("pit_loss", PitLossModel, stop_frame),
    ContractCase("pit_loss_transit", TransitPitLossBaseline, stop_frame),
    ContractCase("laptime", lambda: LapTimeModel(n_estimators=20), laptime_frame),
    ContractCase("laptime_baseline", PaceMedianBaseline, laptime_frame),
    ContractCase("tire", TireDegradationModel, tire_frame),
    ContractCase("tire_baseline", TrackMeanSlopeBaseline, tire_frame),
    ContractCase("fcy_hazard", FcyHazardModel, fcy_frame),
    ContractCase("fcy_hazard_constant", ConstantHazardBaseline, fcy_frame),
    ContractCase("anomaly", lambda: AnomalyDetector(n_estimators=10), anomaly_frame),
    ContractCase("anomaly_with_car_history",
                 lambda: AnomalyDetectorWithCarHistory(n_estimators=10), anomaly_frame),
    ContractCase("anomaly_zscore", ZScoreBaseline, anomaly_frame),
    ContractCase("anomaly_zscore_tuned", TunedZScoreBaseline, anomaly_frame),
    ContractCase("traffic_gnn", lambda: TrafficGnnModel(epochs=30), traffic_frame),
    ContractCase("traffic_logistic", GapPaceLogisticBaseline, traffic_frame),
    ContractCase("driver_embedding", DriverEmbeddingModel, driver_frame),
    ContractCase("driver_embedding_random", RandomEmbeddingBaseline, driver_frame),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_model_keeps_the_contract(case: ContractCase, tmp_path: Path, seed: int) -> None:
    check_model_contract(case.factory, case.frame(np.random.default_rng(seed)), tmp_path)
