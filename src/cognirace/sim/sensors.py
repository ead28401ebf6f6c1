"""What the car's sensors make of the true signals: noise, calibration, relations, faults.

Nothing a sensor reports is an exact function of another channel, as in the real files.
Every figure below is measured on the real Barber Race 1 head (23 Hz, one car behind
the pace car) or the Sonoma and Road America heads; ``bench/calibrate.py`` prints the
simulated figure beside the real one.

* **Noise.** Each channel carries its own sample-to-sample noise: the robust standard
  deviation of second differences reads 0.024 g on ``accx_can``, 0.020 g on
  ``accy_can``, 0.2 % on the pedal, 0.02 to 0.035 % on the blade, 0.22 degrees on the
  steering, 0.3 km/h on the speed. The accelerometers' noise is heavy-tailed (bumps and
  kerbs: the plain standard deviation is twice the robust one), drawn from Student's t.
* **Calibration.** Each car's sensors sit a little off: the accelerometers a
  hundredth of a g or two (a mounting tilt), the steering zero a few degrees (the real
  car reads +3.7 degrees going straight), the wheel-speed a few per mille (the rolling
  radius), each brake transducer its own gain; a pressure under the transducer's dead
  band (about 2 bar: the real head never reads between 0 and 1.86 bar) reads 0.
* **Quantisation.** The brake transducers' converter steps about 0.03 bar (the real
  readings at steady pressure step by 0.03 to 0.035 bar, written to 0.005 bar); the
  logger's own resolution (``logger.RESOLUTION``) rounds the rest.
* **Relations.** The throttle blade ``ath`` follows the pedal ``aps`` through the car's
  own progressive, offset linkage, with a drive-by-wire lag of a few tens of
  milliseconds and a gain that wanders from lap to lap (no real track logs both, so the
  relation is the car's, not measured). The rear brake pressure equals the front one
  times the car's bias (the real head: rear = 0.98 front + 0.39 bar, residual 0.21 bar,
  rear/front 0.99 to 1.15) up to a proportioning knee, above which it rises more slowly;
  the bias wanders a little from lap to lap.
* **Faults.** A sensor fault (stuck, dropout, spike, drift) corrupts one channel over a
  few laps, on the signal before the converter, as a failing sensor would.

The chain is ``read_sensors`` (relations and noise on the analog signal), then any
``apply_sensor_fault``, then ``digitise`` (calibration, dead band, converter).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from cognirace.sim.events import Fault

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

NOISE: dict[str, float] = {
    "speed": 0.2, "nmot": 30.0, "aps": 0.16, "ath": 0.018, "pbrake_f": 0.15,
    "pbrake_r": 0.15, "accx_can": 0.017, "accy_can": 0.015, "Steering_Angle": 0.17,
    "VBOX_Long_Minutes": 2e-6, "VBOX_Lat_Min": 2e-6,
}
"""Robust standard deviation (1.4826 x median absolute deviation) of each channel's
sensor noise, in the channel's unit."""

HEAVY_TAILED = frozenset({"accx_can", "accy_can"})
"""Channels whose noise is Student's t with ``TAIL_DF`` degrees of freedom."""

TAIL_DF = 3.0
"""Degrees of freedom of the heavy-tailed noise: its standard deviation is about 1.5 times
the robust one (the real accelerometers' second differences: 2.5 times, bumps and the
car's own motion together)."""

TAIL_CLIP = 8.0
"""The heavy-tailed noise is bounded at this many robust standard deviations (a bump
moves the accelerometer by 0.15 g at most)."""

_T_ROBUST_SD = 1.1341
"""1.4826 x the median absolute value of Student's t with 3 degrees of freedom."""

ATH_LAG_S = 0.04
"""Drive-by-wire lag of the throttle blade behind the pedal, s."""

REAR_LAG_S = 0.04
"""Lag of the rear brake pressure behind the front, s."""

BRAKE_ADC_BAR = 0.0305
"""Step of the brake transducers' converter, bar."""

BRAKE_CHANNELS = ("pbrake_f", "pbrake_r")


