"""The one contract every CogniRace model keeps, in scikit-learn's style.

- ``__init__`` takes keyword-only hyperparameters and only stores them, under the same
  names, so ``get_params()`` can read them back and ``load`` can rebuild the model.
- ``fit(frame)`` learns, sets attributes ending in ``_`` and returns ``self``.
- ``predict(frame)`` returns a frame whose columns are the output contract (after any
  ``keys`` copied from the input); before ``fit`` it raises ``NotFittedError``.
- ``save(directory)`` writes safe files only and returns them; ``load(directory)``
  rebuilds the model from them, without pickle.
- ``metadata()`` describes the model for model cards, the registry and the HTTP API.

A concrete model declares ``kind``, ``kind_version``, ``inputs``, ``outputs`` (and
``targets`` when fitting needs more columns), and implements ``_fit`` and ``_predict``.
Its learned state goes through ``_get_state``/``_set_state`` as a ``ModelState`` (JSON
values plus numpy arrays); a model with a native format (LightGBM text, a PyTorch
``state_dict``, ONNX) overrides ``_save_state``/``_load_state`` instead.
"""

from __future__ import annotations

import inspect
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Self

import polars as pl

from cognirace.errors import ArtifactError, ModelError, NotFittedError
from cognirace.models.artifacts import ModelState, read_json, read_state, write_json, write_state
from cognirace.models.fingerprint import frame_fingerprint
from cognirace.models.schema import ColumnSpec, conform

