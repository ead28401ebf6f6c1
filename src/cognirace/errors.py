"""The one error tree of CogniRace.

Every error a user can meet is a ``CogniraceError``; each carries the context needed to
fix it (file, line, column, value) and a hint. Interfaces raise; bulk processing (ingest)
logs and counts what it repaired and raises only for what it cannot trust.

    CogniraceError
    ├── ConfigError                 bad setting or command-line value
    ├── DataError                   input data that cannot be used as it is
    │   ├── SchemaError             a file or frame is not what its header or contract claims
    │   └── QuirkError              a known quirk that could not be repaired
    ├── ModelError                  training or prediction failed
    │   ├── NotFittedError          predict before fit
    │   └── ArtifactError           a stored model cannot be trusted
    │       └── ChecksumMismatchError
    └── StrategyError               a strategy question that has no sound answer
"""

from __future__ import annotations

from pathlib import Path


class CogniraceError(Exception):
    """Base of every error CogniRace raises on purpose.

    Args:
        message: What went wrong, in the user's terms.
        hint: What to do about it.
        path: The file concerned, if any.
        line: 1-based line number in that file, if known.
        column: Column (field) name, if known.
        value: The offending value, if any.
    """

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        path: str | Path | None = None,
        line: int | None = None,
        column: str | None = None,
        value: object = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.path = None if path is None else str(path)
        self.line = line
        self.column = column
        self.value = value

    def __str__(self) -> str:
        where = []
        if self.path is not None:
            where.append(self.path)
        if self.line is not None:
            where.append(f"line {self.line}")
        if self.column is not None:
            where.append(f"column {self.column!r}")
        text = self.message
        if where:
            text = f"{', '.join(where)}: {text}"
        if self.value is not None:
            text = f"{text} (value {self.value!r})"
        if self.hint:
            text = f"{text}. {self.hint}"
        return text


class ConfigError(CogniraceError):
    """A setting, environment variable or command-line value is invalid."""


class DataError(CogniraceError):
    """Input data cannot be used as it is."""


class SchemaError(DataError):
    """A file or frame does not match the layout its header or contract claims."""


class QuirkError(DataError):
    """A known quirk of the real files could not be repaired."""


class ModelError(CogniraceError):
    """Training, loading or prediction of a model failed."""


class NotFittedError(ModelError):
    """A model was asked to predict or save before it was fitted."""


class ArtifactError(ModelError):
    """A stored model artifact is missing, malformed or untrusted."""


class ChecksumMismatchError(ArtifactError):
    """A stored file's sha256 does not match its manifest: it was altered or corrupted."""


class StrategyError(CogniraceError):
    """A strategy question has no sound answer with the state given."""


__all__ = [
    "ArtifactError",
    "ChecksumMismatchError",
    "CogniraceError",
    "ConfigError",
    "DataError",
    "ModelError",
    "NotFittedError",
    "QuirkError",
    "SchemaError",
    "StrategyError",
]
