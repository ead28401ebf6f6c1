"""Sensor figures for ``calibrate.py``: noise, quantisation, calibration and relations.

Every figure is computed by the same code from a stretch of lake telemetry, real or
simulated: the real Barber Race 1 head (one car, 23 Hz, behind the pace car) and the
blade (``ath``) of the Sonoma and Road America heads (three samples each); simulated,
every car of a 23 Hz race over a lap at caution pace (the same stretch of it as the real
head for Barber; the whole lap for the blade).

* noise: the robust standard deviation (1.4826 x median absolute deviation) of second
  differences ``x[i] - (x[i-1] + x[i+1]) / 2`` over readings at most 0.1 s apart (0.5 s
  for the slow channels), which motion barely moves at these rates; brakes over braking
  readings only (all three above 0);
* tails: the plain over the robust standard deviation of the accelerometer's second
  differences (bumps and kerbs make it large);
* quantisation: the smallest step between two consecutive braking readings, and the
  share of consecutive readings that repeat exactly;
* calibration: the lowest brake reading above 0 (the transducers' dead band), the
  steering read going straight (lateral g under 0.05), one value per car;
* the blade: ``blade_noise`` over the four three-sample heads, at a steady blade;
* relation: rear brake pressure on front (front over 5 bar): slope, intercept and the
  residual's robust standard deviation.

A figure is ``in`` within its tolerance of the real one (a factor for noise-like figures,
an absolute difference for shares), ``near`` within twice it, ``OUT`` beyond; the
steering going straight, a per-car draw, is ``in`` when the real car's value lies
within the simulated cars' range widened by their standard deviation (twice: ``near``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl

FAST_GAP_S = 0.1
SLOW_GAP_S = 0.5
SLOW = ("speed_kph", "rpm")
BLADE_STEADY_PCT = 0.5
"""Largest change of the blade over two sample periods that counts as steady, %."""

TOLERANCE: dict[str, tuple[str, float]] = {
    "noise accx_g (g)": ("factor", 1.5), "noise accy_g (g)": ("factor", 1.5),
    "noise aps (%)": ("factor", 1.5), "noise ath (%)": ("factor", 1.5),
    "noise steering_deg (deg)": ("factor", 1.5), "noise speed_kph (km/h)": ("factor", 1.5),
    "noise rpm (rpm)": ("factor", 1.5), "noise pbrake_f braking (bar)": ("factor", 1.5),
    "noise pbrake_r braking (bar)": ("factor", 1.5), "tails accx_g (sd/robust)": ("factor", 1.5),
    "least brake step (bar)": ("factor", 1.5), "repeats pbrake_f braking": ("abs", 0.1),
    "repeats pbrake_r braking": ("abs", 0.1), "repeats steering_deg": ("abs", 0.1),
    "brake dead band (bar)": ("factor", 1.3), "rear on front: slope": ("abs", 0.08),
    "rear on front: intercept (bar)": ("abs", 0.4), "rear on front: residual (bar)":
        ("factor", 1.5),
}
"""How far from the real figure a simulated one is ``in`` (twice as far: ``near``)."""

STRAIGHT = "steering going straight (deg)"


def _robust_sd(x: np.ndarray) -> float:
    x = x[np.isfinite(x)]
    return float(1.4826 * np.median(np.abs(x - np.median(x)))) if len(x) else float("nan")


def _readings(tel: pl.DataFrame, channel: str) -> tuple[np.ndarray, np.ndarray]:
    got = tel.select("time", channel).drop_nulls().sort("time")
    return (got["time"].dt.epoch("ms").to_numpy() / 1000.0,
            got[channel].cast(pl.Float64).to_numpy())


def second_differences(tel: pl.DataFrame, channel: str, *, braking: bool = False,
                       steady: float | None = None) -> np.ndarray:
    """``x[i] - (x[i-1] + x[i+1]) / 2`` over consecutive close readings of a channel;
    ``braking`` keeps triples all above 0, ``steady`` those whose ends differ by less."""
    t, x = _readings(tel, channel)
    if len(x) < 3:
        return np.zeros(0)
    gap = SLOW_GAP_S if channel in SLOW else FAST_GAP_S
    close = (np.diff(t)[1:] <= gap) & (np.diff(t)[:-1] <= gap)
    if braking:
        close &= (x[:-2] > 0) & (x[1:-1] > 0) & (x[2:] > 0)
    if steady is not None:
        close &= np.abs(x[2:] - x[:-2]) < steady
    return np.asarray((x[1:-1] - (x[:-2] + x[2:]) / 2)[close])


def _repeats(x: np.ndarray, braking: bool) -> float:
    pairs = (x[1:] > 0) & (x[:-1] > 0) if braking else np.ones(len(x) - 1, dtype=bool)
    return float((np.diff(x)[pairs] == 0).mean()) if pairs.any() else float("nan")


def _brake_figures(tel: pl.DataFrame) -> dict[str, float]:
    both = tel.select("pbrake_f", "pbrake_r").drop_nulls()
    f, r = both["pbrake_f"].to_numpy(), both["pbrake_r"].to_numpy()
    out: dict[str, float] = {}
    _, front = _readings(tel, "pbrake_f")
    steps = np.abs(np.diff(front))[(front[1:] > 0) & (front[:-1] > 0)]
    out["least brake step (bar)"] = float(steps[steps > 1e-9].min()) if (steps > 1e-9).any() \
        else float("nan")
    for name in ("pbrake_f", "pbrake_r"):
        _, x = _readings(tel, name)
        out[f"repeats {name} braking"] = _repeats(x, braking=True)
    low = np.concatenate([f[f > 0], r[r > 0]])
    out["brake dead band (bar)"] = float(low.min()) if len(low) else float("nan")
    hard = f > 5
    if hard.sum() >= 10:
        slope, intercept = np.polyfit(f[hard], r[hard], 1)
        out["rear on front: slope"] = float(slope)
        out["rear on front: intercept (bar)"] = float(intercept)
        out["rear on front: residual (bar)"] = _robust_sd(r[hard] - slope * f[hard] - intercept)
    return out


def sensor_figures(tel: pl.DataFrame) -> dict[str, float]:
    """Every figure of one car's stretch of telemetry (lake schema); NaN if unmeasured."""
    out: dict[str, float] = {}
    units = {"accx_g": "g", "accy_g": "g", "aps": "%", "ath": "%", "steering_deg": "deg",
             "speed_kph": "km/h", "rpm": "rpm"}
    for channel, unit in units.items():
        if channel in tel.columns and tel[channel].drop_nulls().len() >= 3:
            out[f"noise {channel} ({unit})"] = _robust_sd(second_differences(tel, channel))
    for name in ("pbrake_f", "pbrake_r"):
        out[f"noise {name} braking (bar)"] = _robust_sd(
            second_differences(tel, name, braking=True))
    d2 = second_differences(tel, "accx_g")
    out["tails accx_g (sd/robust)"] = float(np.std(d2)) / _robust_sd(d2) if len(d2) else np.nan
    _, steer = _readings(tel, "steering_deg")
    out["repeats steering_deg"] = _repeats(steer, braking=False) if len(steer) > 1 else np.nan
    out |= _brake_figures(tel)
    straight = tel.filter((pl.col("accy_g").abs() < 0.05) & pl.col("steering_deg").is_not_null())
    out[STRAIGHT] = float(straight["steering_deg"].median()) if straight.height else np.nan
    return out


