"""Season orchestration: plan the races, run each, write its files and truth.

Every race gets its own generator from ``numpy.random.SeedSequence([seed, track,
round, race])`` and the roster one from ``[seed, ROSTER_KEY]``, so the same seed writes
byte-identical files whatever else runs.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from cognirace.domain.formats import FileKind, car_file_name, timing_file_name
from cognirace.domain.tracks import TRACKS
from cognirace.errors import ConfigError
from cognirace.sim.car_files import (
    CarIdentity,
    SessionMeta,
    glitch_lap_numbers,
    lap_event_rows,
    sentinel_laps,
    telemetry_frame,
    write_lap_file,
    write_telemetry_car,
)
from cognirace.sim.config import QuirkRates, RaceConfig
from cognirace.sim.drivers import MAX_CARS, Driver, make_roster
from cognirace.sim.engine import RaceResult, simulate_race
from cognirace.sim.telemetry import channels_for, synthesize_car
from cognirace.sim.timing_files import (
    write_best_laps,
    write_results,
    write_results_by_class,
    write_sections,
    write_weather,
)
from cognirace.sim.truth import RaceLabels, write_truth

ROSTER_KEY = 7_777
SEASONS = ("demo", "full")
SEASON_START = dt.date(2025, 3, 30)
"""Sunday of round 1; later rounds follow every two weeks."""

VALUE_VARIANT_TRACKS = frozenset({"cota", "road_america"})
"""Tracks whose lap files use the ``value`` column layout."""

PROVISIONAL_TRACKS = frozenset({"vir", "sebring"})
"""Tracks whose results carry the provisional file name."""

Progress = Callable[[str, int, int], None]
"""Called as ``progress(label, cars_done, cars_total)`` while a race is written."""


@dataclass(frozen=True, slots=True)
class RaceSummary:
    """What one race wrote."""

    race_id: str
    folder: Path
    config: RaceConfig
    n_laps: int
    best_lap_s: float
    telemetry_rows: int
    files: tuple[Path, ...]


@dataclass
class SeasonSummary:
    """What a season wrote."""

    out: Path
    races: list[RaceSummary] = field(default_factory=list)

    @property
    def telemetry_rows(self) -> int:
        """Telemetry rows over all races."""
        return sum(r.telemetry_rows for r in self.races)


def race_seed(seed: int, config: RaceConfig) -> np.random.SeedSequence:
    """The seed sequence of one race."""
    track_no = list(TRACKS).index(config.track)
    return np.random.SeedSequence([seed, track_no, config.event_number, config.race_number])


def season_roster(seed: int) -> list[Driver]:
    """The season's drivers (the same for every race of a seed)."""
    return make_roster(np.random.default_rng(np.random.SeedSequence([seed, ROSTER_KEY])))


def plan_season(
    season: str = "demo", *, tracks: list[str] | None = None, races: int | None = None,
    cars: int | None = None, telemetry_hz: float | None = None, seed: int = 0,
    quirks: QuirkRates | None = None, year: int = SEASON_START.year,
) -> list[RaceConfig]:
    """The races of a season, validated.

    Args:
        season: ``demo`` (all tracks, 6 races each, telemetry at 2 Hz for one of them) or
            ``full`` (2 races per track, 25 to 31 cars, 20 Hz).
        tracks: Track keys; default all seven.
        races: Races per track (R1/R2 pairs make events); overrides the season's.
        cars: Cars per race; default drawn per race.
        telemetry_hz: Telemetry rate for every race; 0 for none; overrides the season's.
        seed: Seed of the season.
        quirks: Quirk rates; default on.
        year: The season's year: its first event is on SEASON_START's day of that year,
            so seasons of different years never share a race id.
    """
    if season not in SEASONS:
        raise ConfigError(f"unknown season {season!r}", value=season,
                          hint=f"use one of {', '.join(SEASONS)}")
    keys = tracks if tracks else list(TRACKS)
    for key in keys:
        if key not in TRACKS:
            raise ConfigError(f"unknown track {key!r}", value=key,
                              hint=f"choose from {', '.join(TRACKS)}")
    per_track = races if races is not None else (6 if season == "demo" else 2)
    if not 1 <= per_track <= 40:
        raise ConfigError("races per track must be within 1..40", value=per_track)
    if not 1950 <= year <= 2100:
        raise ConfigError("the season's year must be within 1950..2100", value=year)
    start = SEASON_START.replace(year=year)
    rng = np.random.default_rng(np.random.SeedSequence([seed, 1]))
    configs = []
    round_no = 0
    for key in keys:
        for event in range(math.ceil(per_track / 2)):
            round_no += 1
            date = start + dt.timedelta(days=14 * (round_no - 1))
            for r in range(min(2, per_track - 2 * event)):
                n_cars = cars or int(rng.integers(20, 27) if season == "demo"
                                     else rng.integers(25, MAX_CARS + 1))
                hz = 20.0 if season == "full" else (2.0 if event == 0 and r == 1 else 0.0)
                config = RaceConfig(
                    track=key, session=f"R{r + 1}", event_number=round_no, event_date=date,
                    n_cars=n_cars, telemetry_hz=hz if telemetry_hz is None else telemetry_hz,
                    start_hour_utc=float(rng.choice([15.0, 17.0, 19.0])),
                    quirks=quirks or QuirkRates(),
                )
                config.validate()
                configs.append(config)
    return configs


