"""One race's files: how each car is identified, then the lap, telemetry and timing files.

Identities follow the real logger: the number part of ``vehicle_id`` is the car number
as painted at some events (``GR86-037-03``, ``GR86-002-2``) and zero-padded to three
digits at others (``GR86-002-002``), chosen per event; ``vehicle_number`` is its whole
number (``03`` writes 3) and a few cars carry no number at all (``GR86-002-000``, 0).
Every car's ECU clock runs days behind real time by an offset of its own.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt

from cognirace.domain.formats import FileKind, car_file_name, timing_file_name
from cognirace.sim.car_files import (
    ISO_VALUE,
    CarIdentity,
    LapEvents,
    SessionMeta,
    StreamQuirks,
    glitch_lap_numbers,
    lap_event_rows,
    lap_latency_s,
    sentinel_laps,
    telemetry_frame,
    write_lap_file,
    write_telemetry_car,
)
from cognirace.sim.config import RaceConfig
from cognirace.sim.drivers import Driver
from cognirace.sim.engine import RaceResult
from cognirace.sim.telemetry import synthesize_car
from cognirace.sim.timing_files import (
    write_best_laps,
    write_results,
    write_results_by_class,
    write_sections,
    write_weather,
)

Progress = Callable[[str, int, int], None]
"""Called as ``progress(label, cars_done, cars_total)`` while a race is written."""

VALUE_VARIANT_TRACKS = frozenset({"cota", "road_america"})
"""Tracks whose lap files use the ``value`` column layout."""

PROVISIONAL_TRACKS = frozenset({"vir", "sebring"})
"""Tracks whose results carry the provisional file name."""

ECU_OFFSET_DAYS = (1.6, 3.4)
"""Bounds of how far a car's ECU clock runs behind real time, days (real heads: 1.76 to
3.22 days)."""

ECU_DRIFT_PPM = 30.0
"""Largest rate error of a drifting ECU clock, ppm (under 0.1 s over a race)."""

P_PADDED_EVENT = 0.3
"""Share of events whose logger pads the number in ``vehicle_id`` to three digits."""


def padded_numbers(seed: int, config: RaceConfig, track_no: int) -> bool:
    """Whether this event's logger zero-pads the numbers in ``vehicle_id`` (both races)."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, track_no, config.event_number,
                                                        0xCA5]))
    return bool(rng.random() < P_PADDED_EVENT)


def identities(config: RaceConfig, drivers: list[Driver], padded: bool,
               rng: np.random.Generator) -> tuple[list[CarIdentity], list[bool]]:
    """How each car appears in the logger files, and which lose their lap count."""
    q = config.quirks
    idents, sentinel = [], []
    for d in drivers:
        number = d.car_number.zfill(3) if padded else d.car_number
        written = None if rng.random() < q.p_number_zero_car else number
        offset = 0.0
        if q.ecu_offset:
            offset = -float(rng.uniform(*ECU_OFFSET_DAYS)) * 86_400
        drift = float(rng.uniform(-ECU_DRIFT_PPM, ECU_DRIFT_PPM))
        drift = drift if rng.random() < q.p_ecu_drift_car else 0.0
        idents.append(CarIdentity.of(d.chassis, written, round(offset, 3), round(drift, 2)))
        sentinel.append(bool(rng.random() < q.p_lap_sentinel_car))
    return idents, sentinel


_LAP_FILE_KEYS = {FileKind.LAP_START: "start", FileKind.LAP_END: "end",
                  FileKind.LAP_TIME: "time"}
"""The lap files, in writing order, and their key in the truth."""


def name_style(track: str) -> int:
    """Naming style of a track's logger files (``domain.formats.car_file_name``)."""
    return 0 if track == "barber" else 1


def _number_order(race: RaceResult) -> list[int]:
    return sorted(range(race.n_cars),
                  key=lambda i: (int(race.drivers[i].car_number), race.drivers[i].car_number))


