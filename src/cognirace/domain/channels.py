"""Telemetry channels: the names in the real files and the lake's names with units.

The real telemetry is long format, one row per channel per sample; ``telemetry_name``
holds the names on the left. The lake stores one column per channel, named with its
unit. GPS channels are degrees despite their ``Minutes``/``Min`` names.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Channel:
    """One telemetry channel.

    Attributes:
        raw: Name in the ``telemetry_name`` column of the real files.
        column: Column name in the lake.
        unit: Physical unit (empty for dimensionless).
        low: Lowest physically plausible value.
        high: Highest physically plausible value.
        optional: Present only at some tracks (``ath``, GPS).
    """

    raw: str
    column: str
    unit: str
    low: float
    high: float
    optional: bool = False


FULL_SCALE_PCT = 105.0
"""Highest plausible pedal or blade reading, %: a full reading can sit a little above 100
(the real blade reads up to 100.03 at Sonoma and Road America)."""

CHANNELS: tuple[Channel, ...] = (
    Channel("speed", "speed_kph", "km/h", 0.0, 300.0),
    Channel("gear", "gear", "", 0.0, 6.0),
    Channel("nmot", "rpm", "rpm", 0.0, 9000.0),
    Channel("aps", "aps", "%", 0.0, FULL_SCALE_PCT),
    Channel("ath", "ath", "%", 0.0, FULL_SCALE_PCT, optional=True),
    Channel("pbrake_f", "pbrake_f", "bar", 0.0, 200.0),
    Channel("pbrake_r", "pbrake_r", "bar", 0.0, 200.0),
    Channel("accx_can", "accx_g", "g", -3.0, 3.0),
    Channel("accy_can", "accy_g", "g", -3.0, 3.0),
    Channel("Steering_Angle", "steering_deg", "deg", -720.0, 720.0),
    Channel("VBOX_Lat_Min", "lat", "deg", -90.0, 90.0, optional=True),
    Channel("VBOX_Long_Minutes", "lon", "deg", -180.0, 180.0, optional=True),
    Channel("Laptrigger_lapdist_dls", "lap_dist_m", "m", 0.0, 10_000.0),
)

CHANNEL_BY_RAW: dict[str, Channel] = {c.raw: c for c in CHANNELS}
"""Look up a channel by its name in the real files."""

CHANNEL_BY_COLUMN: dict[str, Channel] = {c.column: c for c in CHANNELS}
"""Look up a channel by its lake column name."""

LAP_NUMBER_SENTINEL = 32768
"""Lap number the logger writes when it lost count; recovered during ingest."""

__all__ = ["CHANNELS", "CHANNEL_BY_COLUMN", "CHANNEL_BY_RAW", "FULL_SCALE_PCT",
           "LAP_NUMBER_SENTINEL", "Channel"]
