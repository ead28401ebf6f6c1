"""Safe artifact files: JSON and numpy arrays, never pickle.

Artifacts come back from storage that may have been tampered with, so every reader here
parses data, never code: JSON with NaN refused, ``.npy`` loaded with
``allow_pickle=False``, and (for the models that need PyTorch) a ``state_dict`` loaded
with ``weights_only=True``. LightGBM models use the booster's own text format
(``booster.save_model(path)`` / ``lightgbm.Booster(model_file=path)``); ONNX files are
data too.

``ModelState`` is the common shape of a small model's learned state: JSON values plus
named arrays. ``write_state``/``read_state`` store it as ``state.json`` and one ``.npy``
per array, so a concrete model only says what its state is.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import import_module
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from cognirace.errors import ArtifactError, ModelError

STATE_FILE = "state.json"
ARRAYS_DIR = "arrays"
_ARRAY_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")


class StateDictModule(Protocol):
    """What the PyTorch helpers need of a module (``torch.nn.Module`` fits)."""

    def state_dict(self) -> Mapping[str, Any]: ...

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> Any: ...


@dataclass
class ModelState:
    """A model's learned state in safe parts.

    Attributes:
        values: JSON-ready values (numbers, text, lists, dicts); finite floats only.
        arrays: Named numeric arrays, each stored as its own ``.npy`` file.
    """

    values: dict[str, Any] = field(default_factory=dict)
    arrays: dict[str, npt.NDArray[Any]] = field(default_factory=dict)


def write_json(path: Path, data: Any) -> Path:
    """Write ``data`` as sorted, indented JSON; NaN and infinity are refused.

    Raises:
        ModelError: ``data`` holds something JSON cannot carry faithfully.
    """
    try:
        text = json.dumps(data, indent=2, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ModelError(
            "cannot write model data as JSON", path=path, hint=f"{exc}; "
            "convert numpy scalars with float()/int() and put arrays in ModelState.arrays",
        ) from exc
    path.write_text(text + "\n", encoding="utf-8")
    return path


def read_json(path: Path) -> Any:
    """Read JSON written by ``write_json``.

    Raises:
        ArtifactError: The file is missing or not valid JSON.
    """
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ArtifactError("artifact file is missing", path=path) from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ArtifactError("artifact file is not valid JSON", path=path, hint=str(exc)) from exc


def write_state(directory: Path, state: ModelState) -> list[Path]:
    """Store ``state`` as ``state.json`` plus ``arrays/<name>.npy``; return the files."""
    bad = [name for name in state.arrays if not _ARRAY_NAME.match(name)]
    if bad:
        raise ModelError("array names must be lower snake case", value=bad)
    written = [write_json(directory / STATE_FILE, {
        "values": state.values, "arrays": sorted(state.arrays),
    })]
    if state.arrays:
        (directory / ARRAYS_DIR).mkdir(exist_ok=True)
    for name, array in sorted(state.arrays.items()):
        written.append(write_array(directory / ARRAYS_DIR / f"{name}.npy", array))
    return written


def read_state(directory: Path) -> ModelState:
    """Read what ``write_state`` wrote; only the arrays ``state.json`` names are opened."""
    data = read_json(directory / STATE_FILE)
    if not isinstance(data, dict) or set(data) != {"values", "arrays"}:
        raise ArtifactError("state file has an unexpected layout", path=directory / STATE_FILE)
    names = data["arrays"]
    if not isinstance(names, list) or not all(
        isinstance(n, str) and _ARRAY_NAME.match(n) for n in names
    ):
        raise ArtifactError("state file lists invalid array names", path=directory / STATE_FILE)
    arrays = {name: read_array(directory / ARRAYS_DIR / f"{name}.npy") for name in names}
    return ModelState(values=data["values"], arrays=arrays)


def write_array(path: Path, array: npt.NDArray[Any]) -> Path:
    """Save one numeric array as ``.npy``; object arrays are refused (they need pickle)."""
    try:
        np.save(path, np.asarray(array), allow_pickle=False)
    except ValueError as exc:
        raise ModelError(
            "cannot save an object array without pickle", path=path,
            hint="store numbers as a numeric dtype and text in ModelState.values",
        ) from exc
    return path


def read_array(path: Path) -> npt.NDArray[Any]:
    """Load one ``.npy`` file with pickle disabled.

    Raises:
        ArtifactError: The file is missing, malformed or would need pickle.
    """
    try:
        array: npt.NDArray[Any] = np.load(path, allow_pickle=False)
    except FileNotFoundError as exc:
        raise ArtifactError("array file is missing", path=path) from exc
    except ValueError as exc:
        raise ArtifactError("array file is malformed or needs pickle", path=path) from exc
    return array


def save_torch_state(path: Path, module: StateDictModule) -> Path:
    """Save a PyTorch module's ``state_dict`` (tensors only; the class is our code)."""
    torch = import_module("torch")  # PyTorch stays out of models that do not need it
    torch.save(module.state_dict(), path)
    return path


def load_torch_state(path: Path, module: StateDictModule) -> None:
    """Load a ``state_dict`` into ``module`` with ``weights_only=True``.

    ``weights_only`` makes PyTorch refuse anything but tensors and plain containers, so
    a tampered file cannot run code. The module must already have the right shape,
    built from the model's JSON hyperparameters.
    """
    torch = import_module("torch")

    try:
        state: Mapping[str, Any] = torch.load(path, map_location="cpu", weights_only=True)
        module.load_state_dict(state)
    except FileNotFoundError as exc:
        raise ArtifactError("state_dict file is missing", path=path) from exc
    except (RuntimeError, ValueError) as exc:
        raise ArtifactError("state_dict does not fit the model", path=path, hint=str(exc)) from exc
