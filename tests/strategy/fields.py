"""Snapshots built in code for the strategy tests: hand-checkable fields and a GR Cup-like one."""

from __future__ import annotations

from collections.abc import Sequence

from cognirace.strategy.examples import gr_cup_field
from cognirace.strategy.snapshot import CarSnapshot, RaceSnapshot


def car(number: str, position: int, race_time_s: float, lap_s: float = 100.0, *,
        laps: int = 10, spread_s: float = 0.0, **extra: object) -> CarSnapshot:
    """A car lapping at ``lap_s`` (P10 and P90 ``spread_s`` either side; 0: exact)."""
    fields: dict[str, object] = {
        "car_number": number, "position": position, "laps": laps,
        "race_time_s": race_time_s, "lap_time_p10_s": lap_s - spread_s,
        "lap_time_p50_s": lap_s, "lap_time_p90_s": lap_s + spread_s, "tire_age_laps": laps}
    fields.update(extra)
    return CarSnapshot(**fields)  # type: ignore[arg-type]


def race(cars: Sequence[CarSnapshot], *, time_left_s: float, hazard: float = 0.0,
         caution: bool = False, pit_loss_green_s: float = 38.0,
         pit_loss_caution_s: float = 20.0, caution_lap_s: float | None = 140.0,
         track: str = "barber") -> RaceSnapshot:
    """A race around ``cars`` (positions as given)."""
    return RaceSnapshot(race_id="test-race", track=track, lap=max(c.laps for c in cars),
                        time_left_s=time_left_s, caution=caution, caution_hazard=(hazard,),
                        pit_loss_green_s=pit_loss_green_s,
                        pit_loss_caution_s=pit_loss_caution_s, cars=tuple(cars),
                        caution_lap_s=caution_lap_s)


def gr_cup(n_cars: int = 25, laps_left: float = 15.0, lap: int = 12, seed: int = 0,
           hazard: float = 0.03, fuel_start_l: float | None = 70.0) -> RaceSnapshot:
    """A plausible GR Cup field at Barber (``strategy.examples.gr_cup_field``)."""
    return gr_cup_field(n_cars, laps_left, lap, seed, hazard, fuel_start_l,
                        race_id="test-race")


__all__ = ["car", "gr_cup", "race"]
