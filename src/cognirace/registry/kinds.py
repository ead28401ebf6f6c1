"""The allow-list of model kinds the registry may load.

A manifest names its model kind; the class is looked up here, never imported from a
path found in storage, so a tampered manifest cannot make the registry run other code.
Each model adds one line to ``BUILTIN_KINDS``; tests and embedding applications pass
their own mapping to ``Registry(kinds=...)`` instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib import import_module

from cognirace.errors import ArtifactError
from cognirace.models.base import Model

BUILTIN_KINDS: dict[str, tuple[str, str]] = {
    "fuel_burn": ("fuel", "FuelBurnModel"),
    "fuel_burn_track_mean": ("fuel", "TrackMeanFuelBaseline"),
    "pit_loss": ("pitloss", "PitLossModel"),
    "pit_loss_transit": ("pitloss", "TransitPitLossBaseline"),
    "pit_loss_median": ("pitloss", "TrackKindMedianBaseline"),
    "laptime": ("laptime", "LapTimeModel"),
    "laptime_baseline": ("laptime", "PaceMedianBaseline"),
    "tire": ("tire", "TireDegradationModel"),
    "tire_baseline": ("tire", "TrackMeanSlopeBaseline"),
    "fcy_hazard": ("fcy", "FcyHazardModel"),
    "fcy_hazard_constant": ("fcy", "ConstantHazardBaseline"),
    "fcy_hazard_track_rate": ("fcy", "TrackHazardBaseline"),
    "anomaly": ("anomaly", "AnomalyDetector"),
    "anomaly_zscore": ("anomaly", "ZScoreBaseline"),
    "anomaly_zscore_tuned": ("anomaly", "TunedZScoreBaseline"),
    "traffic_gnn": ("traffic", "TrafficGnnModel"),
    "traffic_logistic": ("traffic", "GapPaceLogisticBaseline"),
    "driver_embedding": ("driver", "DriverEmbeddingModel"),
    "driver_embedding_random": ("driver", "RandomEmbeddingBaseline"),
    "driver_style_zscore": ("driver", "StyleZScoreBaseline"),
}
"""Model kind to (module under ``cognirace.models``, class name), imported on first use."""


def resolve_kind(kind: str, kinds: Mapping[str, type[Model]] | None = None) -> type[Model]:
    """The class for ``kind``, from ``kinds`` if given, else from ``BUILTIN_KINDS``.

    Raises:
        ArtifactError: ``kind`` is not allowed, or its class disagrees about its kind.
    """
    if kinds is not None:
        cls = kinds.get(kind)
    elif kind in BUILTIN_KINDS:
        module, name = BUILTIN_KINDS[kind]
        cls = getattr(import_module(f"cognirace.models.{module}"), name)
    else:
        cls = None
    if cls is None:
        known = sorted(kinds if kinds is not None else BUILTIN_KINDS)
        raise ArtifactError(f"model kind {kind!r} is not in the registry's allow-list",
                            value=kind, hint=f"known kinds: {known or 'none'}")
    if not (isinstance(cls, type) and issubclass(cls, Model)) or cls.kind != kind:
        raise ArtifactError(f"the allow-list maps {kind!r} to a class of another kind",
                            value=cls, hint="fix the kinds mapping")
    return cls


def allowed_kinds(kinds: Mapping[str, type[Model]] | None = None) -> list[str]:
    """The kinds that can be published and loaded."""
    return sorted(kinds if kinds is not None else BUILTIN_KINDS)
