"""The manifest of one registry version, and the checks that make a stored model trusted.

A manifest lists every file of a version with its sha256 and size, and says where the
model came from (training data fingerprint, code version, metrics, model kind). It is
written last, so a version without one was never finished and is not listed. Loading
compares the files against it and refuses any difference, naming the file.
"""

from __future__ import annotations

import math
import re
from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from cognirace.errors import ArtifactError, ChecksumMismatchError
from cognirace.models.fingerprint import file_sha256

MANIFEST_FILE = "manifest.json"
MANIFEST_FORMAT: Literal[1] = 1
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class FileEntry(BaseModel):
    """One stored file: its sha256 (hex) and size in bytes."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sha256: str = Field(pattern=_SHA256.pattern)
    size_bytes: int = Field(ge=0)


class CodeVersion(BaseModel):
    """The code that trained a version: package version and git commit when known."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    cognirace: str
    git_commit: str | None = None


class Manifest(BaseModel):
    """Everything the registry knows about one version; see the module docstring."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    format: Literal[1] = MANIFEST_FORMAT
    name: str
    version: str
    kind: str
    kind_version: str
    model_class: str
    files: dict[str, FileEntry]
    data_fingerprint: str
    code_version: CodeVersion
    metrics: dict[str, float]
    created_at: datetime

    @field_validator("files")
    @classmethod
    def _safe_paths(cls, files: dict[str, FileEntry]) -> dict[str, FileEntry]:
        """File names come from storage: refuse any that could escape the version folder."""
        for name in files:
            parts = name.split("/")
            if (not name or name.startswith("/") or "\\" in name or ":" in name
                    or any(p in ("", ".", "..") for p in parts) or name == MANIFEST_FILE):
                raise ValueError(f"unsafe file name in manifest: {name!r}")
        return files

    @field_validator("metrics")
    @classmethod
    def _finite(cls, metrics: dict[str, float]) -> dict[str, float]:
        bad = [k for k, v in metrics.items() if not math.isfinite(v)]
        if bad:
            raise ValueError(f"metrics must be finite numbers: {bad}")
        return metrics

    def to_json(self) -> str:
        """The manifest as indented JSON, the form stored next to the files."""
        return self.model_dump_json(indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str | bytes, *, where: str) -> Manifest:
        """Parse a stored manifest; ``where`` names it in the error.

        Raises:
            ArtifactError: The text is not a valid manifest.
        """
        try:
            return cls.model_validate_json(text)
        except ValidationError as exc:
            first = exc.errors()[0]
            raise ArtifactError("manifest is not valid", path=where,
                                hint=f"{'.'.join(map(str, first['loc']))}: {first['msg']}") from exc


def describe_files(directory: Path) -> dict[str, FileEntry]:
    """Checksum every file under ``directory``, keyed by its ``/``-separated relative path."""
    return {
        path.relative_to(directory).as_posix(): FileEntry(
            sha256=file_sha256(path), size_bytes=path.stat().st_size)
        for path in sorted(directory.rglob("*")) if path.is_file()
    }


def check_listing(present: set[str], manifest: Manifest, *, where: str) -> None:
    """Refuse a version whose files are not exactly the manifest's.

    Raises:
        ChecksumMismatchError: A listed file is missing, or an unlisted file is present.
    """
    listed = set(manifest.files)
    missing, extra = sorted(listed - present), sorted(present - listed - {MANIFEST_FILE})
    if missing:
        raise ChecksumMismatchError(
            f"{manifest.name} {manifest.version}: file {missing[0]!r} is missing",
            path=f"{where}/{missing[0]}", hint="the version is incomplete; republish it",
        )
    if extra:
        raise ChecksumMismatchError(
            f"{manifest.name} {manifest.version}: file {extra[0]!r} is not in the manifest",
            path=f"{where}/{extra[0]}", hint="someone added files to a published version",
        )


def verify_directory(directory: Path, manifest: Manifest) -> None:
    """Check that ``directory`` holds exactly the manifest's files, byte for byte.

    Raises:
        ChecksumMismatchError: A file is missing, extra, or differs; the message names it.
    """
    present = {p.relative_to(directory).as_posix() for p in directory.rglob("*") if p.is_file()}
    check_listing(present, manifest, where=str(directory))
    for name, entry in sorted(manifest.files.items()):
        path = directory / name
        actual = file_sha256(path)
        if actual != entry.sha256 or path.stat().st_size != entry.size_bytes:
            raise ChecksumMismatchError(
                f"{manifest.name} {manifest.version}: file {name!r} does not match its "
                f"manifest (sha256 {actual[:12]}..., expected {entry.sha256[:12]}...)",
                path=path, hint="the artifact was altered or corrupted; republish the model",
            )
