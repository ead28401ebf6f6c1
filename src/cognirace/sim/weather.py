"""Weather of a race: air and track temperature drifting over the race, one row a minute."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

_CLIMATE_AIR_C = {
    "barber": 30.0, "cota": 31.0, "indianapolis": 27.0, "road_america": 24.0,
    "sebring": 28.0, "sonoma": 23.0, "vir": 26.0,
}


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
    """Draw a race's weather: a random base, a linear drift and small noise."""
    n = int(duration_s // 60) + 8
    t = np.arange(n) * 60.0
    frac = t / max(t[-1], 1.0)
    air0 = _CLIMATE_AIR_C.get(track_key, 26.0) + rng.normal(0, 3.0)
    air = air0 + rng.normal(0, 1.5) * frac + rng.normal(0, 0.15, n)
    sun = rng.uniform(6.0, 20.0)
    track = air + sun + rng.normal(0, 3.0) * frac + rng.normal(0, 0.3, n)
    humidity = np.clip(rng.uniform(35, 80) - 5 * frac + rng.normal(0, 0.5, n), 10, 100)
    pressure = rng.uniform(985, 1020) + rng.normal(0, 0.2, n)
    wind = np.clip(rng.uniform(2, 18) + rng.normal(0, 2.0, n), 0, None)
    direction = (rng.uniform(0, 360) + np.cumsum(rng.normal(0, 4.0, n))) % 360
    def r(x: FloatArray, d: int = 1) -> FloatArray:
        return np.asarray(np.round(x, d), dtype=np.float64)

    return Weather(np.asarray(t, dtype=np.float64), r(air), r(track), r(humidity), r(pressure),
                   r(wind), r(direction, 0))


__all__ = ["Weather", "draw_weather"]
