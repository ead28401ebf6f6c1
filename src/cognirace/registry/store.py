"""The model registry: versioned, checksummed model artifacts in a folder or object store.

Layout under the root URL::

    <name>/v<N>/model/...        the files ``Model.save`` wrote
    <name>/v<N>/card.md|json     the model card, when given
    <name>/v<N>/manifest.json    written last: a version without it is not listed
    <name>/aliases/<alias>.json  ``{"version": "v<N>", ...}``
    <name>/.staging/...          uploads in progress

Publishing uploads to ``.staging``, moves the files into ``v<N>/`` and writes the
manifest last, so a crash never leaves a listed half version; version numbers only grow
and a number a crashed publish touched is skipped. Loading verifies every byte against
the manifest and resolves the model class from an allow-list, never from storage.
Publishing assumes one writer per model name at a time (the training job).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import shutil
import tempfile
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cognirace.errors import ArtifactError, ChecksumMismatchError, ModelError
from cognirace.models.artifacts import write_json
from cognirace.models.base import Model
from cognirace.registry.codeversion import code_version
from cognirace.registry.kinds import resolve_kind
from cognirace.registry.manifest import (
    MANIFEST_FILE,
    Manifest,
    check_listing,
    describe_files,
    verify_directory,
)
from cognirace.registry.naming import (
    check_alias,
    check_name,
    is_version,
    version_name,
    version_number,
)
from cognirace.registry.storage import is_local, join, open_filesystem, relative

logger = logging.getLogger(__name__)

MODEL_DIR = "model"
CARD_MARKDOWN = "card.md"
CARD_JSON = "card.json"
ALIASES_DIR = "aliases"
STAGING_DIR = ".staging"


class AliasRecord(BaseModel):
    """What an alias file holds."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: str = Field(pattern=r"^v[1-9][0-9]*$")
    updated_at: datetime