@dataclass(frozen=True, slots=True)
class CarSensors:
    """One car's sensor characteristics and calibration.

    Attributes:
        ath_gain: Throttle blade opening per pedal travel at full travel.
        ath_offset: Blade opening with the pedal released, %.
        ath_gamma: Progression of the linkage (1 = linear).
        brake_bias: Rear over front pressure below the knee.
        brake_knee_bar: Front pressure above which the rear rises more slowly, bar.
        brake_slope: Rear rise per front rise above the knee.
        speed_gain: Reported over true wheel speed (the rolling radius' error).
        accx_offset_g: Longitudinal accelerometer zero, g.
        accy_offset_g: Lateral accelerometer zero, g.
        steering_offset_deg: Steering angle read with the wheels straight, degrees.
        understeer_deg_per_g: Steering the car's setup adds per g of lateral
            acceleration, degrees (a chassis figure, not a sensor's, but it is what
            makes the steering-to-lateral-g relation each car's own).
        brake_gain_f: Front transducer's reading per true bar.
        brake_gain_r: Rear transducer's reading per true bar.
        brake_offset_f_bar: Front transducer's zero error, bar (the real car's rear reads
            0.4 bar over its front at low pressure).
        brake_offset_r_bar: Rear transducer's zero error, bar.
        brake_deadband_bar: Pressure under which the transducers read 0, bar.
    """

    ath_gain: float
    ath_offset: float
    ath_gamma: float
    brake_bias: float
    brake_knee_bar: float
    brake_slope: float
    speed_gain: float = 1.0
    accx_offset_g: float = 0.0
    accy_offset_g: float = 0.0
    steering_offset_deg: float = 0.0
    understeer_deg_per_g: float = 0.0
    brake_gain_f: float = 1.0
    brake_gain_r: float = 1.0
    brake_offset_f_bar: float = 0.0
    brake_offset_r_bar: float = 0.0
    brake_deadband_bar: float = 0.5

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
            speed_gain=float(1.0 + np.clip(rng.normal(0.0, 0.004), -0.008, 0.008)),
            accx_offset_g=float(rng.normal(0.0, 0.012)),
            accy_offset_g=float(rng.normal(0.0, 0.012)),
            steering_offset_deg=float(rng.normal(0.0, 3.0)),
            understeer_deg_per_g=float(rng.uniform(2.0, 12.0)),
            brake_gain_f=float(rng.normal(1.0, 0.02)),
            brake_gain_r=float(rng.normal(1.0, 0.02)),
            brake_offset_f_bar=float(rng.normal(0.0, 0.25)),
            brake_offset_r_bar=float(rng.normal(0.0, 0.25)),
            brake_deadband_bar=float(rng.uniform(1.6, 2.3)),
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


def lag_rear(rear: FloatArray, hz: float) -> FloatArray:
    """The rear circuit's pressure a little behind the front's (longer lines and the
    proportioning valve): at the real head's onsets and releases the rear trails by a
    sample or two."""
    return _lagged(rear, hz, REAR_LAG_S)


def noise(name: str, n: int, rng: np.random.Generator) -> FloatArray:
    """``n`` draws of channel ``name``'s sensor noise (robust sd ``NOISE[name]``)."""
    sd = NOISE[name]
    if name in HEAVY_TAILED:
        t = np.clip(rng.standard_t(TAIL_DF, n) / _T_ROBUST_SD, -TAIL_CLIP, TAIL_CLIP)
        return np.asarray(t * sd)
    return rng.normal(0.0, sd, n)


def read_sensors(true: dict[str, FloatArray], laps: IntArray, hz: float, car: CarSensors,
                 rng: np.random.Generator) -> dict[str, FloatArray]:
    """Every channel's analog signal: the car's relations, then each channel's noise."""
    out = dict(true)
    out["ath"] = throttle_blade(true["ath"], laps, hz, car, rng)
    out["pbrake_f"], out["pbrake_r"] = brake_pressures(true["pbrake_f"], laps, car, rng)
    out["pbrake_r"] = lag_rear(out["pbrake_r"], hz)
    for name in NOISE:
        x = out[name] + noise(name, len(out[name]), rng)
        if name == "aps":
            x = np.clip(x, 0.0, 100.0)  # the real Barber pedal never reads above 100
        elif name == "ath":
            x = np.clip(x, 0.0, 100.03)  # the real blade reads up to 100.03
        out[name] = x
    return out


def digitise(values: dict[str, FloatArray], car: CarSensors) -> dict[str, FloatArray]:
    """What the car's converters report of the analog signals (see the module doc):
    calibration offsets and gains, the brakes' dead band and converter step."""
    out = dict(values)
    out["speed"] = np.maximum(values["speed"] * car.speed_gain, 0.0)
    out["accx_can"] = values["accx_can"] + car.accx_offset_g
    out["accy_can"] = values["accy_can"] + car.accy_offset_g
    out["Steering_Angle"] = values["Steering_Angle"] + car.steering_offset_deg
    for name, gain, offset in zip(BRAKE_CHANNELS, (car.brake_gain_f, car.brake_gain_r),
                                  (car.brake_offset_f_bar, car.brake_offset_r_bar),
                                  strict=True):
        x = values[name] * gain + offset
        counts = np.round(np.maximum(x, 0.0) / BRAKE_ADC_BAR)
        read = np.where(x < car.brake_deadband_bar, 0.0, counts * BRAKE_ADC_BAR)
        out[name] = np.where(np.isnan(x), np.nan, read)  # a dropout stays missing
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


__all__ = ["BRAKE_ADC_BAR", "HEAVY_TAILED", "NOISE", "CarSensors", "apply_sensor_fault",
           "brake_pressures", "digitise", "lag_rear", "noise", "read_sensors",
           "throttle_blade"]
