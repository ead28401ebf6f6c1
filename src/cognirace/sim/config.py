"""Validated inputs of a race and of a season; every parameter carries its unit.

Everything is checked before a run starts, so a bad value fails at once with a hint
rather than half-way through writing a season.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from cognirace.domain.tracks import TRACKS
from cognirace.errors import ConfigError
from cognirace.sim.drivers import MAX_CARS

MIN_CARS = 2


@dataclass(frozen=True, slots=True)
class QuirkRates:
    """How often the real files' quirks appear in simulated files.

    Attributes:
        p_lap_sentinel_car: Probability that a car's telemetry has stretches of lap
            32768, per car and race.
        p_ecu_drift_car: Probability that a car's ECU clock also runs at a rate error (up
            to 30 ppm, under 0.1 s over a race as the real clocks), per car and race.
        p_number_zero_car: Probability that a car's telemetry and lap files carry number 0.
        missing_channels: Drop ``aps``/``ath``/GPS where the real track lacks them.
        drop_telemetry_first_sebring_r1: Write no telemetry for Sebring's first Race 1,
            as in the real set.
        p_lap_file_glitch_row: Probability that a row of a lap start, end or time file
            carries an impossible lap number (32768 mostly, else 65535 or -1), per row;
            the real loggers lose count in those files too, not only in telemetry.
        ecu_offset: Set every car's ECU clock (telemetry ``timestamp``) days behind real
            time, an offset of its own per car and race, as the real logger does.
        p_resent_sample: Probability that a telemetry sample is stored twice, per sample.
        p_page_reversed: Share of the telemetry file's stretches stored newest first.
    """

    p_lap_sentinel_car: float = 0.15
    p_ecu_drift_car: float = 0.2
    p_number_zero_car: float = 0.08
    missing_channels: bool = True
    drop_telemetry_first_sebring_r1: bool = True
    p_lap_file_glitch_row: float = 0.02
    ecu_offset: bool = True
    p_resent_sample: float = 0.018
    p_page_reversed: float = 0.8

    @classmethod
    def none(cls) -> QuirkRates:
        """Clean files: no quirk at all (ECU clock on real time, rows in time order)."""
        return cls(p_lap_sentinel_car=0.0, p_ecu_drift_car=0.0, p_number_zero_car=0.0,
                   missing_channels=False, drop_telemetry_first_sebring_r1=False,
                   p_lap_file_glitch_row=0.0, ecu_offset=False, p_resent_sample=0.0,
                   p_page_reversed=0.0)

    def validate(self) -> None:
        """Raise ``ConfigError`` for a probability outside 0..1."""
        for name in ("p_lap_sentinel_car", "p_ecu_drift_car", "p_number_zero_car",
                     "p_lap_file_glitch_row", "p_resent_sample", "p_page_reversed"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                per = {"p_lap_file_glitch_row": "row of a lap file",
                       "p_resent_sample": "telemetry sample",
                       "p_page_reversed": "stretch of the telemetry file"}.get(
                           name, "car and race")
                raise ConfigError(f"quirk rate {name} must be within 0..1", value=value,
                                  hint=f"use a probability per {per}")


@dataclass(frozen=True, slots=True)
class RaceConfig:
    """One race.

    Attributes:
        track: Track key (``barber``).
        session: ``R1`` or ``R2``.
        event_number: Round of the season, 1..99, part of ``meta_event``.
        event_date: Date of the event (Race 2's day; Race 1 runs the day before).
        n_cars: Cars on the grid, 2..31.
        duration_s: Race duration before the last lap starts, s.
        telemetry_hz: Telemetry sample rate, Hz; 0 writes no telemetry.
        start_hour_utc: Time of day of the green flag, hours UTC.
        quirks: Rates of the real files' quirks.
    """

    track: str
    session: str = "R1"
    event_number: int = 1
    event_date: dt.date = dt.date(2025, 7, 20)
    n_cars: int = 25
    duration_s: float = 2700.0
    telemetry_hz: float = 0.0
    start_hour_utc: float = 18.0
    quirks: QuirkRates = field(default_factory=QuirkRates)

    @property
    def race_number(self) -> int:
        """1 for ``R1``, 2 for ``R2``."""
        return int(self.session[1])

    @property
    def meta_event(self) -> str:
        """The ``meta_event`` value of the files, ``I_R<nn>_<date>``."""
        return f"I_R{self.event_number:02d}_{self.event_date.isoformat()}"

    @property
    def race_date(self) -> dt.date:
        """Day of this race."""
        return self.event_date - dt.timedelta(days=1 if self.session == "R1" else 0)

    def validate(self) -> None:
        """Check every field; raise ``ConfigError`` with a hint on the first bad one."""
        if self.track not in TRACKS:
            raise ConfigError(f"unknown track {self.track!r}", value=self.track,
                              hint=f"choose from {', '.join(TRACKS)}")
        if self.session not in ("R1", "R2"):
            raise ConfigError("session must be R1 or R2", value=self.session)
        if not 1 <= self.event_number <= 99:
            raise ConfigError("event number must be within 1..99", value=self.event_number)
        if not MIN_CARS <= self.n_cars <= MAX_CARS:
            raise ConfigError(f"cars must be within {MIN_CARS}..{MAX_CARS}", value=self.n_cars,
                              hint="the series runs 20 to 31 cars")
        if not 300.0 <= self.duration_s <= 4 * 3600.0:
            raise ConfigError("race duration must be within 300 s..4 h", value=self.duration_s)
        if not (self.telemetry_hz == 0 or 1.0 <= self.telemetry_hz <= 50.0):
            raise ConfigError("telemetry rate must be 0 (none) or within 1..50 Hz",
                              value=self.telemetry_hz, hint="the real logger runs about 23 Hz")
        if not 0.0 <= self.start_hour_utc < 23.0:
            raise ConfigError("start hour must be within 0..23 UTC", value=self.start_hour_utc)
        self.quirks.validate()


__all__ = ["MIN_CARS", "QuirkRates", "RaceConfig"]
