"""CogniRace: race strategy from race data.

Ingest real GR Cup timing and telemetry files into a Parquet lake, simulate races in the
same format, learn pace and race-situation models, serve them, and recommend strategy live.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("cognirace")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0"

__all__ = ["__version__"]
