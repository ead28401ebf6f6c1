"""Weather of a race: air and track temperature drifting over the race, a row every 63 s.

Each track's climate (air temperature and its spread between races, the sun's heating of
the track above the air, humidity, pressure) is read from the real 2025 weather files.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

@dataclass(frozen=True, slots=True)
class Climate:
    """A track's weather at race time.

    Attributes:
        air_c: Mean air temperature, °C.
        air_sd_c: Spread of a race's air temperature around it, °C.
        sun_c: Bounds of the track's heating above the air, °C.
        humidity_pct: Bounds of the relative humidity, %.
        pressure_hpa: Bounds of the air pressure, hPa.
    """

    air_c: float
    air_sd_c: float
    sun_c: tuple[float, float]
    humidity_pct: tuple[float, float]
    pressure_hpa: tuple[float, float]


CLIMATES: dict[str, Climate] = {
    "barber": Climate(27.3, 2.5, (6.0, 14.0), (44.0, 58.0), (992.0, 996.0)),
    "cota": Climate(28.2, 0.6, (11.0, 15.0), (56.0, 64.0), (992.0, 997.0)),
    "indianapolis": Climate(15.0, 2.5, (0.5, 3.5), (72.0, 83.0), (977.0, 986.0)),
    "road_america": Climate(22.3, 0.9, (2.0, 9.0), (70.0, 95.0), (977.0, 982.0)),
    "sebring": Climate(32.0, 1.8, (7.0, 12.0), (44.0, 63.0), (1012.0, 1015.0)),
    "sonoma": Climate(16.0, 0.6, (14.0, 17.0), (45.0, 52.0), (1010.0, 1014.0)),
    "vir": Climate(33.0, 0.8, (9.0, 16.0), (53.0, 63.0), (999.0, 1003.0)),
}
"""Climate per track, from the real weather files (Sonoma: one race only)."""

WEATHER_STEP_S = 63.0
"""Interval between two rows of the weather file, s."""


@dataclass(frozen=True, slots=True)
class Weather:
    """Minute-by-minute weather from the green flag.

    Attributes:
        t_s: Race time of each row, s.
        air_temp_c: Air temperature, °C.
        track_temp_c: Track surface temperature, °C.
        humidity_pct: Relative humidity, %.
        pressure_hpa: Air pressure, hPa.
        wind_speed_kph: Wind speed, km/h.
        wind_direction_deg: Wind direction, degrees.
    """

    t_s: FloatArray
    air_temp_c: FloatArray
    track_temp_c: FloatArray
    humidity_pct: FloatArray
    pressure_hpa: FloatArray
    wind_speed_kph: FloatArray
    wind_direction_deg: FloatArray

    def track_temp_at(self, t_s: FloatArray) -> FloatArray:
        """Track temperature at race times ``t_s``, °C."""
        return np.interp(t_s, self.t_s, self.track_temp_c)


def draw_weather(track_key: str, duration_s: float, rng: np.random.Generator) -> Weather:
    """Draw a race's weather: a base from the track's climate, a linear drift, small noise."""
    climate = CLIMATES[track_key]
    n = int(duration_s // WEATHER_STEP_S) + 8
    t = np.arange(n) * WEATHER_STEP_S
    frac = t / max(t[-1], 1.0)
    air0 = climate.air_c + rng.normal(0, climate.air_sd_c)
    air = air0 + rng.normal(0, 0.8) * frac + rng.normal(0, 0.15, n)
    sun = rng.uniform(*climate.sun_c)
    track = air + sun + rng.normal(0, 1.5) * frac + rng.normal(0, 0.3, n)
    hum0 = rng.uniform(*climate.humidity_pct)
    humidity = np.clip(hum0 - 3 * frac + rng.normal(0, 0.5, n), 10, 100)
    pressure = rng.uniform(*climate.pressure_hpa) + rng.normal(0, 0.2, n)
    wind_ms = np.clip(rng.uniform(0.5, 5.0) + rng.normal(0, 0.6, n), 0.1, None)
    direction = (rng.uniform(0, 360) + np.cumsum(rng.normal(0, 4.0, n))) % 360

    def r(x: FloatArray, d: int = 1) -> FloatArray:
        return np.asarray(np.round(x, d), dtype=np.float64)

    # the station reports wind in tenths of m/s, the file in km/h (2.88, 5.04)
    wind_kph = np.round(wind_ms, 1) * 3.6
    return Weather(np.asarray(t, dtype=np.float64), r(air, 2), r(track), r(humidity, 2),
                   r(pressure), r(wind_kph, 2), r(direction, 0))


__all__ = ["CLIMATES", "WEATHER_STEP_S", "Climate", "Weather", "draw_weather"]
