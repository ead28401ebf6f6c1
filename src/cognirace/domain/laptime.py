"""Lap and race times as the timing files write them (``m:ss.fff``, ``h:mm:ss.fff``)."""

from __future__ import annotations

import math
import re

_TIME = re.compile(r"^\s*\+?(?:(\d+):)??(?:(\d+):)?(\d+(?:\.\d*)?)\s*$")


def parse_duration_s(text: str | None) -> float | None:
    """Parse ``ss.fff``, ``m:ss.fff`` or ``h:mm:ss.fff`` into seconds.

    ``None``, empty strings and ``-`` mean missing and give ``None``. A leading ``+``
    (gap columns) is allowed.

    Raises:
        ValueError: when the text is not a duration.
    """
    if text is None:
        return None
    s = text.strip()
    if s in ("", "-"):
        return None
    m = _TIME.match(s)
    if m is None:
        raise ValueError(f"not a duration: {text!r} (expected m:ss.fff)")
    hours, minutes, seconds = m.groups()
    total = float(seconds)
    if minutes is not None:
        total += 60.0 * int(minutes)
    if hours is not None:
        total += 3600.0 * int(hours)
    return total


def format_duration(seconds: float, *, hours: bool = False) -> str:
    """Write seconds the way the timing files do: ``1:40.409`` or ``45:30.850``.

    Args:
        seconds: Non-negative duration in seconds.
        hours: Write ``h:mm:ss.fff`` when the duration reaches an hour.
    """
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"cannot format duration {seconds!r}")
    millis = round(seconds * 1000)
    h, rem = divmod(millis, 3_600_000)
    m, rem = divmod(rem, 60_000)
    s, ms = divmod(rem, 1000)
    if hours and h:
        return f"{h}:{m:02d}:{s:02d}.{ms:03d}"
    return f"{m + 60 * h}:{s:02d}.{ms:03d}"


__all__ = ["format_duration", "parse_duration_s"]
