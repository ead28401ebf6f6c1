"""How the car's logger stamps, streams and stores its samples, as the real files show.

Measured on the real Barber Race 1 head (10,000 rows of one car) and the 20-row Sonoma
and Road America heads:

* ``timestamp`` is the ECU's per-sample clock: samples 42 to 46 ms apart at the full
  rate (a millisecond or two of jitter, now and then a sample missing), set a constant
  offset behind real time (1 day 18 h 12 min at Barber Race 1, 1.7 to 3.3 days over the
  heads; it differs per car and race and holds within 0.1 s over a race).
* ``meta_time`` is when the stream's receiver got a batch: every 1 to 2.5 s (now and
  then after a hiccup of several seconds) it takes what has arrived and stores it as
  batches of one to about eighteen samples, stamped a millisecond apart; a sample's
  ``meta_time`` lies 0 to 6 s after it was taken, so only 178 distinct values stamp
  10,000 rows.
* ``speed``, ``nmot`` and ``Laptrigger_lapdist_dls`` come on one sample in five at the
  full rate (lap distance and rpm on one, speed on the next); the other channels on
  every sample, in a fixed order.
* A few samples are sent twice, in consecutive batches.
* The file is not in time order: stretches of tens of seconds are stored newest first.
* Values are the logger's scaled integers as floats (``0.34600000000000003``), GPS
  single-precision floats printed as doubles (``-86.61963653564453``), integral values
  without a decimal point (``100``, ``3``).

Everything here works on one car's samples at a time with NumPy; nothing is random
except through the ``rng`` passed in.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

FULL_RATE_HZ = 23.0
"""The real logger's sample rate (samples mostly 42 to 45 ms apart)."""

SLOW_CHANNEL_HZ = FULL_RATE_HZ / 5
"""Rate of the channels that come on one sample in five at the full rate."""

SLOW_PAIR = ("Laptrigger_lapdist_dls", "nmot")
"""Slow channels logged together on one sample."""

SLOW_SINGLE = ("speed",)
"""Slow channel logged on the sample after ``SLOW_PAIR``."""

WRITE_ORDER: tuple[str, ...] = (
    "accx_can", "accy_can", "aps", "ath", "pbrake_r", "pbrake_f", "gear",
    "VBOX_Long_Minutes", "VBOX_Lat_Min", "Steering_Angle", "Laptrigger_lapdist_dls",
    "nmot", "speed",
)
"""Order of the channels within a sample, as the real files write them."""

JITTER_MS = 0.9
"""Half-width of the ECU sample clock's jitter, ms."""

P_SAMPLE_MISSING = 0.01
"""Share of samples the logger drops (a gap of two periods in the ECU clock)."""

FLUSH_S = (1.0, 2.5)
"""Bounds of the interval between two receiver flushes, s."""

P_HICCUP = 0.08
"""Probability that a flush comes after a hiccup instead."""

HICCUP_S = (3.0, 6.0)
"""Bounds of the interval after a hiccup, s."""

TRANSIT_S = 0.03
"""Least time between a sample and the flush that receives it, s."""

BATCH_SAMPLES = 6.0
"""Mean samples of one batch within a flush (the real head: 178 batches, 1,021 samples)."""

PAGE_S = (20.0, 60.0)
"""Bounds of a stretch of the file stored in one order, s of ``meta_time``."""

RESOLUTION: dict[str, float] = {
    "speed": 0.01, "aps": 0.01, "ath": 0.01, "pbrake_f": 0.005, "pbrake_r": 0.005,
    "accx_can": 0.001, "accy_can": 0.001, "Steering_Angle": 0.1,
}
"""Scale of the logger's integer counts per channel; values are ``count * scale``."""

INTEGER_CHANNELS = frozenset({"gear", "nmot", "Laptrigger_lapdist_dls"})
"""Channels logged as whole numbers."""

SINGLE_CHANNELS = frozenset({"VBOX_Long_Minutes", "VBOX_Lat_Min"})
"""Channels logged as single-precision floats."""


def slow_every(hz: float) -> int:
    """Samples per slow-channel period at ``hz`` (1 at low rates: every sample has all)."""
    return max(1, round(hz / SLOW_CHANNEL_HZ))


def carries(name: str, n_samples: int, hz: float) -> BoolArray:
    """Which of ``n_samples`` consecutive samples carry channel ``name``."""
    every = slow_every(hz)
    if every == 1 or (name not in SLOW_PAIR and name not in SLOW_SINGLE):
        return np.ones(n_samples, dtype=bool)
    phase = 0 if name in SLOW_PAIR else 1
    return np.asarray((np.arange(n_samples) % every) == phase, dtype=bool)


