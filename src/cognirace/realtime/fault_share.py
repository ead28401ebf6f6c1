"""Whether the live engine raises ANOMALY for a labelled fault within the windows it spans.

The question: a fault the simulator injected (``truth/<S>_faults.parquet``) should raise
an ANOMALY event for its car in a telemetry window that overlaps it. ``fault_share``
answers it for one race from what the engine did (its event log, and the detector's
answer for every window it scored) and the race's truth, and gives the contrast: how
often the same engine alarms on windows with no fault.

The clock. A fault spans ``start_s``..``end_s``, race seconds from the truth's green flag
(``start_utc``). A window is ``WINDOW_S`` long from its ``window_start`` (its first
sample's time on the lake's clock), and the engine stamps an ANOMALY event with that
window start (``Event.time``). They meet as training labels windows
(``models.anomaly.anomaly_rows``): a window overlaps a fault when
``fault_start < window_start + WINDOW_S`` and ``fault_end > window_start``. Only faults
that show in the logged channels (``in_telemetry``) count, as in training; a window
overlapping none of its car's is clean.

Two counts per fault, both reported, since neither is the other:

- ``event_raised``: an ANOMALY for the car (of any kind) stamped in a window
  overlapping the fault. This is what a strategist sees.
- ``detector_flagged``: the detector flagged (``is_anomaly``) one of the car's windows
  overlapping the fault.

The engine raises on every flagged window unless the same kind is latched: an earlier
ANOMALY of that kind on the car has not yet cleared (``alerts.ANOMALY_CLEAR_WINDOWS``
windows in a row without it). So, given the engine's whole log and every window it
scored, a fault flagged without an event (``latched``) is exactly one that began while
an earlier alarm on the car was still held: the car was already reported, but this
fault raised nothing of its own. Counting it as caught would credit the latch; not
counting the flag would hide a detector that saw it.

The contrast (``CleanWindows``): of the windows overlapping no fault of their car, the
share the detector flagged, and the ANOMALY events stamped in them per car-hour of
clean windows (the unit of the detector's alarm budget, ``false_alarms_per_hour``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import polars as pl

from cognirace.features.windows import WINDOW_MS, WINDOW_S
from cognirace.realtime.events import ANOMALY, Event

SECONDS_PER_HOUR = 3600.0
_TIME = pl.Datetime("us", "UTC")
_WINDOW = pl.duration(milliseconds=WINDOW_MS)



class Recorded:
    """A detector as the engine sees it, keeping its answer for every window it scores
    (the ``windows`` that ``fault_share`` reads)."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.answers: list[pl.DataFrame] = []

    def input_schema(self) -> Any:
        return self.model.input_schema()

    def predict(self, rows: pl.DataFrame) -> pl.DataFrame:
        answer: pl.DataFrame = self.model.predict(rows)
        self.answers.append(pl.concat([rows.select("car_number", "window_start"),
                                       answer.select("is_anomaly")], how="horizontal"))
        return answer

    def windows(self) -> pl.DataFrame:
        """Every window scored so far: ``car_number``, ``window_start``, ``is_anomaly``."""
        return pl.concat(self.answers) if self.answers else pl.DataFrame(
            schema={"car_number": pl.String, "window_start": pl.Datetime("us", "UTC"),
                    "is_anomaly": pl.Boolean})

@dataclass(frozen=True)
class CleanWindows:
    """The engine on windows that overlap no fault of their car.

    Attributes:
        n_windows: Clean windows the detector scored.
        n_flagged: Of them, those it flagged (``is_anomaly``).
        n_events: ANOMALY events stamped in a clean window.
    """

    n_windows: int
    n_flagged: int
    n_events: int

    @property
    def car_hours(self) -> float:
        """Clean running scored, car-hours (``WINDOW_S`` a window)."""
        return self.n_windows * WINDOW_S / SECONDS_PER_HOUR

    @property
    def p_flagged(self) -> float:
        """Share of clean windows flagged; NaN without any."""
        return self.n_flagged / self.n_windows if self.n_windows else float("nan")

    @property
    def events_per_car_hour(self) -> float:
        """False ANOMALY events per car-hour of clean windows; NaN without any."""
        hours = self.car_hours
        return self.n_events / hours if hours > 0 else float("nan")

    def __add__(self, other: CleanWindows) -> CleanWindows:
        return CleanWindows(self.n_windows + other.n_windows,
                            self.n_flagged + other.n_flagged, self.n_events + other.n_events)


@dataclass(frozen=True)
class FaultShare:
    """Per fault, what the engine did within its windows; and the clean windows.

    Attributes:
        faults: One row per fault seen in telemetry: the truth's columns, then
            ``fault_start`` and ``fault_end`` (UTC), ``n_windows`` (the car's windows
            scored that overlap it), ``n_flagged`` (of them, flagged), ``n_events``
            (ANOMALY events for the car stamped in them), ``first_event_s`` (the first
            one's window start after the fault's start, s: down to ``-WINDOW_S`` for a
            window that began just before it; null without any), ``event_raised``,
            ``detector_flagged`` and ``latched`` (see the module docstring).
        clean: The windows overlapping no fault of their car.
    """

    faults: pl.DataFrame
    clean: CleanWindows