def write_lap_files(folder: Path, race: RaceResult, idents: list[CarIdentity],
                    meta: SessionMeta, rng: np.random.Generator
                    ) -> tuple[list[Path], dict[str, npt.NDArray[np.int64]]]:
    """Write the lap start, end and time files.

    ``timestamp`` is the crossing in real time; the rows of one crossing (the end of
    lap n, the start of lap n + 1, the time of lap n) share the receiver's latency.

    Returns:
        The paths, and the lap number each file wrote ``[lap, car]`` (0 past a car's
        last lap) keyed ``start``, ``end``, ``time``, for the truth.
    """
    cfg = race.config
    variant = cfg.track in VALUE_VARIANT_TRACKS
    p_glitch = cfg.quirks.p_lap_file_glitch_row
    written = {key: np.zeros(race.end_s.shape, dtype=np.int64) for key in _LAP_FILE_KEYS.values()}
    rows: dict[FileKind, list[tuple[np.ndarray, ...]]] = {k: [] for k in _LAP_FILE_KEYS}
    ids: list[str] = []
    numbers: list[int] = []
    ms: list[np.ndarray] = []
    for c in _number_order(race):
        n = int(race.laps_done[c])
        if not n:
            continue
        laps = np.arange(1, n + 1, dtype=np.int64)
        end = race.end_s[:n, c]
        start = end - race.lap_time_s[:n, c]
        latency = lap_latency_s(n + 1, rng)  # crossing k ends lap k and starts lap k + 1
        ms.append(np.round(race.lap_time_s[:n, c] * 1000).astype(np.int64))
        ids += [idents[c].vehicle_id] * n
        numbers += [idents[c].vehicle_number] * n
        for kind, t, lat in ((FileKind.LAP_START, start, latency[:-1]),
                             (FileKind.LAP_END, end, latency[1:]),
                             (FileKind.LAP_TIME, end, latency[1:])):
            logged = glitch_lap_numbers(laps, p_glitch, rng)
            written[_LAP_FILE_KEYS[kind]][:n, c] = logged
            rows[kind].append((logged, t, lat))
    paths = []
    for kind, parts in rows.items():
        events = LapEvents(ids, numbers, _cat(parts, 0), _cat(parts, 1), _cat(parts, 2))
        value: np.ndarray | str | None = None
        if variant:
            value = np.concatenate(ms) if kind == FileKind.LAP_TIME and ms else ISO_VALUE
        path = folder / car_file_name(kind, cfg.track, cfg.session, style=name_style(cfg.track))
        write_lap_file(path, lap_event_rows(events, meta, value))
        paths.append(path)
    return paths, written


def _cat(parts: list[tuple[np.ndarray, ...]], i: int) -> np.ndarray:
    return np.concatenate([p[i] for p in parts]) if parts else np.zeros(0)


def write_telemetry(
    path: Path, race: RaceResult, idents: list[CarIdentity], sentinel: list[bool],
    meta: SessionMeta, channels: tuple[str, ...], rng: np.random.Generator,
    progress: Progress | None,
) -> int:
    """Write the telemetry file car by car; returns the rows written."""
    rows = 0
    q = race.config.quirks
    stream = StreamQuirks(q.p_resent_sample, q.p_page_reversed)
    hz = race.config.telemetry_hz
    order = _number_order(race)
    label = f"{race.config.track} {race.config.session}"
    with path.open("wb") as fh:
        for k, c in enumerate(order):
            tel = synthesize_car(race, c, hz, rng)
            laps = sentinel_laps(tel.lap, rng) if sentinel[c] else tel.lap
            frame = telemetry_frame(tel, idents[c], meta, channels, laps, hz, rng, stream)
            rows += write_telemetry_car(fh, frame, header=k == 0)
            if progress is not None:
                progress(label, k + 1, len(order))
    return rows


def write_timing(folder: Path, race: RaceResult, start_utc: dt.datetime) -> list[Path]:
    """Write the results, results by class, sections, weather and best-laps files."""
    n = race.config.race_number
    provisional = race.config.track in PROVISIONAL_TRACKS
    paths = {
        "results": folder / timing_file_name(FileKind.RESULTS, n, provisional=provisional),
        "by_class": folder / timing_file_name(FileKind.RESULTS_BY_CLASS, n),
        "sections": folder / timing_file_name(FileKind.SECTIONS, n),
        "weather": folder / timing_file_name(FileKind.WEATHER, n),
        "best": folder / timing_file_name(FileKind.BEST_LAPS, n),
    }
    write_results(paths["results"], race)
    write_results_by_class(paths["by_class"], race)
    write_sections(paths["sections"], race, start_utc)
    write_weather(paths["weather"], race, start_utc)
    write_best_laps(paths["best"], race)
    return list(paths.values())


__all__ = [
    "PROVISIONAL_TRACKS",
    "VALUE_VARIANT_TRACKS",
    "Progress",
    "identities",
    "name_style",
    "padded_numbers",
    "write_lap_files",
    "write_telemetry",
    "write_timing",
]
