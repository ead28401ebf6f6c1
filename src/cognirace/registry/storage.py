"""Where the registry's bytes live: a local folder or any fsspec URL.

fsspec gives one file-system interface over local disk, ``memory://`` (tests),
``gs://`` (gcsfs), ``s3://`` (s3fs) and more. The object-store packages are optional:
opening such a URL without its package raises a ``ConfigError`` naming what to install,
rather than fsspec's bare ``ImportError``.
"""

from __future__ import annotations

from collections.abc import Mapping
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


def open_filesystem(
    url: str | Path, storage_options: Mapping[str, Any] | None = None,
) -> tuple[AbstractFileSystem, str]:
    """Open the file system behind ``url`` and return it with the root path inside it.

    Raises:
        ConfigError: The URL's scheme is unknown or its package is not installed.
    """
    text = str(url)
    scheme = text.split("://", 1)[0].lower() if "://" in text else "file"
    try:
        fs, root = url_to_fs(text, **dict(storage_options or {}))
    except ImportError as exc:
        package, extra = PACKAGES.get(scheme, ("", ""))
        install = f"pip install 'cognirace[{extra}]'" if extra else f"pip install {package}"
        hint = f"{scheme}:// needs the {package} package: {install}" if package else str(exc)
        raise ConfigError("cannot open the registry URL", value=text, hint=hint) from exc
    except ValueError as exc:
        raise ConfigError("unknown registry URL scheme", value=text,
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