HEADER_FILE = "model.json"
HEADER_FORMAT = 1
_KIND = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class ModelMetadata:
    """What a model is, what it reads and writes, and what it learned from.

    Attributes:
        kind: The model kind's name (``"lap_time"``), the key of the registry's allow-list.
        kind_version: Version of the kind's code and artifact layout; a stored model of
            another version is refused on load.
        model_class: Dotted name of the class, for people reading a manifest.
        hyperparameters: The ``__init__`` arguments, JSON-ready.
        inputs: Columns ``predict`` needs.
        targets: Further columns ``fit`` needs (labels, groups).
        outputs: Columns ``predict`` returns, after ``keys``.
        keys: Identifying input columns copied to the front of the predictions.
        data_fingerprint: Fingerprint of the training frame, None before ``fit``.
        metrics: Evaluation results attached after training (name to value).
    """

    kind: str
    kind_version: str
    model_class: str
    hyperparameters: dict[str, Any]
    inputs: tuple[ColumnSpec, ...]
    targets: tuple[ColumnSpec, ...]
    outputs: tuple[ColumnSpec, ...]
    keys: tuple[str, ...] = ()
    data_fingerprint: str | None = None
    metrics: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description, for model cards and the API."""
        return {
            "kind": self.kind, "kind_version": self.kind_version,
            "model_class": self.model_class, "hyperparameters": self.hyperparameters,
            "inputs": [c.to_dict() for c in self.inputs],
            "targets": [c.to_dict() for c in self.targets],
            "outputs": [c.to_dict() for c in self.outputs],
            "keys": list(self.keys), "data_fingerprint": self.data_fingerprint,
            "metrics": dict(self.metrics),
        }


class Model(ABC):
    """Base class of the eight models; see the module docstring for the contract."""

    kind: ClassVar[str]
    kind_version: ClassVar[str] = "1"
    inputs: ClassVar[tuple[ColumnSpec, ...]]
    outputs: ClassVar[tuple[ColumnSpec, ...]]
    targets: ClassVar[tuple[ColumnSpec, ...]] = ()
    keys: ClassVar[tuple[str, ...]] = ()
    row_aligned: ClassVar[bool] = True
    """True when ``predict`` returns one row per input row, in input order."""

    data_fingerprint_: str
    metrics_: dict[str, float]

    def __init__(self) -> None:  # noqa: B027 - a model may have no hyperparameters
        """A model without hyperparameters stores nothing."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Catch a broken contract when the class is defined, not at its first save."""
        super().__init_subclass__(**kwargs)
        kind = cls.__dict__.get("kind")
        if kind is not None and not (isinstance(kind, str) and _KIND.match(kind)):
            raise ModelError(f"{cls.__name__}.kind must be lower snake case", value=kind)
        params = inspect.signature(cls.__init__).parameters
        bad = [n for n, p in params.items() if n != "self" and p.kind is not p.KEYWORD_ONLY]
        if bad:
            raise ModelError(f"{cls.__name__}.__init__ must be keyword-only", value=bad,
                             hint="put `*,` before the hyperparameters")
        learned = [name for name in params if name.endswith("_")]
        if learned:
            raise ModelError(f"{cls.__name__} has hyperparameters named like learned state",
                             value=learned, hint="a trailing '_' marks fitted attributes")

    # --- parameters and schemas -------------------------------------------------

    @classmethod
    def param_names(cls) -> tuple[str, ...]:
        """The hyperparameter names, read from ``__init__``'s signature."""
        params = inspect.signature(cls.__init__).parameters
        return tuple(name for name in params if name != "self")

    def get_params(self) -> dict[str, Any]:
        """The hyperparameters as given to ``__init__`` (stored under the same names)."""
        return {name: getattr(self, name) for name in self.param_names()}

    def input_schema(self) -> tuple[ColumnSpec, ...]:
        """Columns ``predict`` needs; override when they depend on hyperparameters."""
        return self.inputs

    def target_schema(self) -> tuple[ColumnSpec, ...]:
        """Columns ``fit`` needs besides the inputs."""
        return self.targets

    def output_schema(self) -> tuple[ColumnSpec, ...]:
        """Columns ``predict`` returns after the keys (e.g. one per quantile or horizon)."""
        return self.outputs

    @property
    def is_fitted(self) -> bool:
        """Whether a ``fit`` (or ``load``) completed; a ``_fit`` that raised does not count."""
        return "data_fingerprint_" in vars(self)

    def metadata(self) -> ModelMetadata:
        """The model's description; before ``fit`` it has no fingerprint or metrics."""
        cls = type(self)
        return ModelMetadata(
            kind=cls.kind, kind_version=cls.kind_version,
            model_class=f"{cls.__module__}.{cls.__qualname__}",
            hyperparameters=self.get_params(), inputs=self.input_schema(),
            targets=self.target_schema(), outputs=self.output_schema(), keys=cls.keys,
            data_fingerprint=getattr(self, "data_fingerprint_", None),
            metrics=dict(getattr(self, "metrics_", {})),
        )

    # --- fit and predict ------------------------------------------------------

    def fit(self, frame: pl.DataFrame) -> Self:
        """Learn from ``frame``, which must hold the input and target columns.

        Raises:
            SchemaError: A needed column is missing or of the wrong type.
        """
        frame = conform(frame, (*self.input_schema(), *self.target_schema()), role="training")
        vars(self).pop("data_fingerprint_", None)  # a failed refit must not look fitted
        self._fit(frame)
        self.data_fingerprint_ = frame_fingerprint(frame)
        self.metrics_ = {}
        return self

    def predict(self, frame: pl.DataFrame) -> pl.DataFrame:
        """Predict for ``frame``: the ``keys`` present in it, then the output columns.

        Raises:
            NotFittedError: ``fit`` (or ``load``) has not run.
            SchemaError: An input column is missing or of the wrong type.
        """
        self._check_fitted("predict")
        frame = conform(frame, self.input_schema(), role="input")
        result = self._check_output(self._predict(frame), frame.height)
        if not self.row_aligned:
            return result
        keys = [k for k in self.keys if k in frame.columns]
        return pl.concat([frame.select(keys), result], how="horizontal") if keys else result

    @abstractmethod
    def _fit(self, frame: pl.DataFrame) -> None:
        """Learn from a frame whose input and target columns are checked and cast."""

    @abstractmethod
    def _predict(self, frame: pl.DataFrame) -> pl.DataFrame:
        """Return exactly the output columns for a checked input frame."""

    def _check_fitted(self, action: str) -> None:
        if not self.is_fitted:
            raise NotFittedError(
                f"{type(self).__name__} cannot {action} before it is fitted",
                hint="call fit(frame) first, or load a trained model from the registry",
            )

    def _check_output(self, result: pl.DataFrame, n_rows: int) -> pl.DataFrame:
        """Hold ``_predict`` to the output contract: a broken model fails here, loudly."""
        specs = self.output_schema()
        names = [spec.name for spec in specs]
        if sorted(result.columns) != sorted(names):
            raise ModelError(f"{type(self).__name__} returned columns {result.columns}",
                             hint=f"its output contract is {names}")
        wrong = [s.name for s in specs if result.schema[s.name] != s.polars_dtype]
        if wrong:
            raise ModelError(f"{type(self).__name__} returned wrong dtypes", column=wrong[0],
                             value=str(result.schema[wrong[0]]))
        if self.row_aligned and result.height != n_rows:
            raise ModelError(f"{type(self).__name__} returned {result.height} rows for {n_rows}")
        return result.select(names)

    # --- save and load ----------------------------------------------------------

    def save(self, directory: Path) -> list[Path]:
        """Write the fitted model into ``directory`` (created if needed).

        Returns:
            Every file written, sorted; the registry checksums exactly these.

        Raises:
            NotFittedError: Nothing to save yet.
        """
        self._check_fitted("save")
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        files = self._save_state(directory)
        header = write_json(directory / HEADER_FILE, {
            "format": HEADER_FORMAT, "kind": self.kind, "kind_version": self.kind_version,
            "hyperparameters": self.get_params(), "data_fingerprint": self.data_fingerprint_,
            "metrics": self.metrics_,
        })
        return sorted({header, *files})

    @classmethod
    def load(cls, directory: Path) -> Self:
        """Rebuild a model that ``save`` wrote, refusing another kind or kind version.

        Everything is read into memory: the registry may delete ``directory`` right
        after (a download to a temporary folder), so ``_load_state`` must not keep
        files open or memory-mapped.

        Raises:
            ArtifactError: The files are missing, malformed or of another model kind.
        """
        directory = Path(directory)
        header = read_json(directory / HEADER_FILE)
        if not isinstance(header, dict) or header.get("format") != HEADER_FORMAT:
            raise ArtifactError("unknown model header format", path=directory / HEADER_FILE)
        if (header.get("kind"), header.get("kind_version")) != (cls.kind, cls.kind_version):
            raise ArtifactError(
                f"artifact holds {header.get('kind')!r} version {header.get('kind_version')!r}, "
                f"not {cls.kind!r} version {cls.kind_version!r}", path=directory / HEADER_FILE,
                hint="load it with its own model class, or retrain with this code",
            )
        try:
            model = cls(**header["hyperparameters"])
        except (TypeError, KeyError) as exc:
            raise ArtifactError("stored hyperparameters do not fit the model", path=directory,
                                hint=str(exc)) from exc
        fingerprint, metrics = header.get("data_fingerprint"), header.get("metrics")
        if not isinstance(fingerprint, str) or not isinstance(metrics, dict):
            raise ArtifactError("model header lacks fingerprint or metrics", path=directory)
        model._load_state(directory)
        model.data_fingerprint_ = fingerprint
        model.metrics_ = {str(k): float(v) for k, v in metrics.items()}
        return model

    def _save_state(self, directory: Path) -> list[Path]:
        """Write the learned state; the default stores ``_get_state()`` as JSON + ``.npy``."""
        return write_state(directory, self._get_state())

    def _load_state(self, directory: Path) -> None:
        """Read what ``_save_state`` wrote and restore the learned attributes."""
        self._set_state(read_state(directory))

    def _get_state(self) -> ModelState:
        """The learned state as JSON values and arrays (override, or ``_save_state``)."""
        raise NotImplementedError(f"{type(self).__name__} must implement _get_state")

    def _set_state(self, state: ModelState) -> None:
        """Restore the learned attributes from ``state`` (the inverse of ``_get_state``)."""
        raise NotImplementedError(f"{type(self).__name__} must implement _set_state")
