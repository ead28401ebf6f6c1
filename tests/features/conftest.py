"""A small simulated race, ingested once for the feature tests.

Seed 14 at Barber with six cars over 15 minutes gives a caution, a drive-through
(pit time equal to the transit) and a stop with a tire change, with 2 Hz telemetry
and the real files' quirks switched on; ``test_live_rows_equal_batch_rows`` checks that
it still does.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from cognirace.lake import Lake, open_lake

RACE_SEED = 115


@pytest.fixture(scope="session")
def sim_lake(tmp_path_factory: pytest.TempPathFactory) -> Lake:
    """The lake of one simulated race with telemetry.

    The simulator and the ingest are imported here, not at the top, so tests that
    build their frames in code run whatever state those layers are in.
    """
    from cognirace.ingest import ingest
    from cognirace.sim import RaceConfig, season_roster, simulate_one

    root = tmp_path_factory.mktemp("features")
    config = RaceConfig("barber", n_cars=6, duration_s=900.0, telemetry_hz=2.0)
    simulate_one(root / "src", config, season_roster(RACE_SEED), RACE_SEED)
    ingest(root / "src", root / "lake")
    return open_lake(Path(root / "lake"))