def fault_spans(faults: pl.DataFrame, race_start: dt.datetime) -> pl.DataFrame:
    """The faults seen in telemetry with their span in UTC (``fault_start``,
    ``fault_end``) and a ``fault_id`` (row order), as training builds them.

    Args:
        faults: A race's truth faults (``car_number`` as text, ``start_s``, ``end_s``
            in seconds from the green flag; ``in_telemetry`` when known).
        race_start: The truth's green flag (``start_utc``), tz-aware UTC.
    """
    if "in_telemetry" in faults.columns:
        faults = faults.filter(pl.col("in_telemetry"))
    start = pl.lit(race_start).cast(_TIME)

    def at(column: str) -> pl.Expr:
        return start + pl.duration(milliseconds=(pl.col(column) * 1000).round().cast(pl.Int64))

    return faults.with_row_index("fault_id").with_columns(
        at("start_s").alias("fault_start"), at("end_s").alias("fault_end"))


def anomaly_events(events: Iterable[Event]) -> pl.DataFrame:
    """The ANOMALY events as ``car_number`` and ``window_start`` (the event's time, else
    the ``window_start`` its data carry); events with neither are left out."""
    rows = []
    for event in events:
        if event.type != ANOMALY or event.car_number is None:
            continue
        start = event.time
        if start is None and event.data.get("window_start"):
            start = dt.datetime.fromisoformat(str(event.data["window_start"]))
        if start is not None:
            rows.append({"car_number": event.car_number, "window_start": start})
    return pl.DataFrame(rows, schema={"car_number": pl.String, "window_start": _TIME})


def _overlaps() -> pl.Expr:
    """A window (``window_start`` .. + ``WINDOW_S``) overlaps a fault's span."""
    return ((pl.col("fault_start") < pl.col("window_start") + _WINDOW)
            & (pl.col("fault_end") > pl.col("window_start")))


def _hits(spans: pl.DataFrame, windows: pl.DataFrame) -> pl.DataFrame:
    """Pairs of a fault and a window of its car that overlaps it."""
    return spans.select("fault_id", "car_number", "fault_start", "fault_end").join(
        windows, on="car_number").filter(_overlaps())


def fault_share(faults: pl.DataFrame, race_start: dt.datetime, events: Iterable[Event],
                windows: pl.DataFrame) -> FaultShare:
    """Per fault of one race, whether the engine raised ANOMALY, and whether the detector
    flagged, within a window it overlaps; and the same on clean windows (see the module
    docstring).

    Args:
        faults: The race's truth faults (see ``fault_spans``).
        race_start: The truth's green flag, tz-aware UTC.
        events: The engine's event log (``engine.log.events``); other types are ignored.
        windows: Every window the detector scored: ``car_number`` (the engine's, from the
            logger's vehicle id), ``window_start`` and ``is_anomaly``. Windows of no known
            car are left out, as the engine leaves them.
    """
    spans = fault_spans(faults, race_start)
    scored = (windows.select("car_number", pl.col("window_start").cast(_TIME),
                             pl.col("is_anomaly").fill_null(False))
              .drop_nulls(["car_number", "window_start"])
              .unique(["car_number", "window_start"], keep="last", maintain_order=True)
              .with_row_index("window"))
    raised = anomaly_events(events).with_row_index("event")
    window_hits, event_hits = _hits(spans, scored), _hits(spans, raised)
    per_fault = (
        spans.join(window_hits.group_by("fault_id").agg(
                       n_windows=pl.len(), n_flagged=pl.col("is_anomaly").sum()),
                   on="fault_id", how="left")
        .join(event_hits.group_by("fault_id").agg(
                  n_events=pl.len(),
                  first_event_s=(pl.col("window_start").min() - pl.col("fault_start").first())
                  .dt.total_milliseconds() / 1000.0),
              on="fault_id", how="left")
        .with_columns(pl.col("n_windows", "n_flagged", "n_events").fill_null(0)
                      .cast(pl.Int64))
        .with_columns(event_raised=pl.col("n_events") > 0,
                      detector_flagged=pl.col("n_flagged") > 0)
        .with_columns(latched=pl.col("detector_flagged") & ~pl.col("event_raised"))
        .drop("fault_id"))
    clean = scored.join(window_hits.select("window"), on="window", how="anti")
    false_events = raised.join(event_hits.select("event"), on="event", how="anti")
    return FaultShare(per_fault, CleanWindows(clean.height, int(clean["is_anomaly"].sum()),
                                              false_events.height))


__all__ = ["SECONDS_PER_HOUR", "CleanWindows", "FaultShare", "Recorded", "anomaly_events",
           "fault_share", "fault_spans"]
