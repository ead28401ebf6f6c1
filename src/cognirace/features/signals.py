"""How features read the telemetry channels: the track's throttle, and slow channels.

Two facts of the real logger shape every telemetry feature:

* **The throttle has two names.** Barber and Indianapolis log the accelerator pedal
  ``aps``; COTA, Road America, Sebring, Sonoma and VIR log only the throttle blade
  ``ath`` (``cognirace.domain.tracks``). Both are 0..100 % and both read 95 to 100 % with
  the car flat out, but they are different signals: the blade follows the pedal through
  the drive-by-wire linkage, offset, progressive and a few tens of milliseconds late.
  Features therefore read one ``throttle_pct``: the pedal where the group of samples
  (a lap, a window) holds any pedal reading, else the blade, and record which one in
  ``throttle_source`` so a model (or a reader) can tell them apart. A group holding
  neither has no throttle (null), never a zero.
* **Channels come at different rates.** At the full rate (about 20 Hz) ``speed``,
  ``nmot`` (rpm) and ``Laptrigger_lapdist_dls`` come on about one sample in four or
  five, on different samples; the rest on every sample. A feature that combines
  channels sample by sample (pressure x speed, throttle x revs, revs / speed) reads each
  one ``interpolated``: linear in time between the readings around each sample (the
  signals are smooth at that scale, and holding the last reading would lag a braking
  car's speed by up to a fifth of a second), the nearest reading before the group's
  first reading or after its last. Readings more than ``HOLD_S`` apart bound a dropout,
  which stays null, so no feature fills a missing channel with a made-up value.

Every expression works on samples sorted by time within the group, and takes the group
as ``over`` (empty for a frame that is one group already, as a live window or lap is),
so a group gives the same bits alone or among a season's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import polars as pl

FULL_THROTTLE_PCT = 90.0
"""Throttle (%) from which a sample counts as flat out, pedal or blade alike: a car flat
out reads 95 to 100 % on either (the blade's linkage can stop a few % short of the
pedal's travel), part-throttle cornering stays well below."""

HOLD_S = 2.5
"""Longest gap (s) between a channel's readings that ``interpolated`` bridges: readings
come every 0.05 to 0.25 s at the full rate, every 0.5 s at the demo's 2 Hz and every
second at 1 Hz, so a gap over 2.5 s is more than a missed reading or two at any of these
rates: a dropout. (A missed reading also happens where the ingest set an out-of-range
value missing, e.g. a throttle logged just above 100 %.)"""

THROTTLE_CHANNELS: tuple[str, ...] = ("aps", "ath")
"""Throttle channels in order of preference: the pedal, else the blade."""

THROTTLE_SOURCE = "throttle_source"
"""Column naming the channel ``throttle_pct`` came from (``aps``, ``ath`` or null)."""


def _over(expr: pl.Expr, over: Sequence[str]) -> pl.Expr:
    """``expr`` per group, or over the whole frame when ``over`` is empty."""
    return expr.over(list(over)) if over else expr


def reading(channel: str) -> pl.Expr:
    """A channel as float with NaN as null: a dropout may be written either way."""
    return pl.col(channel).cast(pl.Float64).fill_nan(None)


def throttle_source(over: Sequence[str] = ()) -> pl.Expr:
    """``"aps"`` where the group has a pedal reading, else ``"ath"`` where it has a blade
    reading, else null (the group has no throttle at all)."""
    has = {c: _over(reading(c).count(), over) > 0 for c in THROTTLE_CHANNELS}
    return (pl.when(has["aps"]).then(pl.lit("aps"))
            .when(has["ath"]).then(pl.lit("ath"))
            .otherwise(pl.lit(None, dtype=pl.String)))


def throttle_pct(over: Sequence[str] = ()) -> pl.Expr:
    """The group's throttle channel, sample by sample (see ``throttle_source``), %."""
    source = throttle_source(over)
    return (pl.when(source == "aps").then(reading("aps"))
            .when(source == "ath").then(reading("ath"))
            .otherwise(None))


def _micros(delta: pl.Expr) -> pl.Expr:
    return delta.dt.total_microseconds().cast(pl.Float64)


def interpolated(value: pl.Expr, over: Sequence[str] = ()) -> pl.Expr:
    """``value`` on every sample: linear in time between the readings around it when they
    are at most ``HOLD_S`` apart; before the group's first reading and after its last,
    the nearest reading within ``HOLD_S``; null in a longer gap (a dropout).

    Args:
        value: A per-sample expression, null where the sample carries no reading.
        over: The group's key columns; samples must be sorted by ``time`` within it.
    """
    stamped = pl.when(value.is_not_null()).then(pl.col("time"))
    return _between(value, _over(stamped.forward_fill(), over),
                    _over(stamped.backward_fill(), over),
                    _over(value.forward_fill(), over), _over(value.backward_fill(), over))


def interpolation_steps(values: Mapping[str, pl.Expr], over: Sequence[str] = ()
                        ) -> tuple[list[pl.Expr], list[pl.Expr], list[pl.Expr]]:
    """``interpolated`` of each named value, as three layers of columns added in turn.

    The first two layers add working columns (``_i<k>_<name>``), the third each value's
    interpolation under its name. The arithmetic is ``interpolated``'s, so the bits are
    the same; what changes is the size of the query: one nested expression per channel
    repeats the value and its fills in every branch, and a query's planning grows with
    its expressions, which on a lap's or a window's few thousand samples is most of its
    cost (a lap's style samples take 2.6x less time this way).

    Args:
        values: Output name to a per-sample expression, null where a sample carries no
            reading.
        over: As ``interpolated``.
    """
    first, second, third = [], [], []
    for name, value in values.items():
        v, stamped = f"_i0_{name}", f"_i1_{name}"
        first += [value.alias(v), pl.when(value.is_not_null()).then(pl.col("time"))
                  .alias(stamped)]
        fills = {f"_i{k}_{name}": _over(fill, over) for k, fill in (
            (2, pl.col(stamped).forward_fill()), (3, pl.col(stamped).backward_fill()),
            (4, pl.col(v).forward_fill()), (5, pl.col(v).backward_fill()))}
        second += [fill.alias(column) for column, fill in fills.items()]
        third.append(_between(pl.col(v), *(pl.col(c) for c in fills)).alias(name))
    return first, second, third


def _between(value: pl.Expr, prev_t: pl.Expr, next_t: pl.Expr, prev_v: pl.Expr,
             next_v: pl.Expr) -> pl.Expr:
    """The interpolation from a value's readings around each sample (its time and
    value before and after, within the group)."""
    time = pl.col("time")
    hold_us = HOLD_S * 1e6
    span_us = _micros(next_t - prev_t)
    share = _micros(time - prev_t) / span_us
    return (pl.when(value.is_not_null()).then(value)
            .when(span_us <= hold_us).then(prev_v + (next_v - prev_v) * share)
            .when(next_t.is_null() & (_micros(time - prev_t) <= hold_us)).then(prev_v)
            .when(prev_t.is_null() & (_micros(next_t - time) <= hold_us)).then(next_v))


__all__ = [
    "FULL_THROTTLE_PCT",
    "HOLD_S",
    "THROTTLE_CHANNELS",
    "THROTTLE_SOURCE",
    "interpolated",
    "interpolation_steps",
    "reading",
    "throttle_pct",
    "throttle_source",
]
