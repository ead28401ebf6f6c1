"""The quality report of one ingested race: what was read, dropped, repaired and missing.

It is printed by ``cognirace ingest`` and saved as JSON beside the lake's tables, so a
user can see, for every race, how far the lake can be trusted.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class RaceReport:
    """Quality of one race's ingest.

    Attributes:
        race_id: The race.
        source_dir: Where its files were found.
        files: File name used per family.
        rows_read: Data rows read per family.
        rows_dropped: Rows dropped, by reason.
        channels_hz: Telemetry channels present with their median sample rate, Hz.
        samples: Wide telemetry samples written.
        values_nulled: Telemetry values outside physical range, set missing.
        laps: Lap rows written.
        laps_source: Where the laps came from: ``official timing`` (the sections file),
            ``lap files`` for a race without one, ``none`` for telemetry alone.
        laps_repaired: Lap rows whose lap number was recovered (lap-file laps only).
        telemetry_laps_repaired: Telemetry samples whose logged lap number was replaced
            (by the official lap, or recovered where impossible).
        repairs: Every other repair, counted by what was done.
        lap_end_events: What each event of the lap end file turned out to be, against
            the official timing (``laps.LAP_END_EVENTS``); laps only the lap files know
            are counted here and never added.
        ecu_offset_s: Per logged car, real time minus its ECU clock, seconds.
        cars_matched: Timing car by ``vehicle_id``, with how it was found.
        cars_unmatched: ``vehicle_id`` of logged cars the timing does not list.
        cars_without_logger: Timing cars no logged car was matched to.
        missing: Families or channels the race lacks.
        file_errors: Optional files that could not be read and were skipped, by file.
        notes: Anything else worth knowing (files ignored, choices made).
        error: Why the race could not be ingested (nothing of it was written), or
            ``None``.
    """

    race_id: str
    source_dir: str
    files: dict[str, list[str]] = field(default_factory=dict)
    rows_read: dict[str, int] = field(default_factory=dict)
    rows_dropped: dict[str, int] = field(default_factory=dict)
    channels_hz: dict[str, float] = field(default_factory=dict)
    samples: int = 0
    values_nulled: int = 0
    laps: int = 0
    laps_source: str = ""
    laps_repaired: int = 0
    telemetry_laps_repaired: int = 0
    repairs: dict[str, int] = field(default_factory=dict)
    lap_end_events: dict[str, int] = field(default_factory=dict)
    ecu_offset_s: dict[str, float] = field(default_factory=dict)
    cars_matched: dict[str, str] = field(default_factory=dict)
    cars_unmatched: list[str] = field(default_factory=list)
    cars_without_logger: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    file_errors: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def ok(self) -> bool:
        """Whether the race was written to the lake."""
        return self.error is None

    @property
    def n_dropped(self) -> int:
        """All rows dropped, whatever the reason."""
        return sum(self.rows_dropped.values())

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary."""
        return asdict(self)

    def to_json(self) -> str:
        """The report as indented JSON."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RaceReport:
        """Read a report back from its dictionary."""
        return cls(**data)


__all__ = ["RaceReport"]
