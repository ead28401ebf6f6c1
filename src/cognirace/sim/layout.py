"""Track layouts: a closed centre line of straights and corners for each circuit.

Each layout is a list of ``(straight_m, turn_deg, radius_m)`` pieces: a straight, then
an arc turning by ``turn_deg`` (positive = left) at ``radius_m``. The pieces are
normalised so that the signed turns add up to one full turn and the total length is the
track's published length; the small closing gap that remains after integrating the
heading is spread along the lap. The curvature, sampled every ``DS_M`` metres, drives
the lap simulation; the integrated centre line gives the GPS map.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from cognirace.domain.tracks import TRACKS, Track
from cognirace.errors import ConfigError

FloatArray = npt.NDArray[np.float64]

DS_M = 5.0
"""Spacing of the distance grid, metres."""

PIT_LIMIT_KPH = 60.0
"""Pit-lane speed limit, km/h."""

_M_PER_DEG_LAT = 111_320.0

# (straight_m, turn_deg, radius_m): rough shapes of the real circuits.
_PIECES: dict[str, tuple[tuple[float, float, float], ...]] = {
    "barber": (
        (320, -75, 45), (90, 60, 60), (150, -110, 55), (120, -40, 90), (60, 35, 70),
        (260, -150, 30), (140, 80, 55), (230, -70, 95), (160, 95, 45), (120, -120, 40),
        (250, -60, 110), (170, -95, 50), (60, 60, 65), (200, -140, 35), (150, -60, 80),
    ),
    "cota": (
        (620, -135, 22), (150, 60, 90), (60, -70, 90), (60, 70, 90), (90, -90, 60),
        (130, 150, 45), (240, -80, 55), (950, -160, 20), (260, 80, 50), (120, -85, 40),
        (180, -60, 60), (160, 100, 60), (110, -120, 120), (140, 70, 70), (200, -95, 40),
        (260, -95, 38), (200, -80, 50),
    ),
    "indianapolis": (
        (580, -90, 30), (120, 45, 55), (250, -50, 70), (120, 90, 35), (140, -110, 40),
        (330, -75, 38), (110, 70, 60), (200, -90, 45), (300, -30, 220), (380, -95, 40),
        (180, 40, 60), (150, -75, 45), (210, -60, 140),
    ),
    "road_america": (
        (900, -90, 35), (500, -90, 30), (850, -90, 40), (150, 50, 70), (250, -80, 45),
        (200, -30, 250), (350, -80, 80), (250, 40, 90), (200, -60, 60), (300, -50, 80),
        (200, 70, 70), (250, -90, 45), (300, -85, 50),
    ),
    "sebring": (
        (500, -90, 25), (150, 80, 60), (160, -120, 45), (200, -50, 100), (300, -90, 35),
        (260, 90, 30), (220, -120, 40), (360, -60, 110), (180, 70, 50), (220, -110, 40),
        (700, -90, 50), (160, -30, 160), (500, -150, 45),
    ),
    "sonoma": (
        (320, 40, 90), (140, -120, 28), (200, 70, 40), (180, -90, 70), (120, 60, 45),
        (150, -110, 60), (140, -50, 90), (110, 100, 35), (90, -100, 35), (170, -60, 80),
        (250, -170, 20), (300, -90, 40), (120, -40, 100),
    ),
    "vir": (
        (600, -80, 50), (180, 60, 70), (120, -80, 55), (260, -40, 200), (110, 90, 40),
        (120, -100, 50), (100, 80, 60), (90, -90, 60), (380, -60, 120), (200, -70, 55),
        (160, 90, 45), (140, -80, 40), (300, -40, 200), (260, -100, 40),
    ),
}


@dataclass(frozen=True, slots=True)
class TrackLayout:
    """A track's centre line on a regular distance grid.

    Attributes:
        track: The circuit.
        s_m: Distance from the start/finish line at each grid point, metres.
        curvature_per_m: Signed curvature (positive = left), 1/m.
        x_m: East coordinate of the centre line, metres from the anchor.
        y_m: North coordinate, metres from the anchor.
        sector_ends_m: Distances of the ends of sectors 1 and 2, metres.
        pit_length_m: Length of the pit lane, centred on the line, metres.
    """

    track: Track
    s_m: FloatArray
    curvature_per_m: FloatArray
    x_m: FloatArray
    y_m: FloatArray
    sector_ends_m: tuple[float, float]
    pit_length_m: float

    @property
    def length_m(self) -> float:
        """Lap length in metres."""
        return self.track.length_m

    def lat_lon_deg(self, s_m: FloatArray) -> tuple[FloatArray, FloatArray]:
        """GPS latitude and longitude (degrees) at lap distances ``s_m``."""
        x = np.interp(s_m, self.s_m, self.x_m, period=self.length_m)
        y = np.interp(s_m, self.s_m, self.y_m, period=self.length_m)
        lat0 = self.track.lat_deg
        lat = lat0 + y / _M_PER_DEG_LAT
        lon = self.track.lon_deg + x / (_M_PER_DEG_LAT * math.cos(math.radians(lat0)))
        return lat, lon


def _normalised_pieces(track: Track) -> list[tuple[float, float, float]]:
    pieces = _PIECES.get(track.key)
    if pieces is None:
        raise ConfigError(f"no layout for track {track.key!r}",
                          hint=f"use one of {sorted(_PIECES)}")
    total_turn = sum(p[1] for p in pieces)
    turn_scale = (360.0 if total_turn > 0 else -360.0) / total_turn
    turned = [(s, t * turn_scale, r) for s, t, r in pieces]
    arc_m = sum(abs(math.radians(t)) * r for _, t, r in turned)
    straight_m = sum(s for s, _, _ in turned)
    spare = track.length_m - arc_m
    if spare <= 0.2 * track.length_m:
        raise ConfigError(f"layout of {track.key} is too short for its corners")
    return [(s * spare / straight_m, t, r) for s, t, r in turned]


@lru_cache(maxsize=16)
def build_layout(track_key: str) -> TrackLayout:
    """Build (once per process) the layout of one of the seven tracks."""
    track = TRACKS[track_key]
    pieces = _normalised_pieces(track)
    n = round(track.length_m / DS_M)
    ds = track.length_m / n
    s = np.arange(n) * ds
    edges: list[float] = []
    pos = 0.0
    for straight, turn, radius in pieces:
        pos += straight
        edges.append(pos)
        pos += abs(math.radians(turn)) * radius
        edges.append(pos)
    idx = np.searchsorted(np.asarray(edges), s + ds / 2, side="right")
    arc_kappa = np.asarray([math.copysign(1.0 / p[2], p[1]) for p in pieces])
    arc_index = np.clip((idx - 1) // 2, 0, len(pieces) - 1)
    kappa_raw = np.where(idx % 2 == 1, arc_kappa[arc_index], 0.0)
    kappa = _smooth_periodic(kappa_raw, window=7)
    kappa *= (2 * math.pi * np.sign(kappa.sum())) / (kappa.sum() * ds)
    heading = np.cumsum(kappa) * ds - kappa[0] * ds
    x = np.concatenate([[0.0], np.cumsum(np.cos(heading))[:-1] * ds])
    y = np.concatenate([[0.0], np.cumsum(np.sin(heading))[:-1] * ds])
    gap_x = x[-1] + math.cos(heading[-1]) * ds
    gap_y = y[-1] + math.sin(heading[-1]) * ds
    x = x - gap_x * s / track.length_m
    y = y - gap_y * s / track.length_m
    x -= x.mean()
    y -= y.mean()
    length = track.length_m
    return TrackLayout(
        track=track,
        s_m=np.asarray(s, dtype=np.float64),
        curvature_per_m=kappa,
        x_m=x,
        y_m=y,
        sector_ends_m=(round(0.33 * length, 1), round(0.68 * length, 1)),
        pit_length_m=track.pit_transit_s * PIT_LIMIT_KPH / 3.6,
    )


def _smooth_periodic(values: FloatArray, window: int) -> FloatArray:
    """Moving average over ``window`` grid points, wrapping around the lap."""
    pad = window // 2
    padded = np.concatenate([values[-pad:], values, values[:pad]])
    kernel = np.ones(window) / window
    return np.convolve(padded, kernel, mode="valid")


__all__ = ["DS_M", "PIT_LIMIT_KPH", "TrackLayout", "build_layout"]
