"""Writers of the Al Kamel timing files: results, sections, weather and best laps.

Semicolon-separated, a trailing ``;`` on every row, CRLF line endings, durations as
``m:ss.fff``: the layout of ``domain.formats``.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np

from cognirace.domain.formats import (
    BEST_LAPS_COLUMNS,
    FLAG_CAUTION,
    FLAG_GREEN,
    RESULTS_COLUMNS,
    SECTIONS_COLUMNS,
    WEATHER_COLUMNS,
)
from cognirace.domain.laptime import format_duration
from cognirace.sim.engine import RaceResult
from cognirace.sim.lapsim import Style, driver_profile
from cognirace.sim.layout import build_layout


def _write(path: Path, header: list[str], rows: list[list[str]], *, spaced: bool = False) -> None:
    sep = "; " if spaced else ";"
    lines = [sep.join(header) + ";"] + [";".join(r) + ";" for r in rows]
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("utf-8"))


def _dur(seconds: float) -> str:
    return format_duration(seconds, hours=True) if np.isfinite(seconds) else ""


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


def _top_speed_kph(race: RaceResult, lap: int, car: int) -> float:
    prof = driver_profile(race.config.track, race.drivers[car].style)
    ratio = prof.lap_time_s / float(race.lap_time_s[lap, car])
    return float(prof.speed_mps.max() * 3.6 * min(ratio, 1.0) ** 0.5)


def write_sections(path: Path, race: RaceResult, start_utc: dt.datetime) -> None:
    """The ``23_`` analysis file: one row per car and lap."""
    sec = sector_times(race)
    length_km = build_layout(race.config.track).length_m / 1000
    rows = []
    order = sorted(range(race.n_cars), key=lambda c: race.drivers[c].car_number)
    for car in order:
        d = race.drivers[car]
        best_lap = np.inf
        best_sec = [np.inf] * 3
        for lap in range(int(race.laps_done[car])):
            lt = float(race.lap_time_s[lap, car])
            end = float(race.end_s[lap, car])
            start = end - lt
            s = [float(x) for x in sec[lap, car]]
            imp = "1" if lt < best_lap else "0"
            best_lap = min(best_lap, lt)
            simp = []
            for i in range(3):
                simp.append("1" if s[i] < best_sec[i] else "0")
                best_sec[i] = min(best_sec[i], s[i])
            hour = (start_utc + dt.timedelta(seconds=end)).strftime("%H:%M:%S.%f")[:-3]
            pit_time = ""
            if race.pit_in[lap, car]:
                stop = next((p for p in race.pit_stops if p.car == car and p.lap == lap + 1),
                            None)
                pit_time = _dur(stop.pit_time_s) if stop else ""
            ims = [s[0] / 2, s[0], s[0] + s[1] / 2, s[0] + s[1], s[0] + s[1] + s[2] / 2, lt]
            im_cols = []
            for im in ims[:5]:
                im_cols += [_dur(im), _dur(start + im)]
            rows.append([
                str(d.car_number), "1", str(lap + 1), _dur(lt), imp,
                "B" if race.pit_in[lap, car] else "", _dur(s[0]), simp[0], _dur(s[1]), simp[1],
                _dur(s[2]), simp[2], f"{length_km / lt * 3600:.1f}", _dur(end), hour,
                _dur(s[0]), _dur(s[1]), _dur(s[2]), f"{_top_speed_kph(race, lap, car):.1f}", "",
                pit_time, d.car_class, "", d.team, "Toyota",
                FLAG_CAUTION if race.caution_lap[lap, car] else FLAG_GREEN,
                f"{s[0]:.3f}", f"{s[1]:.3f}", f"{s[2]:.3f}", *im_cols, _dur(lt), _dur(end),
            ])
    _write(path, list(SECTIONS_COLUMNS), rows, spaced=True)


def classification(race: RaceResult) -> list[int]:
    """Cars in finishing order: classified by laps then time, DNFs after by laps."""
    total = np.array([race.end_s[race.laps_done[c] - 1, c] if race.laps_done[c] else np.inf
                      for c in range(race.n_cars)])
    dnf = np.array([s == "DNF" for s in race.status])
    return [int(c) for c in np.lexsort((total, -race.laps_done, dnf))]


def _gap(laps: int, total: float, ref_laps: int, ref_total: float) -> str:
    if laps < ref_laps:
        n = ref_laps - laps
        return f"+{n} Lap" if n == 1 else f"+{n} Laps"
    return f"+{total - ref_total:.3f}"


def results_rows(race: RaceResult, cars: list[int]) -> list[list[str]]:
    """Rows of a results file for ``cars`` in finishing order."""
    rows = []
    length_km = build_layout(race.config.track).length_m / 1000
    prev: tuple[int, float] | None = None
    first: tuple[int, float] | None = None
    for pos, car in enumerate(cars, start=1):
        d = race.drivers[car]
        laps = int(race.laps_done[car])
        total = float(race.end_s[laps - 1, car]) if laps else 0.0
        col = race.lap_time_s[:laps, car]
        fl = int(np.nanargmin(col)) if laps else -1
        fl_time = float(col[fl]) if laps else np.nan
        rows.append([
            str(pos), str(d.car_number), race.status[car], str(laps), _dur(total) if laps else "",
            "-" if first is None else _gap(laps, total, *first),
            "-" if prev is None else _gap(laps, total, *prev),
            str(fl + 1) if laps else "", _dur(fl_time),
            f"{length_km / fl_time * 3600:.1f}" if laps else "", d.team, d.car_class, "",
            "GR Cup", "Toyota GR86", "Continental", *([""] * (len(RESULTS_COLUMNS) - 16)),
        ])
        prev = (laps, total)
        first = first or (laps, total)
    return rows


def write_results(path: Path, race: RaceResult) -> None:
    """The ``03_`` overall results."""
    _write(path, list(RESULTS_COLUMNS), results_rows(race, classification(race)))


def write_results_by_class(path: Path, race: RaceResult) -> None:
    """The ``05_`` results, positions counted within each class."""
    order = classification(race)
    rows: list[list[str]] = []
    for cls in ("Pro", "Am"):
        rows += results_rows(race, [c for c in order if race.drivers[c].car_class == cls])
    _write(path, list(RESULTS_COLUMNS), rows)


def write_weather(path: Path, race: RaceResult, start_utc: dt.datetime) -> None:
    """The ``26_`` weather file, one row a minute from the green flag."""
    w = race.weather
    rows = []
    for i, t in enumerate(w.t_s):
        when = start_utc + dt.timedelta(seconds=float(t))
        text = f"{when.month}/{when.day}/{when.year} {when.strftime('%I:%M:%S %p').lstrip('0')}"
        rows.append([
            str(int(when.timestamp())), text, f"{w.air_temp_c[i]:.1f}", f"{w.track_temp_c[i]:.1f}",
            f"{w.humidity_pct[i]:.1f}", f"{w.pressure_hpa[i]:.1f}", f"{w.wind_speed_kph[i]:.1f}",
            f"{w.wind_direction_deg[i]:.0f}", "0",
        ])
    _write(path, list(WEATHER_COLUMNS), rows)


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
        rows.append([str(d.car_number), "Toyota GR86", d.car_class, str(laps), *cells, avg])
    _write(path, list(BEST_LAPS_COLUMNS), rows)


__all__ = [
    "classification",
    "sector_times",
    "write_best_laps",
    "write_results",
    "write_results_by_class",
    "write_sections",
    "write_weather",
]
