"""Writers of the Al Kamel timing files: results, sections, weather and best laps.

Semicolon-separated, durations as ``m:ss.fff``, the columns of ``domain.formats``, and
the two flavours of the real files: the anonymized ones (every track but Indianapolis:
LF line endings, no ``TEAM``/``DRIVER_NAME`` columns, no trailing ``;``) and
Indianapolis's full ones (UTF-8 BOM, CRLF, a trailing ``;``, team and driver columns).
As in the real files: the ``23_`` header has a space after each of its first fourteen
``;``; ``HOUR`` is the local time of day at the track; ``PIT_TIME`` (``0:00:35.158``)
stands on the lap that leaves the pit lane; ``FLAG_AT_FL`` is ``FF`` on the lap a car
takes the chequered flag; results gaps read ``-``, ``+2.740``, ``+1:24.668``, ``1 Lap``,
``14 Laps``; the ``05_`` file has a layout of its own, an empty gap for each class
leader and minutes with an apostrophe (``+1'16.855``); every car that started is
``Classified``. Sonoma names its intermediates ``INT-1``/``INT-2``.
"""

from __future__ import annotations

import datetime as dt
import itertools
import zoneinfo
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cognirace.domain.formats import (
    BEST_LAPS_COLUMNS,
    FLAG_CAUTION,
    FLAG_FINISH,
    FLAG_GREEN,
    RESULTS_COLUMNS,
    SECTIONS_COLUMNS,
    WEATHER_COLUMNS,
)
from cognirace.domain.laptime import format_duration
from cognirace.domain.tracks import TRACKS
from cognirace.sim.engine import RaceResult
from cognirace.sim.lapsim import Style, driver_profile
from cognirace.sim.layout import build_layout

FULL_TIMING_TRACKS = frozenset({"indianapolis"})
"""Tracks whose timing files are the full (not anonymized) flavour."""

RESULTS_BY_CLASS_COLUMNS: tuple[str, ...] = (
    "CLASS_TYPE", "POS", "PIC", "NUMBER", "VEHICLE", "LAPS", "ELAPSED", "GAP_FIRST",
    "GAP_PREVIOUS", "BEST_LAP_NUM", "BEST_LAP_TIME", "BEST_LAP_KPH",
)
"""The anonymized ``05_`` layout; the full one adds ``TEAM`` and ``DRIVER``."""

SPACED_HEADER_COLUMNS = 15
"""The ``23_`` header puts a space after the ``;`` of its first this many columns."""

MANUFACTURER = "Toyota Gazoo Racing"

_IM_COLUMNS = SECTIONS_COLUMNS[SECTIONS_COLUMNS.index("IM1a_time"):]
"""Intermediate split and in-lap elapsed times, then the last split and the lap."""


@dataclass(frozen=True, slots=True)
class _Flavour:
    full: bool

    @classmethod
    def of(cls, track: str) -> _Flavour:
        return cls(track in FULL_TIMING_TRACKS)

    def columns(self, columns: tuple[str, ...], *drop: str) -> list[str]:
        return list(columns) if self.full else [c for c in columns if c not in drop]


def _write(path: Path, header: list[str], rows: list[list[str]], flavour: _Flavour,
           *, spaced: int = 0) -> None:
    head = "".join(name + ("; " if i < spaced - 1 else ";") for i, name in enumerate(header))
    lines = [head] + [";".join(r) + ";" for r in rows]
    if not flavour.full:
        lines = [line[:-1] for line in lines]
    end = "\r\n" if flavour.full else "\n"
    text = end.join(lines) + end
    path.write_bytes(("\ufeff" if flavour.full else "").encode("utf-8") + text.encode("utf-8"))


def _dur(seconds: float) -> str:
    return format_duration(seconds, hours=True) if np.isfinite(seconds) else ""


def _short(seconds: float) -> str:
    """``33.413`` (trailing zeros dropped) under a minute, ``1:02.814`` above."""
    if not np.isfinite(seconds):
        return ""
    return format_duration(seconds) if seconds >= 60 else repr(round(float(seconds), 3))


def _pit_time(seconds: float) -> str:
    """``0:00:35.158``."""
    millis = round(seconds * 1000)
    h, rem = divmod(millis, 3_600_000)
    m, rem = divmod(rem, 60_000)
    return f"{h}:{m:02d}:{rem // 1000:02d}.{rem % 1000:03d}"


