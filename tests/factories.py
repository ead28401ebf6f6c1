"""Builders of tiny race folders in the real Hack-the-Track formats, with every quirk.

``write_race`` writes one race (telemetry, lap files, results, sections, weather, best
laps) for a few cars over a few laps; its keyword arguments switch on each naming
variant and quirk, so tests can ask for exactly the folder they need and know every
value the lake must then hold.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

from cognirace.domain.formats import (
    BEST_LAPS_COLUMNS,
    LAP_COLUMNS,
    LAP_COLUMNS_VALUE_VARIANT,
    RESULTS_COLUMNS,
    SECTIONS_COLUMNS,
    TELEMETRY_COLUMNS,
    WEATHER_COLUMNS,
    FileKind,
    car_file_name,
    timing_file_name,
)
from cognirace.domain.laptime import format_duration
from cognirace.domain.tracks import TRACKS

CHANNELS = ("speed", "gear", "nmot", "aps", "ath", "pbrake_f", "pbrake_r", "accx_can",
            "accy_can", "Steering_Angle", "Laptrigger_lapdist_dls")
GPS = ("VBOX_Lat_Min", "VBOX_Long_Minutes")


@dataclass
class Car:
    """One car of a built race: chassis, number (text), logged number and lap times (s)."""

    chassis: str
    number: str
    lap_times_s: list[float]
    logged_number: str | None = None
    start_offset_s: float = 0.0
    car_class: str = "Am"
    team: str = "Team"

    @property
    def logged(self) -> str:
        return self.number if self.logged_number is None else self.logged_number

    @property
    def vehicle_id(self) -> str:
        return f"GR86-{self.chassis}-{self.logged if self.logged.strip('0') else '000'}"


def default_cars() -> list[Car]:
    return [
        Car("002", "2", [62.0, 60.5, 60.25], car_class="Pro", team="Alpha"),
        Car("010", "55", [62.5, 60.75, 61.0], start_offset_s=0.5, team="Beta"),
        Car("016", "13", [63.0, 61.5, 61.125], start_offset_s=1.0, team="Gamma"),
    ]


@dataclass
class RaceSpec:
    """Everything a built race varies; the defaults give a clean Barber race 1."""

    track: str = "barber"
    session: str = "R1"
    date: dt.date = dt.date(2025, 7, 20)
    cars: list[Car] = field(default_factory=default_cars)
    style: int = 0
    telemetry: bool = True
    lap_files: bool = True
    results: bool = True
    sections: bool = True
    weather: bool = True
    best_laps: bool = True
    ath: bool = True
    gps: bool = False
    hz: float = 2.0
    value_variant: bool = False
    sentinel: set[tuple[str, int]] = field(default_factory=set)
    duplicate_rows: int = 0
    crlf: bool = False
    bom: bool = False
    header_spaces: bool = True
    logger_offset_s: float = 2.5
    ecu_offset: dt.timedelta = dt.timedelta(days=1, hours=18, minutes=12)
    provisional: bool = False
    bad_value: str | None = None
    unknown_channel: bool = False

    @property
    def start(self) -> dt.datetime:
        return dt.datetime.combine(self.date, dt.time(18, 0), tzinfo=dt.UTC)


def iso(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def lap_ends(spec: RaceSpec, car: Car) -> list[dt.datetime]:
    """True (timing) lap-end times of a car; lap n ends at index n-1."""
    out, t = [], spec.start + dt.timedelta(seconds=car.start_offset_s)
    for lap_s in car.lap_times_s:
        t += dt.timedelta(seconds=lap_s)
        out.append(t)
    return out


def _write(path: Path, lines: list[str], spec: RaceSpec) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    eol = "\r\n" if spec.crlf else "\n"
    text = eol.join(lines) + eol
    path.write_bytes(("\ufeff" if spec.bom else "").encode() + text.encode("utf-8"))
    return path


def _event(spec: RaceSpec) -> str:
    return f"I_R04_{spec.date.isoformat()}"


def _meta(spec: RaceSpec, car: Car, lap: int, t: dt.datetime, *, ecu: bool
          ) -> dict[str, str]:
    """Logger columns of an event at real time ``t``: telemetry's ``timestamp`` is the ECU
    clock (``ecu_offset`` behind), the lap files' is real time; ``meta_time`` is when the
    stream received it, a little later."""
    logged_lap = 32768 if (car.chassis, lap) in spec.sentinel else lap
    stamp = t - spec.ecu_offset if ecu else t
    return {
        "expire_at": "", "lap": str(logged_lap), "meta_event": _event(spec),
        "meta_session": spec.session, "meta_source": "kafka:gr-raw",
        "meta_time": iso(t + dt.timedelta(milliseconds=150)),
        "original_vehicle_id": car.vehicle_id, "outing": "0",
        "timestamp": iso(stamp), "vehicle_id": car.vehicle_id,
        "vehicle_number": car.logged if car.logged.strip("0") else "0",
    }


def telemetry_rows(spec: RaceSpec) -> list[str]:
    """Long-format telemetry: every channel at ``hz`` per car, lap distance resetting."""
    names = list(CHANNELS if spec.ath else [c for c in CHANNELS if c != "ath"])
    names += list(GPS) if spec.gps else []
    if spec.unknown_channel:
        names.append("Mystery_Channel")
    rows = []
    length = TRACKS[spec.track].length_m
    for car in spec.cars:
        t = spec.start + dt.timedelta(seconds=car.start_offset_s)
        for lap, lap_s in enumerate(car.lap_times_s, start=1):
            n = int(lap_s * spec.hz)
            for k in range(n):
                ts = t + dt.timedelta(seconds=k / spec.hz)
                meta = _meta(spec, car, lap, ts, ecu=True)
                values = _channel_values(k / n, length, lap)
                for name in names:
                    rows.append(",".join([*(meta[c] for c in TELEMETRY_COLUMNS[:8]), name,
                                          values.get(name, "1.5"), meta["timestamp"],
                                          meta["vehicle_id"], meta["vehicle_number"]]))
            t += dt.timedelta(seconds=lap_s)
    rows += rows[: spec.duplicate_rows]
    return rows


def _channel_values(frac: float, length: float, lap: int) -> dict[str, str]:
    return {
        "speed": f"{100 + 50 * frac:.2f}", "gear": "4", "nmot": "6000", "aps": "80.5",
        "ath": "75.0", "pbrake_f": "0.0", "pbrake_r": "0.0", "accx_can": "0.1",
        "accy_can": "-0.2", "Steering_Angle": "5.0",
        "Laptrigger_lapdist_dls": f"{frac * length:.1f}",
        "VBOX_Lat_Min": f"{33.532 + frac / 1000:.6f}", "VBOX_Long_Minutes": "-86.619",
    }


def _header(columns: tuple[str, ...], sep: str, spec: RaceSpec) -> str:
    pad = " " if spec.header_spaces else ""
    return (sep + pad).join(columns) + (sep if sep == ";" else "")


def lap_rows(spec: RaceSpec, kind: FileKind) -> list[str]:
    """Lap start, end or time rows, ``logger_offset_s`` after the timing line (where the
    logger's lap beacon sits)."""
    columns = LAP_COLUMNS_VALUE_VARIANT if spec.value_variant else LAP_COLUMNS
    rows = [_header(columns, ",", spec)]
    logger = dt.timedelta(seconds=spec.logger_offset_s)
    for car in spec.cars:
        ends = lap_ends(spec, car)
        for lap, end in enumerate(ends, start=1):
            t = (end - dt.timedelta(seconds=car.lap_times_s[lap - 1])
                 if kind is FileKind.LAP_START else end) + logger
            meta = _meta(spec, car, lap, t, ecu=False)
            meta["value"] = str(round(car.lap_times_s[lap - 1] * 1000)) \
                if kind is FileKind.LAP_TIME else meta["timestamp"]
            rows.append(",".join(meta[c] for c in columns))
    return rows


def local_hour(spec: RaceSpec, t: dt.datetime) -> str:
    """``HOUR`` as the timing writes it: local time of day at the track."""
    local = t.astimezone(ZoneInfo(TRACKS[spec.track].timezone))
    return local.strftime("%H:%M:%S.") + f"{local.microsecond // 1000:03d}"


def sections_rows(spec: RaceSpec) -> list[str]:
    """The 23_ file: one row per car and lap; lap 2 of car 1 pits, lap 2 is under FCY and
    each car's last lap ends under the chequered flag (``FF``)."""
    rows = [_header(SECTIONS_COLUMNS, ";", spec)]
    for i, car in enumerate(spec.cars):
        elapsed = car.start_offset_s
        for lap, (lap_s, end) in enumerate(zip(car.lap_times_s, lap_ends(spec, car),
                                               strict=True), start=1):
            elapsed += lap_s
            s = [round(lap_s * f, 3) for f in (0.3, 0.4)]
            s.append(round(lap_s - sum(s), 3))
            pit = i == 0 and lap == 2
            values = dict.fromkeys(SECTIONS_COLUMNS, "")
            values.update({
                "NUMBER": car.number, "DRIVER_NUMBER": "1", "LAP_NUMBER": str(lap),
                "LAP_TIME": format_duration(lap_s), "S1": format_duration(s[0]),
                "S2": format_duration(s[1]), "S3": format_duration(s[2]), "KPH": "140.1",
                "ELAPSED": format_duration(elapsed), "HOUR": local_hour(spec, end),
                "TOP_SPEED": f"{180 + lap}.5",
                "PIT_TIME": "0:34.200" if pit else "", "CROSSING_FINISH_LINE_IN_PIT":
                "B" if pit else "", "CLASS": car.car_class, "TEAM": car.team,
                "FLAG_AT_FL": "FCY" if lap == 2 else "FF" if lap == len(car.lap_times_s)
                else "GF", "S1_SECONDS": f"{s[0]:.3f}",
                "S2_SECONDS": f"{s[1]:.3f}", "S3_SECONDS": f"{s[2]:.3f}",
            })
            rows.append(";".join(values[c] for c in SECTIONS_COLUMNS) + ";")
    return rows


def finish_order(spec: RaceSpec) -> list[Car]:
    return sorted(spec.cars, key=lambda c: lap_ends(spec, c)[-1])


def results_rows(spec: RaceSpec) -> list[str]:
    """The 03_ file: leader gap ``-``, the last car a lap down (``+1 Lap``)."""
    rows = [_header(RESULTS_COLUMNS, ";", spec)]
    order = finish_order(spec)
    first_end = lap_ends(spec, order[0])[-1]
    for pos, car in enumerate(order, start=1):
        total = (lap_ends(spec, car)[-1] - spec.start).total_seconds()
        gap = "-" if pos == 1 else (
            "+1 Lap" if pos == len(order) and len(order) > 2
            else f"+{(lap_ends(spec, car)[-1] - first_end).total_seconds():.3f}")
        best = min(range(len(car.lap_times_s)), key=lambda i: car.lap_times_s[i])
        values = dict.fromkeys(RESULTS_COLUMNS, "")
        values.update({
            "POSITION": str(pos), "NUMBER": car.number, "STATUS": "Classified",
            "LAPS": str(len(car.lap_times_s)), "TOTAL_TIME": format_duration(total),
            "GAP_FIRST": gap, "FL_LAPNUM": str(best + 1),
            "FL_TIME": format_duration(car.lap_times_s[best]), "FL_KPH": "140.7",
            "TEAM": car.team, "CLASS": car.car_class, "VEHICLE": "Toyota GR86",
        })
        rows.append(";".join(values[c] for c in RESULTS_COLUMNS) + ";")
    return rows


def weather_rows(spec: RaceSpec) -> list[str]:
    """Three rows a minute apart; the second has ``TRACK_TEMP`` 0 (not measured)."""
    rows = [_header(WEATHER_COLUMNS, ";", spec)]
    for i in range(3):
        t = spec.start + dt.timedelta(minutes=i)
        rows.append(";".join([str(int(t.timestamp())), t.strftime("%m/%d/%Y %I:%M:%S %p"),
                              f"{30 + i}.1", "0" if i == 1 else "45.2", "55", "1001.5", "3.2",
                              "180", "0"]) + ";")
    return rows


def best_laps_rows(spec: RaceSpec) -> list[str]:
    rows = [_header(BEST_LAPS_COLUMNS, ";", spec)]
    for car in spec.cars:
        values = dict.fromkeys(BEST_LAPS_COLUMNS, "")
        values.update({"NUMBER": car.number, "TOTAL_DRIVER_LAPS": "3"})
        rows.append(";".join(values[c] for c in BEST_LAPS_COLUMNS) + ";")
    return rows


def write_race(folder: Path, spec: RaceSpec | None = None) -> Path:
    """Write one race's files into ``folder`` (created) and return it."""
    spec = spec or RaceSpec()
    race = int(spec.session[1])
    if spec.telemetry:
        rows = [_header(TELEMETRY_COLUMNS, ",", spec), *telemetry_rows(spec)]
        if spec.bad_value is not None:
            rows[3] = rows[3].replace(rows[3].split(",")[9], spec.bad_value, 1)
        _write(folder / car_file_name(FileKind.TELEMETRY, spec.track, spec.session,
                                      style=spec.style), rows, spec)
    if spec.lap_files:
        for kind in (FileKind.LAP_START, FileKind.LAP_END, FileKind.LAP_TIME):
            _write(folder / car_file_name(kind, spec.track, spec.session, style=spec.style),
                   lap_rows(spec, kind), spec)
    timing = [(spec.results, FileKind.RESULTS, results_rows),
              (spec.sections, FileKind.SECTIONS, sections_rows),
              (spec.weather, FileKind.WEATHER, weather_rows),
              (spec.best_laps, FileKind.BEST_LAPS, best_laps_rows)]
    for wanted, kind, rows_of in timing:
        if wanted:
            name = timing_file_name(kind, race, provisional=spec.provisional)
            _write(folder / name, rows_of(spec), spec)
    return folder
