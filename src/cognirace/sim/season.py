"""Season orchestration: plan the races, run each, write its files and truth.

Every race gets its own generator from ``numpy.random.SeedSequence([seed, track,
round, race])`` and the roster one from ``[seed, ROSTER_KEY]``, so the same seed writes
byte-identical files whatever else runs.

``branch`` runs one race of a season again, timing only (no file, no telemetry), with
decisions for some cars: the backtest's way to ask what a different stop would have
done in the very same race.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cognirace.domain.formats import FileKind, car_file_name
from cognirace.domain.tracks import TRACKS
from cognirace.errors import ConfigError
from cognirace.sim.car_files import SessionMeta
from cognirace.sim.config import QuirkRates, RaceConfig
from cognirace.sim.decisions import Decision
from cognirace.sim.drivers import MAX_CARS, Driver, make_roster, pick_field
from cognirace.sim.engine import RaceResult, simulate_race
from cognirace.sim.race_files import (
    PROVISIONAL_TRACKS,
    VALUE_VARIANT_TRACKS,
    Progress,
    identities,
    name_style,
    padded_numbers,
    write_lap_files,
    write_telemetry,
    write_timing,
)
from cognirace.sim.telemetry import channels_for
from cognirace.sim.truth import RaceLabels, write_truth

ROSTER_KEY = 7_777
SEASONS = ("demo", "full")
SEASON_START = dt.date(2025, 3, 30)
"""Sunday of round 1; later rounds follow every two weeks."""

FIELD_SIZES: dict[str, tuple[int, int]] = {
    "barber": (22, 22), "cota": (31, 31), "indianapolis": (29, 29),
    "road_america": (27, 28), "sebring": (21, 22), "sonoma": (31, 31), "vir": (21, 23),
}
"""Cars that started the two 2025 races at each track (lowest, highest), by the results."""

P_FIELD_SIZE_OFF = 0.2
"""Share of demo races whose field is one car off the real range."""


def field_size(track: str, rng: np.random.Generator) -> int:
    """Cars in a demo race at ``track``: the real fields' sizes, now and then one off."""
    low, high = FIELD_SIZES[track]
    n = int(rng.integers(low, high + 1))
    if rng.random() < P_FIELD_SIZE_OFF:
        n += int(rng.choice([-1, 1]))
    return int(np.clip(n, 2, MAX_CARS))


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
                n_cars = cars or (field_size(key, rng) if season == "demo"
                                  else int(rng.integers(25, MAX_CARS + 1)))
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


def race_field(config: RaceConfig, drivers: list[Driver], seed: int
               ) -> tuple[list[Driver], np.random.Generator]:
    """The race's field in car order and the engine's generator, as ``simulate_one`` draws them.

    Args:
        config: The race.
        drivers: The season's roster (``season_roster(seed)``).
        seed: The season's seed.
    """
    field_rng = np.random.default_rng(race_seed(seed, config).spawn(4)[0])
    picked = pick_field(drivers, config.n_cars, field_rng)
    return [drivers[i] for i in picked], field_rng


def branch(config: RaceConfig, drivers: list[Driver], seed: int,
           decisions: Sequence[Decision] | None = None, *, base: RaceResult | None = None
           ) -> RaceResult:
    """One race of a season with decisions for some cars, timing only (nothing written).

    The race is ``simulate_one``'s for the same arguments: with no decisions the very
    same, with decisions the same except for the decided stops (``engine.simulate_race``).
    Address cars by number (``Decision.pit("13", 8)``): the field's order is drawn here.

    Args:
        config: The race.
        drivers: The season's roster (``season_roster(seed)``).
        seed: The season's seed.
        decisions: Stops decided for some cars; None for the race as it ran.
        base: This race's result without decisions (``branch(config, drivers, seed)``):
            running many branches of one race, pass it to halve each branch's time.
    """
    config.validate()
    field_drivers, field_rng = race_field(config, drivers, seed)
    return simulate_race(config, field_drivers, field_rng, decisions, base=base)


