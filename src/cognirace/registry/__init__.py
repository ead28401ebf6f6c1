"""Versioned model store on a local folder or object storage (any fsspec URL).

``Registry`` publishes fitted models as numbered versions with a checksummed manifest,
moves aliases (``latest``, ``production``...), and loads a version only after verifying
every file. ``data_fingerprint`` names the training data a version learned from.
"""

from cognirace.models.fingerprint import data_fingerprint
from cognirace.registry.kinds import BUILTIN_KINDS, allowed_kinds, resolve_kind
from cognirace.registry.manifest import CodeVersion, FileEntry, Manifest
from cognirace.registry.naming import RESERVED_ALIASES
from cognirace.registry.store import Registry

__all__ = [
    "BUILTIN_KINDS",
    "RESERVED_ALIASES",
    "CodeVersion",
    "FileEntry",
    "Manifest",
    "Registry",
    "allowed_kinds",
    "data_fingerprint",
    "resolve_kind",
]
