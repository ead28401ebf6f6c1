"""Finding the race files under a folder and grouping them into races.

Files are recognised by their header, not their name: the data set names the same
family several ways (``R1_barber_telemetry_data.csv``, ``sonoma_telemetry_R1.csv``,
``03_Results GR Cup Race 1 Official_Anonymized.CSV``). Names are used only where the
header cannot tell (lap start, end and time files share one header; overall and
by-class results too), for the session (``R1_``, ``_R1``, ``Race 1``, a ``Race 1/``
folder) and for the track. A file whose name claims one family while its header says
another is rejected.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from cognirace.domain.formats import FileKind
from cognirace.domain.tracks import track_from_name
from cognirace.errors import DataError, SchemaError
from cognirace.ingest.textfile import decode, read_header, separator_of, split_fields

_SESSION_PATTERNS = (
    re.compile(r"(?<![a-z0-9])r([12])(?![0-9])", re.IGNORECASE),
    re.compile(r"race[\s_-]*([12])(?![0-9])", re.IGNORECASE),
)
_RACE_FOLDER = re.compile(r"^(race[\s_-]*\d+|r\d+)$", re.IGNORECASE)

_NAME_HINTS: tuple[tuple[str, FileKind], ...] = (
    ("telemetry", FileKind.TELEMETRY),
    ("lap_start", FileKind.LAP_START),
    ("lap_end", FileKind.LAP_END),
    ("lap_time", FileKind.LAP_TIME),
    ("by class", FileKind.RESULTS_BY_CLASS),
    ("results", FileKind.RESULTS),
    ("analysisendurance", FileKind.SECTIONS),
    ("sections", FileKind.SECTIONS),
    ("weather", FileKind.WEATHER),
    ("best 10 laps", FileKind.BEST_LAPS),
)
_LAP_KINDS = (FileKind.LAP_START, FileKind.LAP_END, FileKind.LAP_TIME)
_RESULT_KINDS = (FileKind.RESULTS, FileKind.RESULTS_BY_CLASS)


@dataclass
class RaceFiles:
    """The files of one race, as found on disk.

    Attributes:
        track: Track key.
        session: ``R1`` or ``R2``.
        source_dir: The folder the race was found in (the track folder).
        files: Files by family; telemetry may come in several parts.
        notes: What discovery skipped or chose, for the report.
    """

    track: str
    session: str
    source_dir: Path
    files: dict[FileKind, list[Path]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def one(self, kind: FileKind) -> Path | None:
        """The file of a family, or ``None`` when the race lacks it."""
        paths = self.files.get(kind)
        return paths[0] if paths else None


def kind_from_header(header: list[str]) -> FileKind | None:
    """The family a header belongs to (lap kinds and result kinds give their first)."""
    names = set(header)
    if {"telemetry_name", "telemetry_value", "meta_time", "vehicle_id"} <= names:
        return FileKind.TELEMETRY
    if {"lap", "meta_time", "vehicle_id", "timestamp"} <= names:
        return FileKind.LAP_START
    if {"NUMBER", "LAP_NUMBER", "LAP_TIME"} <= names:
        return FileKind.SECTIONS
    if {"POSITION", "NUMBER", "STATUS", "LAPS"} <= names:
        return FileKind.RESULTS
    if {"TIME_UTC_SECONDS", "AIR_TEMP"} <= names:
        return FileKind.WEATHER
    if {"NUMBER", "BESTLAP_1"} <= names:
        return FileKind.BEST_LAPS
    return None


def kind_from_name(name: str) -> FileKind | None:
    """The family a file name claims, if any."""
    low = name.lower()
    for needle, kind in _NAME_HINTS:
        if needle in low:
            return kind
    return None


def classify(path: Path) -> FileKind | None:
    """The family of one file, from its header, refined by its name.

    Returns ``None`` for files that are not race files (their name claims nothing and
    their header is unknown).

    Raises:
        SchemaError: when the name claims a family and the header says otherwise.
    """
    header = read_header(path)
    by_header = kind_from_header(header)
    by_name = kind_from_name(path.name)
    if by_header is FileKind.LAP_START:
        if by_name in _LAP_KINDS:
            return by_name
        by_header = None if by_name is None else by_header
    elif by_header is FileKind.RESULTS and by_name in _RESULT_KINDS:
        return by_name
    if by_name is not None and by_header is not by_name:
        claimed = "none" if by_header is None else by_header.value
        raise SchemaError(
            f"the name says {by_name.value} but the header says {claimed}",
            path=path, line=1, value=",".join(header)[:120],
            hint="the file is not what it claims to be; replace or remove it",
        )
    return by_header


def session_of(path: Path, root: Path) -> str | None:
    """``R1``/``R2`` from the file name, else from its folders below ``root``'s parent."""
    parts = [path.name, *(p.name for p in path.parents if p != root.parent)]
    for part in parts:
        for pattern in _SESSION_PATTERNS:
            m = pattern.search(part)
            if m:
                return f"R{m.group(1)}"
        if part == root.name:
            break
    return None