def logged_values(name: str, values: FloatArray) -> FloatArray:
    """Values as the logger stores them: scaled counts, whole numbers or float32."""
    if name in INTEGER_CHANNELS:
        return np.round(values)
    if name in SINGLE_CHANNELS:
        return values.astype(np.float32).astype(np.float64)
    scale = RESOLUTION.get(name)
    if scale is None:
        return values
    return np.round(values / scale) * scale


def ecu_jitter_ms(n_samples: int, rng: np.random.Generator) -> FloatArray:
    """Jitter of the ECU sample clock, ms."""
    return rng.uniform(-JITTER_MS, JITTER_MS, n_samples)


def kept_samples(n_samples: int, rng: np.random.Generator) -> BoolArray:
    """Samples the logger did not drop."""
    return rng.random(n_samples) >= P_SAMPLE_MISSING


@dataclass(frozen=True, slots=True)
class Stream:
    """Samples as the receiver stored them, duplicates included.

    Attributes:
        sample: Index of the sample each stored copy holds.
        meta_offset_ms: ``meta_time`` of each copy, ms after the green flag.
    """

    sample: IntArray
    meta_offset_ms: IntArray


def _flush_times_s(t_end_s: float, t_start_s: float, rng: np.random.Generator) -> FloatArray:
    n = int((t_end_s - t_start_s) / FLUSH_S[0]) + 8
    gaps = rng.uniform(*FLUSH_S, n)
    hiccup = rng.random(n) < P_HICCUP
    gaps = np.where(hiccup, rng.uniform(*HICCUP_S, n), gaps)
    return t_start_s + rng.uniform(0.0, FLUSH_S[1]) + np.cumsum(gaps)


def batch(t_s: FloatArray, p_resent: float, rng: np.random.Generator) -> Stream:
    """Give each sample a ``meta_time`` and add the copies sent twice.

    Args:
        t_s: Real time of each sample since the green flag, s, ascending.
        p_resent: Probability that a sample is sent again in the next batch.
        rng: Generator.

    Returns:
        Every stored copy, ascending in ``meta_time``.
    """
    n = len(t_s)
    if n == 0:
        return Stream(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))
    flushes = _flush_times_s(float(t_s[-1]) + TRANSIT_S, float(t_s[0]), rng)
    flush_of = np.searchsorted(flushes, t_s + TRANSIT_S, side="left")
    p_break = 1.0 / BATCH_SAMPLES
    new_flush = np.concatenate([[True], flush_of[1:] != flush_of[:-1]])
    breaks = new_flush | (rng.random(n) < p_break)
    batch_no = np.cumsum(breaks) - 1
    first_of_flush = np.maximum.accumulate(np.where(new_flush, batch_no, 0))
    meta_ms = np.round(flushes[flush_of] * 1000).astype(np.int64) + (batch_no - first_of_flush)
    sample = np.arange(n, dtype=np.int64)
    resent = np.nonzero(rng.random(n) < p_resent)[0]
    resent = resent[resent < n - 1]
    if len(resent):
        # sent again with the batch that holds the next sample (or a millisecond later)
        again = np.maximum(meta_ms[resent + 1], meta_ms[resent] + 1)
        sample = np.concatenate([sample, resent])
        meta_ms = np.concatenate([meta_ms, again])
        order = np.lexsort((sample, meta_ms))
        sample, meta_ms = sample[order], meta_ms[order]
    return Stream(sample, meta_ms)


def file_order(meta_ms: IntArray, p_reversed: float, rng: np.random.Generator) -> IntArray:
    """Order of stored copies in the file: pages of ``PAGE_S``, some stored newest first.

    ``meta_ms`` must be ascending; returns a permutation of its indices.
    """
    n = len(meta_ms)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    span_s = (meta_ms[-1] - meta_ms[0]) / 1000.0
    count = int(span_s / PAGE_S[0]) + 2
    edges = meta_ms[0] + np.round(np.cumsum(rng.uniform(*PAGE_S, count)) * 1000)
    page = np.searchsorted(edges, meta_ms, side="right")
    reversed_page = rng.random(count + 1) < p_reversed
    position = np.arange(n, dtype=np.int64)
    key = np.where(reversed_page[page], -position, position)
    return np.lexsort((key, page)).astype(np.int64)


__all__ = [
    "FULL_RATE_HZ",
    "RESOLUTION",
    "WRITE_ORDER",
    "Stream",
    "batch",
    "carries",
    "ecu_jitter_ms",
    "file_order",
    "kept_samples",
    "logged_values",
    "slow_every",
]
