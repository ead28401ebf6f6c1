"""A lake race as the stream it was: frames of lap crossings, flags, weather and samples.

Each frame holds what happened in one slice of race time (``frame_s``), in time order,
as JSON-ready dicts (times as ISO 8601 text), so the same frames go to an engine in
process or over HTTP and WebSocket. The caution state travels as flag rows at the
crossings where the timing's flag changes, as a flags feed would send it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import polars as pl

from cognirace.errors import DataError
from cognirace.features.field import RACE_DURATION_S
from cognirace.lake import Lake
from cognirace.realtime.tower import Entry, RaceInfo

FRAME_S = 1.0
"""Race time per frame, s."""


def race_info(lake: Lake, race_id: str, *, as_id: str | None = None,
              duration_s: float = RACE_DURATION_S) -> RaceInfo:
    """The declaration of a lake race: track, session, start and its entry list; the
    timed length is not in the lake's files, so it is given (45 min by default).

    Raises:
        DataError: The lake has no such race.
    """
    races = lake.races.filter(pl.col("race_id") == race_id)
    if races.is_empty():
        known = sorted(lake.races["race_id"].to_list())
        shown = ", ".join(known[:6]) + (", ..." if len(known) > 6 else "")
        raise DataError(f"the lake has no race {race_id!r}", value=race_id,
                        hint=f"its races are {shown or 'none'}")
    race = races.row(0, named=True)
    laps = lake.laps.filter(pl.col("race_id") == race_id)
    start = laps["lap_start"].min() if laps.height else None
    cars = (lake.cars.filter((pl.col("race_id") == race_id) & pl.col("car_number").is_not_null())
            .unique("car_number", keep="first", maintain_order=True))
    grid = (laps.filter(pl.col("lap") == 1).sort("lap_end")["car_number"].to_list()
            if laps.height else [])
    order = {number: i for i, number in enumerate(grid)}
    entries = sorted(
        (Entry(str(r["car_number"]), chassis=r.get("chassis"), team=r.get("team"),
               vehicle_id=r.get("vehicle_id"), driver=r.get("driver"))
         for r in cars.iter_rows(named=True)),
        key=lambda e: (order.get(e.car_number, len(order)), e.car_number))
    return RaceInfo(race_id=as_id or race_id, track=str(race["track"]),
                    session=str(race["session"]),
                    start=start if isinstance(start, dt.datetime) else None,
                    duration_s=duration_s, entries=tuple(entries))


def _iso(frame: pl.DataFrame, column: str) -> pl.DataFrame:
    return frame.with_columns(pl.col(column).dt.strftime("%Y-%m-%dT%H:%M:%S%.3fZ"))


def race_frames(lake: Lake, race_id: str, *, frame_s: float = FRAME_S, from_lap: int = 1,
                telemetry: bool = True) -> Iterator[dict[str, Any]]:
    """The race's frames in order (see the module docstring), ``seq`` from 0.

    ``from_lap`` starts the stream when the leader begins that lap; earlier crossings
    are sent at once in the first frame, so the tower is right from the start.
    """
    laps = lake.laps.filter((pl.col("race_id") == race_id) & pl.col("car_number").is_not_null()
                            & pl.col("lap_end").is_not_null()).sort("lap_end", "car_number")
    if laps.is_empty():
        raise DataError(f"race {race_id!r} has no timed laps to replay", value=race_id)
    weather = lake.weather.filter(pl.col("race_id") == race_id).sort("time")
    samples = (lake.scan_telemetry(race_id=race_id).sort("time").collect()
               if telemetry else pl.DataFrame())
    flags = _flag_changes(laps)
    start = laps["lap_start"].min() or laps["lap_end"].min()
    resume = laps.filter(pl.col("lap") == from_lap)["lap_start"].min() if from_lap > 1 else None
    assert isinstance(start, dt.datetime)
    origin = resume if isinstance(resume, dt.datetime) else start
    step = dt.timedelta(seconds=frame_s)
    end = laps["lap_end"].max()
    assert isinstance(end, dt.datetime)
    sources = {"laps": laps.drop("race_id"), "weather": weather.drop("race_id"),
               "flags": flags,
               "samples": samples.drop("race_id") if samples.height else samples}
    time_col = {"laps": "lap_end", "weather": "time", "flags": "time", "samples": "time"}
    cursor = dict.fromkeys(sources, 0)
    seq, edge = 0, origin
    while edge <= end + step:
        body: dict[str, Any] = {"seq": seq}
        for name, table in sources.items():
            if table.is_empty():
                continue
            times = table[time_col[name]]
            stop = int(times.search_sorted(edge, side="right"))
            if stop > cursor[name]:
                chunk = table.slice(cursor[name], stop - cursor[name])
                body[name] = _iso(chunk, time_col[name]).to_dicts() if name != "laps" else \
                    _iso(_iso(chunk, "lap_end"), "lap_start").to_dicts()
                cursor[name] = stop
        if len(body) > 1:
            yield body
            seq += 1
        edge += step


def _flag_changes(laps: pl.DataFrame) -> pl.DataFrame:
    """Flag rows at the leader's crossings where the timing's flag changes."""
    leader = (laps.filter(pl.col("flag").is_in(["GF", "FCY"])).sort("lap_end")
              .group_by("lap", maintain_order=True).first())
    changes = leader.filter(pl.col("flag") != pl.col("flag").shift(1).fill_null("GF"))
    return changes.select(time=pl.col("lap_end"), flag=pl.col("flag"))


__all__ = ["FRAME_S", "race_frames", "race_info"]