def race_folder(out: Path, config: RaceConfig) -> Path:
    """``OUT/<meta_event>/<track>/``: the folder of a race's files."""
    return out / config.meta_event / config.track


def _identities(config: RaceConfig, drivers: list[Driver], rng: np.random.Generator
                ) -> tuple[list[CarIdentity], list[bool]]:
    q = config.quirks
    idents, sentinel = [], []
    for d in drivers:
        number = 0 if rng.random() < q.p_number_zero_car else d.car_number
        if rng.random() < q.p_ecu_drift_car:
            offset = -float(rng.uniform(1.5, 3.0)) * 86_400 + float(rng.uniform(-5000, 5000))
        else:
            offset = float(rng.uniform(-0.8, 0.8))
        idents.append(CarIdentity.of(d.chassis, number, round(offset, 3),
                                     round(float(rng.uniform(-40, 40)), 2)))
        sentinel.append(bool(rng.random() < q.p_lap_sentinel_car))
    return idents, sentinel


def simulate_one(
    out: Path, config: RaceConfig, drivers: list[Driver], seed: int,
    progress: Progress | None = None, *, first_sebring_r1: bool = False,
) -> RaceSummary:
    """Simulate one race and write its files and truth under ``race_folder(out, config)``."""
    config.validate()
    ss = race_seed(seed, config)
    engine_ss, ident_ss, tel_ss, lap_ss = ss.spawn(4)
    field_rng = np.random.default_rng(engine_ss)
    picked = sorted(field_rng.choice(len(drivers), size=config.n_cars, replace=False).tolist())
    field_drivers = [drivers[i] for i in picked]
    race = simulate_race(config, field_drivers, field_rng)
    folder = race_folder(out, config)
    folder.mkdir(parents=True, exist_ok=True)
    start_utc = dt.datetime.combine(config.race_date, dt.time(), tzinfo=dt.UTC) + \
        dt.timedelta(hours=config.start_hour_utc)
    idents, sentinel = _identities(config, field_drivers, np.random.default_rng(ident_ss))
    track = TRACKS[config.track]
    channels = channels_for(track.has_ath, track.has_gps, config.quirks.missing_channels)
    meta = SessionMeta(config.meta_event, config.session, start_utc)
    files, lap_file_laps = _write_lap_files(folder, race, idents, meta,
                                            np.random.default_rng(lap_ss))
    skip = first_sebring_r1 and config.quirks.drop_telemetry_first_sebring_r1
    rows = 0
    if config.telemetry_hz > 0 and not skip:
        path = folder / car_file_name(FileKind.TELEMETRY, config.track, config.session,
                                      style=_style(config.track))
        rows = _write_telemetry(path, race, idents, sentinel, meta, channels,
                                np.random.default_rng(tel_ss), progress)
        files.append(path)
    files += _write_timing(folder, race, start_utc)
    race_id = f"{config.meta_event}_{config.track}_{config.session}"
    labels = RaceLabels(race_id, start_utc, idents, sentinel, config.telemetry_hz, rows > 0,
                        channels, lap_file_laps)
    files += write_truth(folder / "truth", race, labels)
    return RaceSummary(race_id, folder, config, int(race.laps_done.max()),
                       float(np.nanmin(race.lap_time_s)), rows, tuple(files))


_LAP_FILE_KEYS = {FileKind.LAP_START: "start", FileKind.LAP_END: "end",
                  FileKind.LAP_TIME: "time"}
"""The lap files, in writing order, and their key in the truth."""


def _style(track: str) -> int:
    return 0 if track == "barber" else 1


