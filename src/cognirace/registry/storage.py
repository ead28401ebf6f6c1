"""Where the registry's bytes live: a local folder or any fsspec URL.

The file-system handling is shared with the season folder and the lake
(``cognirace.scale.storage``): opening a URL whose package is missing raises a
``ConfigError`` naming what to install, rather than fsspec's bare ``ImportError``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fsspec import AbstractFileSystem

from cognirace.scale import storage
from cognirace.scale.storage import PACKAGES, is_local, join, relative


def open_filesystem(
    url: str | Path, storage_options: Mapping[str, Any] | None = None,
) -> tuple[AbstractFileSystem, str]:
    """Open the file system behind ``url`` and return it with the root path inside it.

    Raises:
        ConfigError: The URL's scheme is unknown or its package is not installed.
    """
    return storage.open_filesystem(url, storage_options, what="registry")


__all__ = ["PACKAGES", "is_local", "join", "open_filesystem", "relative"]
