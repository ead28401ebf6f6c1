"""The lap table of a race logged at the real logger's 20 Hz equals the 2 Hz table.

At 20 Hz speed, rpm and the lap distance come on one sample in four or five, and a
track logs the pedal ``aps`` or the blade ``ath``, never both; at 2 Hz every channel is
on every sample. The simulator drives the same race whatever the telemetry rate, so the
per-lap aggregates of the two lakes may differ only by sampling.
"""

from __future__ import annotations

import polars as pl
import pytest

from cognirace.features import feature_table

TRACKS = {"barber": "aps", "sonoma": "ath"}
"""A track of each throttle channel, and the channel it logs."""

CLOSE = {"full_throttle_frac": 0.05, "mean_throttle_pct": 0.03, "mean_rpm": 0.01,
         "max_speed_kph": 0.01, "min_corner_speed_kph": 0.02, "mean_apex_speed_kph": 0.05,
         "brake_energy_bar_m": 0.08}
"""Largest relative gap between the median green lap at 20 Hz and at 2 Hz; braking peaks
are short, so 2 Hz misses more of the brake energy than of anything else."""

WORK_CLOSE = 0.05
"""The same for the work integrals (``engine_krev``, ``throttle_s``)."""


@pytest.fixture(scope="module")
def tables(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, float], pl.DataFrame]:
    """Green laps of one short race per track, simulated once and logged at 2 and 20 Hz.

    The simulator and the ingest are imported here, so the module collects without them.
    """
    from cognirace.ingest import ingest
    from cognirace.lake import open_lake
    from cognirace.sim import RaceConfig, season_roster, simulate_one

    root = tmp_path_factory.mktemp("rates")
    out = {}
    for track in TRACKS:
        for hz in (2.0, 20.0):
            folder = root / f"{track}-{hz:g}hz"
            config = RaceConfig(track, n_cars=4, duration_s=600.0, telemetry_hz=hz)
            simulate_one(folder / "src", config, season_roster(14), 14)
            ingest(folder / "src", folder / "lake")
            out[track, hz] = feature_table(open_lake(folder / "lake")).filter(
                pl.col("green_lap"))
    return out


def _median_ratio(fast: pl.DataFrame, slow: pl.DataFrame, name: str) -> float:
    """Median over green laps of the 20 Hz value over the 2 Hz one."""
    assert fast[name].null_count() == 0, name
    ratio = (fast[name] / slow[name]).median()
    assert isinstance(ratio, float)
    return ratio


@pytest.mark.parametrize("track", sorted(TRACKS))
def test_20_hz_laps_aggregate_like_2_hz_laps(
        track: str, tables: dict[tuple[str, float], pl.DataFrame]) -> None:
    slow, fast = tables[track, 2.0], tables[track, 20.0]
    assert slow.height >= 10 and slow["lap_time_s"].to_list() == fast["lap_time_s"].to_list()
    assert set(fast["throttle_source"]) == set(slow["throttle_source"]) == {TRACKS[track]}
    assert (fast["n_samples"] > 8 * slow["n_samples"]).all()
    for name, tolerance in CLOSE.items():
        ratio = _median_ratio(fast, slow, name)
        assert abs(ratio - 1.0) < tolerance, (name, ratio)


@pytest.mark.parametrize("name", ["engine_krev", "throttle_s"])
@pytest.mark.parametrize("track", [
    "barber",
    "sonoma",
])
def test_the_work_integrals_do_not_depend_on_the_rate(
        track: str, name: str, tables: dict[tuple[str, float], pl.DataFrame]) -> None:
    ratio = _median_ratio(tables[track, 20.0], tables[track, 2.0], name)
    assert abs(ratio - 1.0) < WORK_CLOSE, ratio
