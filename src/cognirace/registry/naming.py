"""Names in the registry: model names, versions (``v1``, ``v2``...) and aliases.

Names become path segments in storage, so they are checked before use: a name like
``../x`` must never reach the file system. Versions sort by number, so ``v10`` comes
after ``v9``.
"""

from __future__ import annotations

import re

from cognirace.errors import ConfigError

_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,99}$")
_VERSION = re.compile(r"^v([1-9][0-9]*)$")
RESERVED_ALIASES = ("latest", "production")
"""Aliases with a fixed meaning: ``latest`` moves on every publish; ``production`` is set
by hand when a version is promoted."""


def check_name(name: str, *, what: str = "model name") -> str:
    """Return ``name`` if it is a safe lower-case path segment.

    Raises:
        ConfigError: It is not (upper case, slashes, dots only...).
    """
    if not _NAME.match(name) or set(name) <= {"."}:
        raise ConfigError(f"invalid {what}", value=name,
                          hint="use lower-case letters, digits, '_', '-' and '.'")
    return name


def check_alias(alias: str) -> str:
    """Return ``alias`` if it is a valid alias: a name that does not look like a version."""
    check_name(alias, what="alias")
    if is_version(alias):
        raise ConfigError("an alias cannot look like a version", value=alias,
                          hint="pick a word such as 'production' or 'candidate'")
    return alias


def is_version(text: str) -> bool:
    """Whether ``text`` spells a version (``v1``, ``v2``...)."""
    return _VERSION.match(text) is not None


def version_number(version: str) -> int:
    """The number of a version: ``v12`` gives 12.

    Raises:
        ConfigError: ``version`` is not of the form ``v<N>``.
    """
    match = _VERSION.match(version)
    if match is None:
        raise ConfigError("invalid version", value=version, hint="versions look like 'v3'")
    return int(match.group(1))


def version_name(number: int) -> str:
    """The version called ``number``: 12 gives ``v12``."""
    return f"v{number}"
