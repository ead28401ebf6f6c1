"""What the car's sensors make of the true signals: noise, relations, faults.

Nothing a sensor reports is an exact function of another channel, as in the real files:

* every channel carries its own noise (accelerations a few hundredths of a g, the
  steering a few tenths of a degree, ...);
* the throttle blade ``ath`` follows the pedal ``aps`` through the car's own
  progressive, offset linkage, with a drive-by-wire lag of a few tens of milliseconds
  and a gain that wanders from lap to lap;
* the rear brake pressure equals the front one times the car's bias (the real Barber
  head reads rear/front 0.99 to 1.15 at low pressure) up to a proportioning knee, above
  which it rises more slowly; the bias wanders a little from lap to lap;
* a sensor fault (stuck, dropout, spike, drift) corrupts one channel over a few laps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from cognirace.sim.events import Fault

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

NOISE: dict[str, float] = {
    "speed": 0.15, "nmot": 12.0, "aps": 0.08, "ath": 0.1, "pbrake_f": 0.05,
    "pbrake_r": 0.05, "accx_can": 0.015, "accy_can": 0.012, "Steering_Angle": 0.25,
    "VBOX_Long_Minutes": 2e-6, "VBOX_Lat_Min": 2e-6,
}
"""Standard deviation of each channel's sensor noise, in the channel's unit."""

ATH_LAG_S = 0.04
"""Drive-by-wire lag of the throttle blade behind the pedal, s."""


@dataclass(frozen=True, slots=True)
class CarSensors:
    """One car's sensor characteristics.

    Attributes:
        ath_gain: Throttle blade opening per pedal travel at full travel.
        ath_offset: Blade opening with the pedal released, %.
        ath_gamma: Progression of the linkage (1 = linear).
        brake_bias: Rear over front pressure below the knee.
        brake_knee_bar: Front pressure above which the rear rises more slowly, bar.
        brake_slope: Rear rise per front rise above the knee.
    """

    ath_gain: float
    ath_offset: float
    ath_gamma: float
    brake_bias: float
    brake_knee_bar: float
    brake_slope: float

    @classmethod
    def draw(cls, rng: np.random.Generator) -> CarSensors:
        """A car's characteristics."""
        return cls(
            ath_gain=float(rng.uniform(0.95, 1.0)),
            ath_offset=float(rng.uniform(0.3, 2.0)),
            ath_gamma=float(rng.uniform(0.85, 1.1)),
            brake_bias=float(rng.uniform(0.98, 1.08)),
            brake_knee_bar=float(rng.uniform(25.0, 40.0)),
            brake_slope=float(rng.uniform(0.5, 0.75)),
        )


def _per_lap(laps: IntArray, sd: float, rng: np.random.Generator) -> FloatArray:
    """A factor around 1 drawn once per lap, for every sample."""
    n_laps = int(laps.max()) + 1 if len(laps) else 1
    return np.asarray(1.0 + rng.normal(0.0, sd, n_laps)[np.clip(laps, 0, n_laps - 1)])


def _lagged(x: FloatArray, hz: float, lag_s: float) -> FloatArray:
    """``x`` sampled at ``hz`` behind a short lag (a two-tap filter; none at low rates)."""
    alpha = 1.0 - float(np.exp(-1.0 / (hz * lag_s)))
    if alpha > 0.99 or len(x) < 2:
        return x
    prev = np.concatenate([x[:1], x[:-1]])
    return np.asarray(alpha * x + (1.0 - alpha) * prev)


def throttle_blade(aps: FloatArray, laps: IntArray, hz: float, car: CarSensors,
                   rng: np.random.Generator) -> FloatArray:
    """The blade opening the ECU makes of the pedal, %."""
    pedal = np.clip(aps, 0.0, 100.0) / 100.0
    gain = car.ath_gain * _per_lap(laps, 0.01, rng)
    blade = car.ath_offset + (100.0 - car.ath_offset) * gain * pedal**car.ath_gamma
    return np.clip(_lagged(blade, hz, ATH_LAG_S), 0.0, 100.03)


def brake_pressures(demand: FloatArray, laps: IntArray, car: CarSensors,
                    rng: np.random.Generator) -> tuple[FloatArray, FloatArray]:
    """Front and rear pressure from the driver's brake demand, bar."""
    front = np.maximum(demand, 0.0)
    bias = car.brake_bias * _per_lap(laps, 0.01, rng)
    knee = car.brake_knee_bar
    rear = np.where(front <= knee, front * bias,
                    knee * bias + (front - knee) * car.brake_slope * bias)
    return front, rear


def read_sensors(true: dict[str, FloatArray], laps: IntArray, hz: float, car: CarSensors,
                 rng: np.random.Generator) -> dict[str, FloatArray]:
    """Every channel as the sensors report it."""
    out = dict(true)
    out["ath"] = throttle_blade(true["ath"], laps, hz, car, rng)
    out["pbrake_f"], out["pbrake_r"] = brake_pressures(true["pbrake_f"], laps, car, rng)
    for name, sd in NOISE.items():
        x = out[name] + rng.normal(0.0, sd, len(out[name]))
        if name in ("pbrake_f", "pbrake_r"):
            x = np.where(out[name] > 0.5, np.maximum(x, 0.0), 0.0)  # released reads 0
        elif name == "aps":
            x = np.clip(x, 0.0, 100.0)  # the real Barber pedal never reads above 100
        elif name == "ath":
            x = np.clip(x, 0.0, 100.03)  # the real blade reads up to 100.03
        out[name] = x
    return out


def apply_sensor_fault(
    fault: Fault, t: FloatArray, laps: IntArray, values: dict[str, FloatArray],
    rng: np.random.Generator,
) -> None:
    """Corrupt the fault's channel over its laps (in place)."""
    span = (laps >= fault.start_lap) & (laps <= fault.end_lap)
    if not span.any():
        return
    name = fault.channels[0]
    x = values[name]
    where = np.nonzero(span)[0]
    if fault.kind == "stuck":
        x[where] = x[where[0]]
    elif fault.kind == "dropout":
        x[where] = np.nan
    elif fault.kind == "spike":
        hits = where[rng.random(len(where)) < 0.03]
        scale = max(float(np.nanmax(np.abs(x))), 1.0)
        x[hits] = x[hits] + rng.choice([-1.0, 1.0], len(hits)) * scale * rng.uniform(0.5, 1.0,
                                                                                     len(hits))
    elif fault.kind == "drift":
        scale = max(float(np.nanstd(x)), 1.0)
        x[where] = x[where] + fault.magnitude * scale * (t[where] - t[where[0]]) / 60.0


__all__ = ["NOISE", "CarSensors", "apply_sensor_fault", "brake_pressures", "read_sensors",
           "throttle_blade"]
