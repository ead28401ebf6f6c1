"""Read race files in the Hack-the-Track format, repair them and write the lake.

``ingest(src, lake)`` is the entry point; the modules do one job each: ``discover``
(files by header), ``grouping`` (files into races, across folders), ``textfile``,
``sections``, ``results``, ``weather``, ``lapfiles`` and ``telemetry``/``pivot``
(parsers), ``cars`` (which logged car is which timing car), ``laps`` (the laps table:
the official timing decides), ``telemetry_laps`` (lap numbers of samples), ``raceid``
(naming), ``race`` (one race's tables), ``report``.
"""

from cognirace.ingest.grouping import RaceFiles, discover, group_races
from cognirace.ingest.pipeline import Progress, ingest
from cognirace.ingest.race import build_race
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
    "group_races",
    "ingest",
]