class Registry:
    """A versioned model store over a local folder or an fsspec URL.

    Args:
        url: A folder, or a URL such as ``memory://models``, ``gs://bucket/models``.
        cache_dir: Where remote versions are downloaded and kept; a restart reuses a
            cached version after checking it against the manifest. None downloads to a
            temporary folder on every load. Unused for a local folder (read in place).
        kinds: Allow-list of model kind to class; default ``registry.kinds.BUILTIN_KINDS``.
        storage_options: Passed to fsspec (credentials, project...).
    """

    def __init__(
        self,
        url: str | Path,
        *,
        cache_dir: Path | None = None,
        kinds: Mapping[str, type[Model]] | None = None,
        storage_options: Mapping[str, Any] | None = None,
    ) -> None:
        self.url = str(url)
        self.cache_dir = None if cache_dir is None else Path(cache_dir)
        self._kinds = None if kinds is None else dict(kinds)
        self._fs, self._root = open_filesystem(url, storage_options)
        self._local = is_local(self._fs)

    def __repr__(self) -> str:
        return f"Registry({self.url!r})"

    # --- listing --------------------------------------------------------------

    def list_models(self) -> list[str]:
        """Names with at least one finished version, sorted."""
        self._fs.invalidate_cache()
        paths = self._fs.glob(join(self._root, "*", "v*", MANIFEST_FILE))
        return sorted({relative(p, self._root).split("/")[0] for p in paths})

    def list_versions(self, name: str) -> list[str]:
        """Finished versions of ``name``, oldest first (``v2`` before ``v10``)."""
        base = join(self._root, check_name(name))
        self._fs.invalidate_cache()
        paths = self._fs.glob(join(base, "v*", MANIFEST_FILE))
        versions = [relative(p, base).split("/")[0] for p in paths]
        return sorted((v for v in versions if is_version(v)), key=version_number)

    def resolve(self, name: str, version_or_alias: str = "latest") -> str:
        """The version an alias points to, or the version itself once checked to exist.

        ``latest`` falls back to the newest version when no alias file exists.

        Raises:
            ArtifactError: No such model, version or alias.
        """
        versions = self.list_versions(name)
        if not versions:
            raise ArtifactError(f"no model named {name!r} in the registry", path=self.url,
                                hint=f"published models: {self.list_models() or 'none'}")
        if is_version(version_or_alias):
            version: str | None = version_or_alias
        else:
            version = self._read_alias(name, check_alias(version_or_alias))
            if version is None and version_or_alias == "latest":
                version = versions[-1]
            if version is None:
                raise ArtifactError(f"model {name!r} has no alias {version_or_alias!r}",
                                    hint=f"aliases: {sorted(self.aliases(name)) or 'none'}")
        if version not in versions:
            raise ArtifactError(f"model {name!r} has no version {version!r}",
                                hint=f"versions: {', '.join(versions)}")
        return version

    def manifest(self, name: str, version_or_alias: str = "latest") -> Manifest:
        """The manifest of a version (by number or alias)."""
        return self._read_manifest(name, self.resolve(name, version_or_alias))

    # --- publish ----------------------------------------------------------------

    def publish(
        self,
        model: Model,
        name: str,
        *,
        metrics: Mapping[str, float],
        data_fingerprint: str,
        card_markdown: str | None = None,
        card_json: Mapping[str, Any] | None = None,
    ) -> str:
        """Store a fitted model as the next version of ``name`` and move ``latest`` to it.

        Returns:
            The new version, e.g. ``"v3"``.

        Raises:
            ArtifactError: The model's kind is not in the allow-list (it could not be
                loaded back).
            ModelError: A metric is not a finite number.
            NotFittedError: The model is not fitted.
        """
        check_name(name)
        if type(model) is not resolve_kind(model.kind, self._kinds):
            raise ArtifactError(f"{type(model).__name__} is not the allow-listed class "
                                f"for kind {model.kind!r}", hint="register its class")
        bad = {k: v for k, v in metrics.items() if not math.isfinite(float(v))}
        if bad:
            raise ModelError("metrics must be finite numbers", value=bad,
                             hint="drop undefined metrics instead of storing NaN")
        with tempfile.TemporaryDirectory(prefix="cognirace-publish-") as tmp:
            staged = Path(tmp)
            model.save(staged / MODEL_DIR)
            if card_markdown is not None:
                (staged / CARD_MARKDOWN).write_text(card_markdown, encoding="utf-8")
            if card_json is not None:
                write_json(staged / CARD_JSON, dict(card_json))
            version = self._next_version(name)
            manifest = Manifest(
                name=name, version=version, kind=model.kind, kind_version=model.kind_version,
                model_class=model.metadata().model_class, files=describe_files(staged),
                data_fingerprint=data_fingerprint, code_version=code_version(),
                metrics={k: float(v) for k, v in metrics.items()}, created_at=datetime.now(UTC),
            )
            self._upload(staged, manifest)
        self.set_alias(name, "latest", version)
        logger.info("published %s %s to %s", name, version, self.url)
        return version

    def _next_version(self, name: str) -> str:
        """One more than any version folder, finished or not, so numbers are never reused."""
        base = join(self._root, name)
        self._fs.invalidate_cache()
        try:
            entries = self._fs.ls(base, detail=False)
        except FileNotFoundError:
            entries = []
        names = [entry.rstrip("/").rsplit("/", 1)[-1] for entry in entries]
        numbers = [version_number(n) for n in names if is_version(n)]
        return version_name(max(numbers, default=0) + 1)

    def _upload(self, staged: Path, manifest: Manifest) -> None:
        """Upload to a staging prefix, move into place, then write the manifest."""
        staging = join(self._root, manifest.name, STAGING_DIR, uuid.uuid4().hex)
        final = join(self._root, manifest.name, manifest.version)
        try:
            for rel in manifest.files:
                self._fs.makedirs(join(staging, rel).rsplit("/", 1)[0], exist_ok=True)
                self._fs.put_file(str(staged / rel), join(staging, rel))
            for rel in manifest.files:
                self._fs.makedirs(join(final, rel).rsplit("/", 1)[0], exist_ok=True)
                self._fs.mv(join(staging, rel), join(final, rel))
            self._put_atomic(join(final, MANIFEST_FILE), manifest.to_json().encode(), staging)
        finally:
            if self._fs.exists(staging):
                self._fs.rm(staging, recursive=True)

    def _put_atomic(self, path: str, data: bytes, staging: str) -> None:
        """Write ``data`` under the staging prefix, then move it to ``path`` in one step.

        Readers thus see the old file or the new one, never a half-written one.
        """
        tmp = join(staging, f"{uuid.uuid4().hex}.tmp")
        self._fs.makedirs(staging, exist_ok=True)
        self._fs.pipe_file(tmp, data)
        self._fs.mv(tmp, path)

    # --- aliases ----------------------------------------------------------------

    def set_alias(self, name: str, alias: str, version_or_alias: str) -> str:
        """Point ``alias`` at a version (or at what another alias points to); return it."""
        check_alias(alias)
        version = self.resolve(name, version_or_alias)
        record = AliasRecord(version=version, updated_at=datetime.now(UTC))
        path = join(self._root, name, ALIASES_DIR, f"{alias}.json")
        staging = join(self._root, name, STAGING_DIR, uuid.uuid4().hex)
        self._fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
        try:
            self._put_atomic(path, record.model_dump_json().encode(), staging)
        finally:
            if self._fs.exists(staging):
                self._fs.rm(staging, recursive=True)
        return version

    def remove_alias(self, name: str, alias: str) -> None:
        """Delete an alias; ``latest`` then falls back to the newest version."""
        path = join(self._root, check_name(name), ALIASES_DIR, f"{check_alias(alias)}.json")
        if not self._fs.exists(path):
            raise ArtifactError(f"model {name!r} has no alias {alias!r}")
        self._fs.rm(path)

    def aliases(self, name: str) -> dict[str, str]:
        """Every alias of ``name`` and the version it points to."""
        base = join(self._root, check_name(name), ALIASES_DIR)
        self._fs.invalidate_cache()
        found = {}
        for path in self._fs.glob(join(base, "*.json")):
            alias = relative(path, base).removesuffix(".json")
            version = self._read_alias(name, alias)
            if version is not None:
                found[alias] = version
        return found

    def _read_alias(self, name: str, alias: str) -> str | None:
        path = join(self._root, name, ALIASES_DIR, f"{alias}.json")
        try:
            return AliasRecord.model_validate_json(self._fs.cat_file(path)).version
        except FileNotFoundError:
            return None
        except ValidationError as exc:
            raise ArtifactError("alias file is not valid", path=path, hint=str(exc)) from exc

    # --- load -------------------------------------------------------------------

    def load(self, name: str, version_or_alias: str = "latest") -> Model:
        """Load a version after verifying every file against its manifest.

        The manifest's metrics and data fingerprint become the model's ``metrics_`` and
        ``data_fingerprint_``: for a published version the manifest is authoritative.

        Raises:
            ArtifactError: Unknown model, version, alias or model kind.
            ChecksumMismatchError: A file is missing, extra or altered; names the file.
        """
        version = self.resolve(name, version_or_alias)
        manifest = self._read_manifest(name, version)
        cls = resolve_kind(manifest.kind, self._kinds)
        remote = join(self._root, name, version)
        if self._local:
            verify_directory(Path(remote), manifest)
            model = cls.load(Path(remote) / MODEL_DIR)
        elif self.cache_dir is None:
            with tempfile.TemporaryDirectory(prefix="cognirace-load-") as tmp:
                model = cls.load(self._download(remote, manifest, Path(tmp) / version) / MODEL_DIR)
        else:
            model = cls.load(self._cached(remote, manifest) / MODEL_DIR)
        model.metrics_ = dict(manifest.metrics)
        model.data_fingerprint_ = manifest.data_fingerprint
        return model

    def _cached(self, remote: str, manifest: Manifest) -> Path:
        """The cached copy of a version, downloaded only when absent or not matching."""
        assert self.cache_dir is not None
        key = hashlib.sha256(self.url.encode()).hexdigest()[:16]
        target = self.cache_dir / key / manifest.name / manifest.version
        if target.is_dir():
            try:
                verify_directory(target, manifest)
                return target
            except ChecksumMismatchError as exc:
                logger.warning("cached copy is stale, downloading again: %s", exc)
        return self._download(remote, manifest, target)

    def _download(self, remote: str, manifest: Manifest, target: Path) -> Path:
        """Download the manifest's files to ``target``, replacing it only once verified."""
        present = {relative(p, remote) for p in self._fs.find(remote)}
        check_listing(present, manifest, where=remote)
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.{uuid.uuid4().hex}")
        try:
            for rel in manifest.files:
                (partial / rel).parent.mkdir(parents=True, exist_ok=True)
                self._fs.get_file(join(remote, rel), str(partial / rel))
            verify_directory(partial, manifest)
            if target.exists():
                shutil.rmtree(target)
            partial.rename(target)
        finally:
            if partial.exists():
                shutil.rmtree(partial)
        return target

    def _read_manifest(self, name: str, version: str) -> Manifest:
        path = join(self._root, name, version, MANIFEST_FILE)
        manifest = Manifest.from_json(self._fs.cat_file(path), where=path)
        if (manifest.name, manifest.version) != (name, version):
            raise ArtifactError("manifest belongs to another version", path=path,
                                value=f"{manifest.name} {manifest.version}")
        return manifest

    # --- model cards --------------------------------------------------------------

    def card_markdown(self, name: str, version_or_alias: str = "latest") -> str | None:
        """The version's Markdown model card (checksum verified), or None if it has none."""
        data = self._read_verified(name, version_or_alias, CARD_MARKDOWN)
        return None if data is None else data.decode("utf-8")

    def card_json(self, name: str, version_or_alias: str = "latest") -> dict[str, Any] | None:
        """The version's JSON model card (checksum verified), or None if it has none."""
        data = self._read_verified(name, version_or_alias, CARD_JSON)
        return None if data is None else dict(json.loads(data))

    def _read_verified(self, name: str, version_or_alias: str, rel: str) -> bytes | None:
        manifest = self.manifest(name, version_or_alias)
        entry = manifest.files.get(rel)
        if entry is None:
            return None
        path = join(self._root, name, manifest.version, rel)
        data: bytes = self._fs.cat_file(path)
        if hashlib.sha256(data).hexdigest() != entry.sha256:
            raise ChecksumMismatchError(f"{name} {manifest.version}: file {rel!r} does not "
                                        "match its manifest", path=path)
        return data
