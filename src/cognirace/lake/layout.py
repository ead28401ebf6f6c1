"""Where each table of the lake lives on disk.

```
<lake>/races.parquet  cars.parquet  laps.parquet  results.parquet  weather.parquet
<lake>/telemetry/race_id=<race_id>/<vehicle_id>.parquet
<lake>/reports/<race_id>.json
```
The per-race tables are single files holding every race; telemetry is partitioned by
race (Hive style, so ``pl.scan_parquet`` can prune by ``race_id``) and split by car.
Folders and files starting with ``.`` are work in progress and never read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from cognirace.errors import DataError

TABLE_FILES = ("races", "cars", "laps", "results", "weather")
"""Tables stored as one Parquet file each."""

_SAFE = re.compile(r"^[A-Za-z0-9_.-]+$")


def check_name(name: str, what: str) -> str:
    """Refuse names that could escape their folder (``..``, slashes)."""
    if not _SAFE.match(name) or name.startswith("."):
        raise DataError(f"unsafe {what} for a lake path", value=name,
                        hint="use letters, digits, '-', '_' and '.' only")
    return name


@dataclass(frozen=True)
class LakeLayout:
    """Paths of one lake folder.

    Attributes:
        root: The lake folder.
    """

    root: Path

    def table(self, name: str) -> Path:
        """The Parquet file of a per-race table (``races``, ``laps``...)."""
        if name not in TABLE_FILES:
            raise KeyError(name)
        return self.root / f"{name}.parquet"

    @property
    def telemetry_root(self) -> Path:
        """The folder holding every race's telemetry partition."""
        return self.root / "telemetry"

    def telemetry_dir(self, race_id: str) -> Path:
        """The telemetry partition of one race."""
        return self.telemetry_root / f"race_id={check_name(race_id, 'race id')}"

    def telemetry_file(self, race_id: str, vehicle_id: str) -> Path:
        """One car's telemetry in one race."""
        return self.telemetry_dir(race_id) / f"{check_name(vehicle_id, 'vehicle id')}.parquet"

    @property
    def reports_dir(self) -> Path:
        """The folder of quality reports."""
        return self.root / "reports"

    def report(self, race_id: str) -> Path:
        """The JSON quality report of one race."""
        return self.reports_dir / f"{check_name(race_id, 'race id')}.json"


__all__ = ["TABLE_FILES", "LakeLayout", "check_name"]