def session_from_content(path: Path) -> str | None:
    """``meta_session`` of the first data row of a telemetry or lap file."""
    with path.open("rb") as handle:
        lines = decode(handle.read(8192)).splitlines()
    if len(lines) < 2:
        return None
    sep = separator_of(lines[0])
    header = split_fields(lines[0], sep)
    row = split_fields(lines[1], sep)
    if "meta_session" not in header or len(row) <= header.index("meta_session"):
        return None
    value = row[header.index("meta_session")].upper()
    return value if value in ("R1", "R2") else None


def group_dir(path: Path) -> Path:
    """The folder a race belongs to: the file's folder, or its parent for ``Race 1/``."""
    parent = path.parent
    return parent.parent if _RACE_FOLDER.match(parent.name.strip()) else parent


def _candidates(src: Path) -> list[Path]:
    if src.is_file():
        return [src]
    return sorted(
        p for p in src.rglob("*")
        if p.is_file() and p.suffix.lower() in (".csv", ".txt") and not p.name.startswith(".")
    )


def discover(src: Path) -> list[RaceFiles]:
    """Every race under ``src`` (a race folder, a track folder or a tree of them).

    Raises:
        DataError: when ``src`` does not exist or holds no race file.
        SchemaError: for a file that is not what its name claims.
    """
    if not src.exists():
        raise DataError("no such file or folder", path=src, hint="check the SRC argument")
    root = src if src.is_dir() else src.parent
    found: list[tuple[Path, FileKind, str | None, str | None]] = []
    skipped: list[tuple[Path, str]] = []
    for path in _candidates(src):
        kind = classify(path)
        if kind is None:
            skipped.append((group_dir(path), f"ignored {path.name}: not a race file"))
            continue
        track = track_from_name(str(path.relative_to(root.parent)))
        session = session_of(path, root)
        if session is None and kind in (FileKind.TELEMETRY, *_LAP_KINDS):
            session = session_from_content(path)
        found.append((path, kind, None if track is None else track.key, session))
    races = _group(found, skipped)
    if not races:
        raise DataError(
            "no race files found", path=src,
            hint="point SRC at a folder holding Hack-the-Track CSV files",
        )
    return races


def _group(
    found: list[tuple[Path, FileKind, str | None, str | None]],
    skipped: list[tuple[Path, str]],
) -> list[RaceFiles]:
    """Group files by (folder, track, session), inheriting track or session when unique."""
    tracks_by_dir: dict[Path, set[str]] = defaultdict(set)
    sessions_by_dir: dict[Path, set[str]] = defaultdict(set)
    for path, _, track, session in found:
        if track:
            tracks_by_dir[group_dir(path)].add(track)
        if session:
            sessions_by_dir[group_dir(path)].add(session)
    races: dict[tuple[Path, str, str], RaceFiles] = {}
    for path, kind, track, session in found:
        folder = group_dir(path)
        track = track or _only(tracks_by_dir[folder])
        session = session or _only(sessions_by_dir[folder])
        if track is None or session is None:
            what = "track" if track is None else "session"
            skipped.append((folder, f"ignored {path.name}: cannot tell its {what}"))
            continue
        race = races.setdefault((folder, track, session), RaceFiles(track, session, folder))
        race.files.setdefault(kind, []).append(path)
    result = sorted(races.values(), key=lambda r: (r.track, str(r.source_dir), r.session))
    for race in result:
        _choose(race)
    for folder, note in skipped:
        owners = [r for r in result if r.source_dir == folder] or result[:1]
        for race in owners:
            race.notes.append(note)
    return result


def _only(values: set[str]) -> str | None:
    return next(iter(values)) if len(values) == 1 else None


def _choose(race: RaceFiles) -> None:
    """Keep one file per family (official results over provisional; first by name)."""
    for kind, paths in race.files.items():
        if kind is FileKind.TELEMETRY or len(paths) == 1:
            continue
        ranked = sorted(paths, key=lambda p: ("provisional" in p.name.lower(), p.name))
        race.files[kind] = ranked[:1]
        race.notes.extend(f"{kind.value}: used {ranked[0].name}, ignored {p.name}"
                          for p in ranked[1:])


__all__ = ["RaceFiles", "classify", "discover", "kind_from_header", "kind_from_name", "session_of"]