def _clock(seconds: float) -> str:
    """Time of day ``HH:MM:SS.fff`` of ``seconds`` after midnight."""
    millis = round(seconds * 1000) % 86_400_000
    h, rem = divmod(millis, 3_600_000)
    m, rem = divmod(rem, 60_000)
    return f"{h:02d}:{m:02d}:{rem // 1000:02d}.{rem % 1000:03d}"


def _number_key(number: str) -> tuple[int, str]:
    return (int(number), number)


def sector_shares(track_key: str) -> tuple[float, float]:
    """Share of a reference lap's time in sectors 1 and 2."""
    layout = build_layout(track_key)
    prof = driver_profile(track_key, Style())
    cum = np.cumsum(prof.dt_s)
    s1 = float(np.interp(layout.sector_ends_m[0], layout.s_m, cum)) / cum[-1]
    s2 = float(np.interp(layout.sector_ends_m[1], layout.s_m, cum)) / cum[-1]
    return s1, s2 - s1


def sector_times(race: RaceResult) -> np.ndarray:
    """Sector times ``[lap, car, 3]``, s; pit-lane time goes to S3 (in-lap) or S1 (out-lap)."""
    f1, f2 = sector_shares(race.config.track)
    pit = np.nan_to_num(race.terms["pit"])
    out_extra = np.where(race.pit_out, pit, 0.0)
    in_extra = np.where(race.pit_in & ~race.pit_out, pit, 0.0)
    racing = race.lap_time_s - out_extra - in_extra
    s1 = np.round(racing * f1 + out_extra, 3)
    s2 = np.round(racing * f2, 3)
    s3 = np.round(race.lap_time_s - s1 - s2, 3)
    return np.stack([s1, s2, s3], axis=-1)


def _top_speed_kph(race: RaceResult, car: int) -> np.ndarray:
    """Top speed of each lap of a car, km/h: its profile's, lower on slower laps."""
    prof = driver_profile(race.config.track, race.drivers[car].style)
    ratio = np.minimum(prof.lap_time_s / race.lap_time_s[:, car], 1.0)
    return np.asarray(prof.speed_mps.max() * 3.6 * ratio**0.5)


def lap_flags(race: RaceResult) -> np.ndarray:
    """``FLAG_AT_FL`` per ``[lap, car]``: FCY, GF, or FF on the lap that takes the flag."""
    flags = np.where(race.caution_lap, FLAG_CAUTION, FLAG_GREEN).astype(object)
    for car in range(race.n_cars):
        last = int(race.laps_done[car]) - 1
        if last >= 0 and race.end_s[last, car] >= race.finish_s - 1e-6:
            flags[last, car] = FLAG_FINISH
    return flags


def _section_header(race: RaceResult, flavour: _Flavour) -> list[str]:
    header = flavour.columns(SECTIONS_COLUMNS, "DRIVER_NAME", "TEAM")
    if race.config.track == "sonoma":
        header = [h.replace("IM1_", "INT-1_").replace("IM2_", "INT-2_") for h in header]
    return header


