"""CogniRace's models and the contract they share.

Every model subclasses ``Model`` (see ``cognirace.models.base`` for the contract) and
stores itself in safe formats through ``cognirace.models.artifacts``.
"""

from cognirace.models.artifacts import ModelState
from cognirace.models.base import Model, ModelMetadata
from cognirace.models.fingerprint import data_fingerprint
from cognirace.models.schema import ColumnSpec, conform, count_out_of_range

__all__ = [
    "ColumnSpec",
    "Model",
    "ModelMetadata",
    "ModelState",
    "conform",
    "count_out_of_range",
    "data_fingerprint",
]
