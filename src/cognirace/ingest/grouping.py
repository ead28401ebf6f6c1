"""Grouping race files into races, across folders, and choosing one file per family.

A race is one session (``R1``/``R2``) of one event at one track. Its files need not sit
in one folder: the public copies of the data set spread one race over several
repositories (timing in one, the official results in another, a telemetry head in a
third). Files are first grouped by folder, track and session; groups of the same track
and session are then joined into one race when their event dates agree within a day
(the event is dated by its Sunday, ``meta_event``, while the weather and the lap
files' clocks give the day it ran), and an undated group (a folder holding only a
results file) joins the one dated race of its track and session. Where an undated group
cannot be placed because two events of that track and session are in the ingest, it
is left out with a note.

Within a race, one file per family is used, from the race's main folder (the one with
the sections file, else the most families); the results files are all kept, ranked,
for ``results`` to choose from (official over provisional, overall over by class).
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from cognirace.domain.formats import FileKind
from cognirace.errors import DataError
from cognirace.ingest.discover import LAP_KINDS, RESULT_KINDS, FoundFile, find_files, first_row

_DATE = re.compile(r"(\d{4}-\d{2}-\d{2})")
SAME_EVENT_DAYS = 1
"""Dates of one event's files differ by at most this many days (Sunday vs Saturday)."""