def blade_noise(heads: Sequence[pl.DataFrame]) -> float:
    """The blade's noise over short heads: the mean absolute second difference at a
    steady blade times sqrt(pi / 2), the standard deviation it implies for normal noise
    (the real heads hold three samples each, one difference apiece, too few for a
    median; each is at a steady blade, its ends 0.02 to 0.12 % apart)."""
    d2 = [second_differences(h, "ath", steady=BLADE_STEADY_PCT) for h in heads
          if "ath" in h.columns]
    both = np.concatenate(d2) if d2 else np.zeros(0)
    return float(np.mean(np.abs(both)) * np.sqrt(np.pi / 2)) if len(both) else float("nan")


def _status(name: str, real: float, sims: list[float]) -> str:
    if not np.isfinite(real) or not sims:
        return "-"
    if name == STRAIGHT:  # one draw of a per-car offset: inside the cars' spread?
        lo, hi, sd = min(sims), max(sims), float(np.std(sims))
        return "in" if lo - sd <= real <= hi + sd else \
            "near" if lo - 2 * sd <= real <= hi + 2 * sd else "OUT"
    value = float(np.median(sims))
    kind, tol = TOLERANCE[name]
    if kind == "factor":
        ratio = value / real if real > 0 else float("inf")
        return "in" if 1 / tol <= ratio <= tol else \
            "near" if 1 / tol**2 <= ratio <= tol**2 else "OUT"
    gap = abs(value - real)
    return "in" if gap <= tol else "near" if gap <= 2 * tol else "OUT"


def print_sensors(real: dict[str, float], sims: list[dict[str, float]]) -> dict[str, int]:
    """Real figure beside the simulated cars' median and range; returns status counts."""
    counts = {"in": 0, "near": 0, "OUT": 0}
    print(f"\n{'sensor figure':<34}{'real':>10}{'sim median':>12}{'sim cars':>22}  status")
    for name in [*TOLERANCE, STRAIGHT]:
        values = [s[name] for s in sims if np.isfinite(s.get(name, np.nan))]
        r = real.get(name, float("nan"))
        status = _status(name, r, values)
        if status in counts:
            counts[status] += 1
        med = f"{np.median(values):.4g}" if values else "-"
        span = f"{min(values):.4g}..{max(values):.4g}" if values else "-"
        print(f"{name:<34}{r:>10.4g}{med:>12}{span:>22}  {status}")
    return counts


__all__ = ["blade_noise", "print_sensors", "second_differences", "sensor_figures"]
