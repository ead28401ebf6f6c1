"""Domain constants and the time formats of the timing files."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cognirace.domain import TRACKS, format_duration, parse_duration_s, track_from_name


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("1:40.409", 100.409), ("45:30.850", 2730.85), ("+0.156", 0.156), ("97.4", 97.4),
     ("1:02:03.5", 3723.5)],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration_s(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "-", " - ", None])
def test_missing_durations_are_none(text: str | None) -> None:
    assert parse_duration_s(text) is None


@pytest.mark.parametrize("text", ["1:xx.1", "abc", "1::2"])
def test_bad_duration_raises(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration_s(text)


@given(st.floats(min_value=0, max_value=20_000, allow_nan=False))
def test_format_then_parse_round_trips_to_the_millisecond(seconds: float) -> None:
    back = parse_duration_s(format_duration(seconds, hours=True))
    assert back is not None
    assert abs(back - seconds) <= 0.0005 + 1e-9


@pytest.mark.parametrize(
    ("name", "key"),
    [("Road America/Race 1", "road_america"), ("R1_barber_lap_end.csv", "barber"),
     ("sonoma_telemetry_R1.csv", "sonoma"), ("COTA/Race 2", "cota"), ("VIR", "vir"),
     ("indianapolis_lap_start_time_R2.csv", "indianapolis"), ("barbershop", None)],
)
def test_track_from_name(name: str, key: str | None) -> None:
    track = track_from_name(name)
    assert (track.key if track else None) == key


def test_tracks_match_reference() -> None:
    assert len(TRACKS) == 7
    assert TRACKS["barber"].length_km == 3.675
    assert TRACKS["indianapolis"].pit_transit_s == 63
    for track in TRACKS.values():
        low, high = track.best_lap_window_s
        assert low < track.best_lap_s < high