@dataclass
class RaceFiles:
    """The files of one race, as found on disk.

    Attributes:
        track: Track key.
        session: ``R1`` or ``R2``.
        source_dir: The race's main folder (the sections file's, else the fullest).
        files: Files by family: one each, except several telemetry parts and every
            results file found (best first).
        notes: What grouping skipped or chose, for the report.
        event: ``meta_event`` of the logger files, if any.
        date: The event's date, if known.
        folders: Every folder the race's files came from.
    """

    track: str
    session: str
    source_dir: Path
    files: dict[FileKind, list[Path]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    event: str | None = None
    date: dt.date | None = None
    folders: list[Path] = field(default_factory=list)

    def one(self, kind: FileKind) -> Path | None:
        """The file of a family, or ``None`` when the race lacks it."""
        paths = self.files.get(kind)
        return paths[0] if paths else None

    @property
    def label(self) -> str:
        """``track-session`` with the date when known, for messages."""
        day = f" ({self.date.isoformat()})" if self.date else ""
        return f"{self.track}-{self.session}{day}"


@dataclass
class _Group:
    track: str
    session: str
    folder: Path
    files: list[FoundFile] = field(default_factory=list)
    event: str | None = None
    date: dt.date | None = None


def event_of(files: list[FoundFile]) -> tuple[str | None, dt.date | None]:
    """The event name (``meta_event``) and date of a group, from its files' first rows.

    The date comes from ``meta_event`` (``I_R04_2025-07-20``), else the first
    ``meta_time``, else the weather's first time.
    """
    event: str | None = None
    date: dt.date | None = None
    logger = [f for f in files if f.kind in (FileKind.TELEMETRY, *LAP_KINDS)]
    for found in logger:
        row = first_row(found.path)
        event = event or row.get("meta_event") or None
        hit = _DATE.search(event or "") or _DATE.search(row.get("meta_time", ""))
        if hit and date is None:
            date = dt.date.fromisoformat(hit.group(1))
    weather = [f for f in files if f.kind is FileKind.WEATHER]
    if date is None and weather:
        seconds = first_row(weather[0].path).get("TIME_UTC_SECONDS", "")
        if seconds.replace(".", "", 1).isdigit():
            date = dt.datetime.fromtimestamp(float(seconds), tz=dt.UTC).date()
    return event, date


def group_races(found: list[FoundFile], notes: list[tuple[Path, str]]) -> list[RaceFiles]:
    """Group found files into races (see the module docstring for the rules).

    Args:
        found: From ``discover.find_files``.
        notes: Skipped-file notes by folder; each goes to the races of that folder.
    """
    groups = _by_folder(found, notes)
    for group in groups:
        group.event, group.date = event_of(group.files)
    races = [_race(members, notes) for members in _join(groups, notes)]
    races.sort(key=lambda r: (r.track, r.date or dt.date.min, r.session, str(r.source_dir)))
    for folder, note in notes:
        owners = [r for r in races if folder in r.folders] or races[:1]
        for race in owners:
            race.notes.append(note)
    return races


def discover(src: Path) -> list[RaceFiles]:
    """Every race under ``src`` (a file, a race folder or a tree of them), grouped.

    Raises:
        DataError: when ``src`` does not exist or holds no race file.
    """
    found, notes = find_files(src)
    races = group_races(found, notes)
    if not races:
        raise DataError("no race files found", path=src,
                        hint="point SRC at a folder holding Hack-the-Track CSV files")
    return races


def _by_folder(found: list[FoundFile], notes: list[tuple[Path, str]]) -> list[_Group]:
    """Groups by (folder, track, session); a file inherits its folder's only track or
    session when its own path does not say."""
    tracks: dict[Path, set[str]] = defaultdict(set)
    sessions: dict[Path, set[str]] = defaultdict(set)
    for f in found:
        if f.track:
            tracks[f.folder].add(f.track)
        if f.session:
            sessions[f.folder].add(f.session)
    groups: dict[tuple[Path, str, str], _Group] = {}
    for f in found:
        track = f.track or _only(tracks[f.folder])
        session = f.session or _only(sessions[f.folder])
        if track is None or session is None:
            what = "track" if track is None else "session"
            notes.append((f.folder, f"skipped {f.path.name}: cannot tell its {what}"))
            continue
        key = (f.folder, track, session)
        groups.setdefault(key, _Group(track, session, f.folder)).files.append(f)
    return list(groups.values())


def _join(groups: list[_Group], notes: list[tuple[Path, str]]) -> list[list[_Group]]:
    """Join groups of one track and session into races by event date."""
    by_session: dict[tuple[str, str], list[_Group]] = defaultdict(list)
    for g in groups:
        by_session[(g.track, g.session)].append(g)
    races: list[list[_Group]] = []
    for (track, session), members in sorted(by_session.items()):
        dated = sorted((g for g in members if g.date), key=lambda g: (g.date, str(g.folder)))
        undated = [g for g in members if g.date is None]
        events: list[list[_Group]] = []
        for g in dated:
            last = events[-1][0].date if events else None
            if last is not None and g.date is not None and (
                    g.date - last).days <= SAME_EVENT_DAYS:
                events[-1].append(g)
            else:
                events.append([g])
        if len(events) <= 1:
            races.append((events[0] if events else []) + undated)
            continue
        races += events
        for g in undated:
            notes.append((g.folder, f"skipped the files of {track}-{session} in {g.folder}: "
                          f"undated, and {len(events)} events of {track}-{session} are in "
                          "this ingest; ingest that folder together with its race's other "
                          "files only"))
    return races


def _race(members: list[_Group], notes: list[tuple[Path, str]]) -> RaceFiles:
    """One race from its groups: the main folder's file per family, all results ranked."""
    def fullness(g: _Group) -> tuple[bool, int, str]:
        kinds = {f.kind for f in g.files}
        return (FileKind.SECTIONS not in kinds, -len(kinds), str(g.folder))

    ordered = sorted(members, key=fullness)
    main = ordered[0]
    race = RaceFiles(main.track, main.session, main.folder,
                     event=next((g.event for g in ordered if g.event), None),
                     date=next((g.date for g in ordered if g.date), None),
                     folders=[g.folder for g in ordered])
    if len(ordered) > 1:
        race.notes.append(f"files from {len(ordered)} folders: "
                          + ", ".join(str(g.folder) for g in ordered))
    every: dict[FileKind, list[Path]] = defaultdict(list)
    for g in ordered:
        for f in sorted(g.files, key=lambda f: f.path.name):
            every[f.kind].append(f.path)
    results = sorted((p for k in RESULT_KINDS for p in every.pop(k, [])), key=result_rank)
    if results:
        race.files[FileKind.RESULTS] = results
    for kind, paths in every.items():
        if kind is FileKind.TELEMETRY:
            race.files[kind] = paths
            continue
        race.files[kind] = paths[:1]
        race.notes.extend(f"{kind.value}: used {paths[0].name}, ignored {p}" for p in paths[1:])
    return race


def result_rank(path: Path) -> tuple[int, int, str]:
    """Order of trust among results files: official, then unmarked, then provisional;
    overall (``00_``/``03_``) before by class (``05_``) at the same level."""
    name = path.name.lower()
    level = 0 if "official" in name else 2 if "provisional" in name else 1
    by_class = 1 if "class" in name else 0
    return level, by_class, name


def _only(values: set[str]) -> str | None:
    return next(iter(values)) if len(values) == 1 else None


__all__ = ["SAME_EVENT_DAYS", "RaceFiles", "discover", "event_of", "group_races",
           "result_rank"]