def _write_lap_files(folder: Path, race: RaceResult, idents: list[CarIdentity],
                     meta: SessionMeta, rng: np.random.Generator
                     ) -> tuple[list[Path], dict[str, npt.NDArray[np.int64]]]:
    """Write the lap start, end and time files.

    Returns:
        The paths, and the lap number each file wrote ``[lap, car]`` (0 past a car's
        last lap) keyed ``start``, ``end``, ``time``, for the truth.
    """
    cfg = race.config
    variant = cfg.track in VALUE_VARIANT_TRACKS
    p_glitch = cfg.quirks.p_lap_file_glitch_row
    frames: dict[FileKind, list[object]] = {k: [] for k in _LAP_FILE_KEYS}
    written = {key: np.zeros(race.end_s.shape, dtype=np.int64) for key in _LAP_FILE_KEYS.values()}
    for c in sorted(range(race.n_cars), key=lambda i: race.drivers[i].car_number):
        n = int(race.laps_done[c])
        if not n:
            continue
        laps = list(range(1, n + 1))
        end = race.end_s[:n, c]
        start = end - race.lap_time_s[:n, c]
        ms = [round(float(x) * 1000) for x in race.lap_time_s[:n, c]]
        for kind, t in ((FileKind.LAP_START, start), (FileKind.LAP_END, end),
                        (FileKind.LAP_TIME, end)):
            logged = glitch_lap_numbers(np.asarray(laps, dtype=np.int64), p_glitch, rng)
            written[_LAP_FILE_KEYS[kind]][:n, c] = logged
            value = (ms if kind == FileKind.LAP_TIME else logged.tolist()) if variant else None
            frames[kind].append(lap_event_rows(idents[c], meta, logged.tolist(), t, value))
    paths = []
    for kind, parts in frames.items():
        path = folder / car_file_name(kind, cfg.track, cfg.session, style=_style(cfg.track))
        write_lap_file(path, parts)  # type: ignore[arg-type]
        paths.append(path)
    return paths, written


def _write_telemetry(
    path: Path, race: RaceResult, idents: list[CarIdentity], sentinel: list[bool],
    meta: SessionMeta, channels: tuple[str, ...], rng: np.random.Generator,
    progress: Progress | None,
) -> int:
    rows = 0
    order = sorted(range(race.n_cars), key=lambda i: race.drivers[i].car_number)
    label = f"{race.config.track} {race.config.session}"
    with path.open("wb") as fh:
        for k, c in enumerate(order):
            tel = synthesize_car(race, c, race.config.telemetry_hz, rng)
            laps = sentinel_laps(tel.lap, rng) if sentinel[c] else tel.lap
            frame = telemetry_frame(tel, idents[c], meta, channels, laps)
            rows += write_telemetry_car(fh, frame, header=k == 0)
            if progress is not None:
                progress(label, k + 1, len(order))
    return rows


def _write_timing(folder: Path, race: RaceResult, start_utc: dt.datetime) -> list[Path]:
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


def simulate_season(
    out: str | Path, *, season: str = "demo", tracks: list[str] | None = None,
    races: int | None = None, cars: int | None = None, telemetry_hz: float | None = None,
    seed: int = 0, quirks: QuirkRates | None = None, progress: Progress | None = None,
    on_race: Callable[[RaceSummary], None] | None = None, year: int = SEASON_START.year,
) -> SeasonSummary:
    """Simulate a season and write it under ``out`` (see ``plan_season`` for arguments).

    Args:
        on_race: Called after each race is written.
    """
    configs = plan_season(season, tracks=tracks, races=races, cars=cars,
                          telemetry_hz=telemetry_hz, seed=seed, quirks=quirks, year=year)
    out_path = Path(out)
    out_path.mkdir(parents=True, exist_ok=True)
    roster = season_roster(seed)
    summary = SeasonSummary(out_path)
    seen_sebring_r1 = False
    for config in configs:
        first = config.track == "sebring" and config.session == "R1" and not seen_sebring_r1
        seen_sebring_r1 = seen_sebring_r1 or first
        result = simulate_one(out_path, config, roster, seed, progress, first_sebring_r1=first)
        summary.races.append(result)
        if on_race is not None:
            on_race(result)
    return summary


__all__ = [
    "PROVISIONAL_TRACKS",
    "SEASONS",
    "VALUE_VARIANT_TRACKS",
    "RaceSummary",
    "SeasonSummary",
    "plan_season",
    "race_folder",
    "season_roster",
    "simulate_one",
    "simulate_season",
]
