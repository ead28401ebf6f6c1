"""Read race files in the Hack-the-Track format, repair them and write the lake.

``ingest(src, lake)`` is the entry point; the modules do one job each: ``discover``
(files by header), ``textfile``/``timing``/``lapfiles``/``telemetry`` (parsers),
``laps`` (lap repair), ``cars`` (car numbers), ``raceid`` (naming), ``report``.
"""

from cognirace.ingest.discover import RaceFiles, discover
from cognirace.ingest.pipeline import Progress, build_race, ingest
from cognirace.ingest.raceid import RaceKey, assign_race_ids
from cognirace.ingest.report import RaceReport

__all__ = [
    "Progress",
    "RaceFiles",
    "RaceKey",
    "RaceReport",
    "assign_race_ids",
    "build_race",
    "discover",
    "ingest",
]