def simulate_one(
    out: Path, config: RaceConfig, drivers: list[Driver], seed: int,
    progress: Progress | None = None, *, first_sebring_r1: bool = False,
    decisions: Sequence[Decision] | None = None,
) -> RaceSummary:
    """Simulate one race and write its files and truth under ``race_folder(out, config)``.

    ``decisions`` branch the race (see ``branch``); without them it is the season's race.
    """
    config.validate()
    _, ident_ss, tel_ss, lap_ss = race_seed(seed, config).spawn(4)
    field_drivers, field_rng = race_field(config, drivers, seed)
    race = simulate_race(config, field_drivers, field_rng, decisions)
    folder = race_folder(out, config)
    folder.mkdir(parents=True, exist_ok=True)
    start_utc = dt.datetime.combine(config.race_date, dt.time(), tzinfo=dt.UTC) + \
        dt.timedelta(hours=config.start_hour_utc)
    padded = padded_numbers(seed, config, list(TRACKS).index(config.track))
    idents, sentinel = identities(config, field_drivers, padded,
                                  np.random.default_rng(ident_ss))
    track = TRACKS[config.track]
    channels = channels_for(track.has_ath, track.has_gps, config.quirks.missing_channels,
                            track.has_aps)
    meta = SessionMeta(config.meta_event, config.session, start_utc)
    files, lap_file_laps = write_lap_files(folder, race, idents, meta,
                                           np.random.default_rng(lap_ss))
    skip = first_sebring_r1 and config.quirks.drop_telemetry_first_sebring_r1
    rows = 0
    if config.telemetry_hz > 0 and not skip:
        path = folder / car_file_name(FileKind.TELEMETRY, config.track, config.session,
                                      style=name_style(config.track))
        rows = write_telemetry(path, race, idents, sentinel, meta, channels,
                                np.random.default_rng(tel_ss), progress)
        files.append(path)
    files += write_timing(folder, race, start_utc)
    race_id = f"{config.meta_event}_{config.track}_{config.session}"
    labels = RaceLabels(race_id, start_utc, idents, sentinel, config.telemetry_hz, rows > 0,
                        channels, lap_file_laps)
    files += write_truth(folder / "truth", race, labels)
    return RaceSummary(race_id, folder, config, int(race.laps_done.max()),
                       float(np.nanmin(race.lap_time_s)), rows, tuple(files))


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
    for race in season_races(configs, seed):
        result = simulate_one(out_path, race.config, roster, seed, progress,
                              first_sebring_r1=race.first_sebring_r1)
        summary.races.append(result)
        if on_race is not None:
            on_race(result)
    return summary


@dataclass(frozen=True, slots=True)
class SeasonRace:
    """One race of a planned season, with what it needs to be simulated on its own.

    Attributes:
        config: The race.
        seed: The season's seed.
        first_sebring_r1: The season's first Race 1 at Sebring (whose telemetry the
            real data set lacks, see ``QuirkRates.drop_telemetry_first_sebring_r1``).
    """

    config: RaceConfig
    seed: int
    first_sebring_r1: bool


def season_races(configs: Sequence[RaceConfig], seed: int) -> list[SeasonRace]:
    """The races of ``plan_season``'s configs as independent pieces of work.

    Each race draws from its own seed sequence (``race_seed``), so the pieces can run
    in any order, on any machine, and write what ``simulate_season`` writes.
    """
    races, seen_sebring_r1 = [], False
    for config in configs:
        first = config.track == "sebring" and config.session == "R1" and not seen_sebring_r1
        seen_sebring_r1 = seen_sebring_r1 or first
        races.append(SeasonRace(config, seed, first))
    return races


__all__ = [
    "FIELD_SIZES",
    "PROVISIONAL_TRACKS",
    "SEASONS",
    "VALUE_VARIANT_TRACKS",
    "RaceSummary",
    "SeasonRace",
    "SeasonSummary",
    "branch",
    "plan_season",
    "race_field",
    "race_folder",
    "season_races",
    "season_roster",
    "simulate_one",
    "simulate_season",
]
