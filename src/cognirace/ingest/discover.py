"""Finding the race files under a folder: which family each file is, and its race.

Files are recognised by their header, not their name: the data set names the same
family several ways (``R1_barber_telemetry_data.csv``, ``sonoma_telemetry_R1.csv``,
``00_Results GR Cup Race 1 Official_Anonymized.CSV``). Names are used only where the
header cannot tell (lap start, end and time files share one header), for the session
(``R1_``, ``_R1``, ``Race 1``, a ``Race 1/`` folder) and for the track. A file whose
header is unknown is skipped with a note, whatever its name claims: a stray export in a
race folder must not stop the races around it. Grouping the files into races is
``grouping``'s job.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from cognirace.domain.formats import FileKind
from cognirace.domain.tracks import track_from_name
from cognirace.errors import DataError
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
LAP_KINDS = (FileKind.LAP_START, FileKind.LAP_END, FileKind.LAP_TIME)
RESULT_KINDS = (FileKind.RESULTS, FileKind.RESULTS_BY_CLASS)


@dataclass(frozen=True)
class FoundFile:
    """One race file as found on disk.

    Attributes:
        path: The file.
        kind: Its family, from its header (and its name for lap files).
        track: Track key from the path, if the path names one.
        session: ``R1``/``R2`` from the path or the first data row, if known.
        folder: The folder its race is grouped under (``Race 1/`` folders count as
            their parent's).
    """

    path: Path
    kind: FileKind
    track: str | None
    session: str | None
    folder: Path


def kind_from_header(header: list[str]) -> FileKind | None:
    """The family a header belongs to (the three lap kinds give ``LAP_START``)."""
    names = set(header)
    if {"telemetry_name", "telemetry_value", "vehicle_id"} <= names:
        return FileKind.TELEMETRY
    if {"lap", "meta_time", "vehicle_id", "timestamp"} <= names:
        return FileKind.LAP_START
    if {"NUMBER", "LAP_NUMBER", "LAP_TIME"} <= names:
        return FileKind.SECTIONS
    if {"POSITION", "NUMBER", "STATUS", "LAPS"} <= names:
        return FileKind.RESULTS
    if {"CLASS_TYPE", "POS", "NUMBER", "LAPS"} <= names:
        return FileKind.RESULTS_BY_CLASS
    if {"TIME_UTC_SECONDS", "AIR_TEMP"} <= names or {"TIME_UTC_STR", "AIR_TEMP"} <= names:
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


def classify(path: Path) -> tuple[FileKind | None, str | None]:
    """The family of one file and, where something was odd about it, a note.

    The header decides; the name only tells the three lap families apart. A file with
    an unknown header is skipped (``None``) with a note, which says so when its name
    claims a family.
    """
    header = read_header(path)
    by_header = kind_from_header(header)
    by_name = kind_from_name(path.name)
    if by_header is None:
        if by_name is None:
            return None, f"ignored {path.name}: not a race file"
        fields = ";".join(header)[:80] or "empty"
        return None, (f"skipped {path.name}: named like a {by_name.value} file but its header "
                      f"is not one the ingest knows ({fields})")
    if by_header is FileKind.LAP_START:
        if by_name in LAP_KINDS:
            return by_name, None
        return None, (f"skipped {path.name}: a lap file whose name does not say lap_start, "
                      "lap_end or lap_time")
    if by_name is not None and by_name is not by_header and not (
            by_name in RESULT_KINDS and by_header in RESULT_KINDS):
        return by_header, f"{path.name}: named like a {by_name.value} file, read as " \
                          f"{by_header.value} by its header"
    return by_header, None


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


def first_row(path: Path) -> dict[str, str]:
    """The header and first data row of a text file, as a dictionary (empty if none)."""
    with path.open("rb") as handle:
        lines = decode(handle.read(8192)).splitlines()
    if len(lines) < 2:
        return {}
    sep = separator_of(lines[0])
    return dict(zip(split_fields(lines[0], sep), split_fields(lines[1], sep), strict=False))


def session_from_content(path: Path) -> str | None:
    """``meta_session`` of the first data row of a telemetry or lap file."""
    value = first_row(path).get("meta_session", "").upper()
    return value if value in ("R1", "R2") else None


def group_dir(path: Path) -> Path:
    """The folder a race belongs to: the file's folder, or its parent for ``Race 1/``."""
    parent = path.parent
    return parent.parent if _RACE_FOLDER.match(parent.name.strip()) else parent


def _candidates(src: Path) -> list[Path]:
    if src.is_file():
        return [src]
    # names starting with "." are hidden or work in progress (a race being written)
    return sorted(
        p for p in src.rglob("*")
        if p.is_file() and p.suffix.lower() in (".csv", ".txt")
        and not any(part.startswith(".") for part in p.relative_to(src).parts)
    )


def find_files(src: Path) -> tuple[list[FoundFile], list[tuple[Path, str]]]:
    """Every race file under ``src`` (a file, a race folder or a tree of them).

    Returns:
        The race files, and notes on what was skipped, by the folder they concern.

    Raises:
        DataError: when ``src`` does not exist.
    """
    if not src.exists():
        raise DataError("no such file or folder", path=src, hint="check the SRC argument")
    root = src if src.is_dir() else src.parent
    found: list[FoundFile] = []
    notes: list[tuple[Path, str]] = []
    for path in _candidates(src):
        kind, note = classify(path)
        if note is not None:
            notes.append((group_dir(path), note))
        if kind is None:
            continue
        track = track_from_name(str(path.relative_to(root.parent)))
        session = session_of(path, root)
        if session is None and kind in (FileKind.TELEMETRY, *LAP_KINDS):
            session = session_from_content(path)
        found.append(FoundFile(path, kind, None if track is None else track.key, session,
                               group_dir(path)))
    return found, notes


__all__ = [
    "LAP_KINDS",
    "RESULT_KINDS",
    "FoundFile",
    "classify",
    "find_files",
    "first_row",
    "group_dir",
    "kind_from_header",
    "kind_from_name",
    "session_of",
]
