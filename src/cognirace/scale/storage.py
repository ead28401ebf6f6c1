"""Where data lives: a local folder or any fsspec URL, behind one interface.

fsspec gives one file-system interface over local disk, ``memory://`` (tests),
``gs://`` (gcsfs), ``s3://`` (s3fs) and more. The registry, the season folder and the
lake all open their URLs here, so they share one rule for what is a URL and one
message when a backend is missing: the object-store packages are optional, and opening
such a URL without its package raises a ``ConfigError`` naming the extra to install,
rather than fsspec's bare ``ImportError``.

Credentials come from each backend's own environment (``AWS_*`` variables, the AWS
config files or an instance role for s3://; ``GOOGLE_APPLICATION_CREDENTIALS``, the
gcloud login or the metadata server for gs://), from fsspec's ``FSSPEC_<PROTOCOL>_<KEY>``
variables (``FSSPEC_S3_ENDPOINT_URL`` for a MinIO or another S3-compatible store), or
from ``storage_options`` passed in code.

A ``Location`` is a folder given by its URL and storage options only: it pickles to a
Ray worker, which opens the file system itself (fsspec keeps one instance per process).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fsspec import AbstractFileSystem
from fsspec.core import url_to_fs

from cognirace.errors import ConfigError

PACKAGES: dict[str, tuple[str, str]] = {
    "gs": ("gcsfs", "gcs"), "gcs": ("gcsfs", "gcs"),
    "s3": ("s3fs", "s3"), "s3a": ("s3fs", "s3"),
    "az": ("adlfs", ""), "abfs": ("adlfs", ""), "abfss": ("adlfs", ""),
}
"""URL scheme to (package that implements it, cognirace extra that installs it)."""


def scheme_of(url: str | Path) -> str:
    """The URL's scheme in lower case; ``file`` for a plain path."""
    text = str(url)
    return text.split("://", 1)[0].lower() if "://" in text else "file"


def is_url(url: str | Path) -> bool:
    """Whether ``url`` names storage other than a local path (``file://`` is a path)."""
    return scheme_of(url) != "file"


def open_filesystem(
    url: str | Path, storage_options: Mapping[str, Any] | None = None, *,
    what: str = "storage",
) -> tuple[AbstractFileSystem, str]:
    """Open the file system behind ``url`` and return it with the root path inside it.

    Args:
        url: A folder or a URL.
        storage_options: Passed to the file system (credentials, endpoint, project...).
        what: What the URL is for (``registry``, ``lake``...), named in errors.

    Raises:
        ConfigError: The URL's scheme is unknown or its package is not installed.
    """
    text = str(url)
    scheme = scheme_of(text)
    try:
        fs, root = url_to_fs(text, **dict(storage_options or {}))
    except ImportError as exc:
        package, extra = PACKAGES.get(scheme, ("", ""))
        install = f"pip install 'cognirace[{extra}]'" if extra else f"pip install {package}"
        hint = f"{scheme}:// needs the {package} package: {install}" if package else str(exc)
        raise ConfigError(f"cannot open the {what} URL", value=text, hint=hint) from exc
    except ValueError as exc:
        raise ConfigError(f"unknown {what} URL scheme", value=text,
                          hint="use a folder, memory://, gs:// or s3://") from exc
    return fs, str(root).rstrip("/")


def is_local(fs: AbstractFileSystem) -> bool:
    """Whether ``fs`` is the local disk, so files can be read in place."""
    protocol = fs.protocol
    protocols = (protocol,) if isinstance(protocol, str) else tuple(protocol)
    return "file" in protocols or "local" in protocols


def join(*parts: str) -> str:
    """Join path parts with ``/`` (fsspec paths use ``/`` on every platform)."""
    return "/".join(part.strip("/") if i else part.rstrip("/") for i, part in enumerate(parts))


def relative(path: str, base: str) -> str:
    """``path`` relative to ``base``, both as the file system spells them."""
    path, base = path.rstrip("/"), base.rstrip("/")
    if not path.startswith(base + "/"):
        raise ValueError(f"{path} is not under {base}")
    return path[len(base) + 1:]


_OPENED: dict[str, tuple[AbstractFileSystem, str]] = {}
"""File systems opened in this process, by location (fsspec also keeps its instances)."""


def _opened(url: str, options: tuple[tuple[str, Any], ...], what: str
            ) -> tuple[AbstractFileSystem, str]:
    key = json.dumps([url, options, what], sort_keys=True, default=repr)
    if key not in _OPENED:
        _OPENED[key] = open_filesystem(url, dict(options), what=what)
    return _OPENED[key]


@dataclass(frozen=True)
class Location:
    """A folder on a file system, named by its URL (see the module docstring).

    Attributes:
        url: An absolute local path or a URL (``s3://bucket/lake``).
        options: Storage options as ``(key, value)`` pairs, sorted; empty to use the
            environment's credentials.
        what: What the folder is for (``lake``, ``season``...), named in errors.
    """

    url: str
    options: tuple[tuple[str, Any], ...] = ()
    what: str = "storage"

    @property
    def fs(self) -> AbstractFileSystem:
        """The file system, opened once per process."""
        return _opened(self.url, self.options, self.what)[0]

    @property
    def root(self) -> str:
        """The folder's path inside ``fs`` (``bucket/lake`` for ``s3://bucket/lake``)."""
        return _opened(self.url, self.options, self.what)[1]

    @property
    def local(self) -> Path | None:
        """The folder as a local path when it is on this machine's disk, else None."""
        return Path(self.root) if is_local(self.fs) else None

    def path(self, *parts: str) -> str:
        """A path under the folder, as ``fs`` spells it."""
        return join(self.root, *parts) if parts else self.root

    def url_of(self, path: str) -> str:
        """A path of ``fs`` as a full URL (``s3://bucket/lake/races.parquet``)."""
        return path if self.local is not None else str(self.fs.unstrip_protocol(path))

    def child(self, *parts: str) -> Location:
        """The location of a folder under this one."""
        return Location(join(self.url, *parts), self.options, self.what)


def location(url: str | Path, storage_options: Mapping[str, Any] | None = None, *,
             what: str = "storage") -> Location:
    """A ``Location`` for ``url``: a local path made absolute, a URL kept as it is.

    The file system is opened here, so a missing backend or a bad scheme is reported
    before any work starts.

    Raises:
        ConfigError: The URL's scheme is unknown or its package is not installed.
    """
    text = str(url)
    if scheme_of(text) == "file":
        text = str(Path(text.removeprefix("file://")).expanduser().resolve())
    found = Location(text, tuple(sorted(dict(storage_options or {}).items())), what)
    _ = found.fs
    return found


__all__ = ["PACKAGES", "Location", "is_local", "is_url", "join", "location", "open_filesystem",
           "relative", "scheme_of"]