def write_sections(path: Path, race: RaceResult, start_utc: dt.datetime) -> None:
    """The ``23_`` analysis file: one row per car and lap."""
    sec = sector_times(race)
    flags = lap_flags(race)
    flavour = _Flavour.of(race.config.track)
    zone = zoneinfo.ZoneInfo(TRACKS[race.config.track].timezone)
    local = start_utc.astimezone(zone)
    midnight_s = local.hour * 3600 + local.minute * 60 + local.second + local.microsecond / 1e6
    length_km = build_layout(race.config.track).length_m / 1000
    pit_out = {(p.car, p.lap + 1): p.pit_time_s for p in race.pit_stops}
    rows = []
    for car in sorted(range(race.n_cars), key=lambda c: _number_key(race.drivers[c].car_number)):
        d = race.drivers[car]
        best_lap = np.inf
        best_sec = [np.inf] * 3
        top = _top_speed_kph(race, car)
        for lap in range(int(race.laps_done[car])):
            lt = float(race.lap_time_s[lap, car])
            end = float(race.end_s[lap, car])
            s = [float(x) for x in sec[lap, car]]
            imp = "1" if lt < best_lap else "0"
            best_lap = min(best_lap, lt)
            simp = []
            for i in range(3):
                simp.append("1" if s[i] < best_sec[i] else "0")
                best_sec[i] = min(best_sec[i], s[i])
            pit_time = pit_out.get((car, lap + 1))
            ims = [s[0] / 2, s[0], s[0] + s[1] / 2, s[0] + s[1], s[0] + s[1] + s[2] / 2]
            splits = [ims[0]] + [b - a for a, b in itertools.pairwise(ims)]
            im_cols: list[str] = []
            for split, at in zip(splits, ims, strict=True):
                im_cols += [_short(split), _short(at)]
            im_cols += [_short(lt - ims[-1]), _short(lt)]
            cells = {
                "NUMBER": d.car_number, "DRIVER_NUMBER": "1", "LAP_NUMBER": str(lap + 1),
                "LAP_TIME": _dur(lt), "LAP_IMPROVEMENT": imp,
                "CROSSING_FINISH_LINE_IN_PIT": "B" if race.pit_in[lap, car] else "",
                "S1": _short(s[0]), "S1_IMPROVEMENT": simp[0], "S2": _short(s[1]),
                "S2_IMPROVEMENT": simp[1], "S3": _short(s[2]), "S3_IMPROVEMENT": simp[2],
                "KPH": f"{length_km / lt * 3600:.1f}", "ELAPSED": _dur(end),
                "HOUR": _clock(midnight_s + end), "S1_LARGE": _dur(s[0]),
                "S2_LARGE": _dur(s[1]), "S3_LARGE": _dur(s[2]),
                "TOP_SPEED": f"{top[lap]:.1f}",
                "DRIVER_NAME": f"Driver {d.driver_id}",
                "PIT_TIME": _pit_time(pit_time) if pit_time is not None else "",
                "CLASS": d.car_class, "GROUP": d.group, "TEAM": d.team,
                "MANUFACTURER": MANUFACTURER, "FLAG_AT_FL": str(flags[lap, car]),
                "S1_SECONDS": repr(round(s[0], 3)), "S2_SECONDS": repr(round(s[1], 3)),
                "S3_SECONDS": repr(round(s[2], 3)),
            }
            cells |= dict(zip(_IM_COLUMNS, im_cols, strict=True))
            rows.append([cells[c] for c in flavour.columns(SECTIONS_COLUMNS, "DRIVER_NAME",
                                                             "TEAM")])
    _write(path, _section_header(race, flavour), rows, flavour, spaced=SPACED_HEADER_COLUMNS)


def classification(race: RaceResult) -> list[int]:
    """Cars in finishing order (``RaceResult.classification``)."""
    return race.classification()


def _gap(laps: int, total: float, ref_laps: int, ref_total: float, *, minute: str) -> str:
    """``1 Lap``, ``14 Laps``, ``+2.740``, or past a minute ``+1:24.668`` (``minute`` sep)."""
    if laps < ref_laps:
        n = ref_laps - laps
        return f"{n} Lap" if n == 1 else f"{n} Laps"
    gap = max(total - ref_total, 0.0)
    if gap < 60:
        return f"+{gap:.3f}"
    return "+" + format_duration(gap).replace(":", minute, 1)


@dataclass(frozen=True, slots=True)
class _Standing:
    car: int
    laps: int
    total_s: float
    best_lap: int
    best_s: float


def _standings(race: RaceResult, cars: list[int]) -> list[_Standing]:
    out = []
    for car in cars:
        laps = int(race.laps_done[car])
        col = race.lap_time_s[:laps, car]
        fl = int(np.nanargmin(col)) if laps else -1
        out.append(_Standing(car, laps, float(race.end_s[laps - 1, car]) if laps else 0.0,
                             fl + 1, float(col[fl]) if laps else float("nan")))
    return out


def results_rows(race: RaceResult, cars: list[int], flavour: _Flavour) -> list[list[str]]:
    """Rows of the ``03_`` results for ``cars`` in finishing order."""
    rows = []
    length_km = build_layout(race.config.track).length_m / 1000
    standings = _standings(race, cars)
    for pos, st in enumerate(standings, start=1):
        d = race.drivers[st.car]
        lead, prev = standings[0], standings[max(pos - 2, 0)]
        cells = {
            "POSITION": str(pos), "NUMBER": d.car_number, "STATUS": "Classified",
            "LAPS": str(st.laps), "TOTAL_TIME": _dur(st.total_s) if st.laps else "",
            "GAP_FIRST": "-" if pos == 1 else _gap(st.laps, st.total_s, lead.laps,
                                                   lead.total_s, minute=":"),
            "GAP_PREVIOUS": "-" if pos == 1 else _gap(st.laps, st.total_s, prev.laps,
                                                      prev.total_s, minute=":"),
            "FL_LAPNUM": str(st.best_lap) if st.laps else "", "FL_TIME": _dur(st.best_s),
            "FL_KPH": f"{length_km / st.best_s * 3600:.1f}" if st.laps else "",
            "TEAM": d.team, "CLASS": d.car_class, "GROUP": d.group, "DIVISION": "GR Cup",
            "VEHICLE": "Toyota GR86",
        }
        rows.append([cells.get(c, "") for c in flavour.columns(RESULTS_COLUMNS, "TEAM")])
    return rows


