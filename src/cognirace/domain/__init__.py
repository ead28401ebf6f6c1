"""Plain types and constants of the series: tracks, channels, file formats, times."""

from cognirace.domain.channels import CHANNEL_BY_COLUMN, CHANNEL_BY_RAW, CHANNELS, Channel
from cognirace.domain.formats import (
    FLAG_CAUTION,
    FLAG_FINISH,
    FLAG_GREEN,
    RACING_FLAGS,
    FileKind,
)
from cognirace.domain.laptime import format_duration, parse_duration_s
from cognirace.domain.tracks import TRACKS, Track, track_from_name

__all__ = [
    "CHANNELS",
    "CHANNEL_BY_COLUMN",
    "CHANNEL_BY_RAW",
    "FLAG_CAUTION",
    "FLAG_FINISH",
    "FLAG_GREEN",
    "RACING_FLAGS",
    "TRACKS",
    "Channel",
    "FileKind",
    "Track",
    "format_duration",
    "parse_duration_s",
    "track_from_name",
]
