"""Where the real bytes of the data set are, and the lake built from all of them.

The files stay in ``../shared/real/`` beside the project (never copied into it); tests
that need them skip with a reason when the folder is absent.
"""

from __future__ import annotations

from pathlib import Path

import pytest

REAL = Path(__file__).resolve().parents[1].parent / "shared" / "real"
"""The real excerpts of the Hack-the-Track 2025 data set."""
TIMING = REAL / "edimaudo__grcup-analytics" / "data"
"""All 14 races' timing, lap, results and weather files, one folder per track."""

RACES = {
    "barber-R1": "barber/Race 1", "barber-R2": "barber/Race 2",
    "cota-R1": "COTA/Race 1", "cota-R2": "COTA/Race 2",
    "indianapolis-R1": "indianapolis/Race 1", "indianapolis-R2": "indianapolis/Race 2",
    "road_america-R1": "Road America/Race 1", "road_america-R2": "Road America/Race 2",
    "sebring-R1": "Sebring/Race 1", "sebring-R2": "Sebring/Race 2",
    "sonoma-R1": "Sonoma/Race 1", "sonoma-R2": "Sonoma/Race 2",
    "vir-R1": "VIR/Race 1", "vir-R2": "VIR/Race 2",
}
"""Each real race's lake id and its timing folder under ``TIMING``."""

needs_real = pytest.mark.skipif(
    not TIMING.is_dir(), reason=f"the real data set excerpts are not at {REAL}")
"""Mark for tests that read the real bytes."""


def real_lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Ingest the whole real tree once into a temporary lake (for a session fixture)."""
    from cognirace.ingest import ingest

    if not TIMING.is_dir():
        pytest.skip(f"the real data set excerpts are not at {REAL}")
    lake = tmp_path_factory.mktemp("real") / "lake"
    reports = ingest(REAL, lake)
    assert all(r.ok for r in reports), [r.error for r in reports if not r.ok]
    return lake


__all__ = ["RACES", "REAL", "TIMING", "needs_real", "real_lake"]