def write_results(path: Path, race: RaceResult) -> None:
    """The ``03_`` overall results."""
    flavour = _Flavour.of(race.config.track)
    _write(path, flavour.columns(RESULTS_COLUMNS, "TEAM"),
           results_rows(race, classification(race), flavour), flavour)


def write_results_by_class(path: Path, race: RaceResult) -> None:
    """The ``05_`` results, positions counted within each class, in its own layout."""
    flavour = _Flavour.of(race.config.track)
    header = list(RESULTS_BY_CLASS_COLUMNS)
    if flavour.full:
        header[4:4] = ["TEAM"]
        header[6:6] = ["DRIVER"]
    length_km = build_layout(race.config.track).length_m / 1000
    order = classification(race)
    rows: list[list[str]] = []
    for cls in dict.fromkeys(race.drivers[c].car_class for c in order):
        standings = _standings(race, [c for c in order if race.drivers[c].car_class == cls])
        for pic, st in enumerate(standings, start=1):
            d = race.drivers[st.car]
            lead, prev = standings[0], standings[max(pic - 2, 0)]
            cells = {
                "CLASS_TYPE": cls, "POS": str(order.index(st.car) + 1), "PIC": str(pic),
                "NUMBER": d.car_number, "TEAM": d.team, "VEHICLE": "Toyota GR86",
                "DRIVER": f"Driver {d.driver_id}", "LAPS": str(st.laps),
                "ELAPSED": _dur(st.total_s) if st.laps else "",
                "GAP_FIRST": "" if pic == 1 else _gap(st.laps, st.total_s, lead.laps,
                                                      lead.total_s, minute="'"),
                "GAP_PREVIOUS": "" if pic == 1 else _gap(st.laps, st.total_s, prev.laps,
                                                         prev.total_s, minute="'"),
                "BEST_LAP_NUM": str(st.best_lap) if st.laps else "",
                "BEST_LAP_TIME": _dur(st.best_s),
                "BEST_LAP_KPH": f"{length_km / st.best_s * 3600:.1f}" if st.laps else "",
            }
            rows.append([cells[c] for c in header])
    _write(path, header, rows, flavour)


def write_weather(path: Path, race: RaceResult, start_utc: dt.datetime) -> None:
    """The ``26_`` weather file, one row about a minute from just before the green flag.

    ``TRACK_TEMP`` is 0 (not measured) at Barber, as in the real files.
    """
    w = race.weather
    no_track_temp = race.config.track == "barber"
    rows = []
    for i, t in enumerate(w.t_s):
        when = start_utc + dt.timedelta(seconds=float(t))
        text = f"{when.month}/{when.day}/{when.year} {when.strftime('%I:%M:%S %p').lstrip('0')}"
        rows.append([
            str(int(when.timestamp())), text, repr(round(float(w.air_temp_c[i]), 2)),
            "0" if no_track_temp else repr(round(float(w.track_temp_c[i]), 1)),
            repr(round(float(w.humidity_pct[i]), 2)), repr(round(float(w.pressure_hpa[i]), 1)),
            repr(round(float(w.wind_speed_kph[i]), 2)), f"{w.wind_direction_deg[i]:.0f}", "0",
        ])
    _write(path, list(WEATHER_COLUMNS), rows, _Flavour.of(race.config.track))


def write_best_laps(path: Path, race: RaceResult) -> None:
    """The ``99_`` file: each car's ten best laps and their average."""
    rows = []
    for car in classification(race):
        d = race.drivers[car]
        laps = int(race.laps_done[car])
        col = race.lap_time_s[:laps, car]
        best = np.argsort(col, kind="stable")[:10]
        cells: list[str] = []
        for i in range(10):
            cells += [_dur(float(col[best[i]])), str(int(best[i]) + 1)] if i < len(best) else \
                ["", ""]
        avg = _dur(float(col[best].mean())) if len(best) else ""
        rows.append([d.car_number, "Toyota GR86", d.car_class, str(laps), *cells, avg])
    _write(path, list(BEST_LAPS_COLUMNS), rows, _Flavour.of(race.config.track))


__all__ = [
    "FULL_TIMING_TRACKS",
    "RESULTS_BY_CLASS_COLUMNS",
    "classification",
    "lap_flags",
    "sector_times",
    "write_best_laps",
    "write_results",
    "write_results_by_class",
    "write_sections",
    "write_weather",
]
