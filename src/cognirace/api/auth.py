"""API keys of the prediction service: generation, hashing, storage and lookup.

A key is shown to its owner once, at creation; the service keeps only its sha256.
Keys are 32 random bytes, so a plain (unsalted, fast) hash is the right tool: nothing
can be guessed from it, and checking a request costs one hash, not a bcrypt round.

Keys come from two places, merged by ``KeyStore.load``:

- the keys file (``COGNIRACE_KEYS_FILE``, default ``data/api-keys.json``), written by
  ``cognirace keys create``::

      {"keys": [{"id": "key_3f9a0c1b2d4e", "name": "pit wall", "hash": "sha256:…",
                 "scopes": ["predict"], "created": "2025-07-20T12:00:00+00:00"}]}

- the environment (``COGNIRACE_API_KEYS``), for containers that get secrets as
  variables: comma-separated ``<hash>:<scope>+<scope>`` entries, e.g.
  ``sha256:9f…:predict,sha256:04…:admin``.

Scopes are ``predict`` and ``admin``; ``admin`` implies ``predict``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cognirace.errors import ConfigError

SCOPES = ("predict", "stream", "admin")
"""Every scope a key can hold: ``predict`` (predictions, and reading live races),
``stream`` (sending a live race's frames), ``admin`` (all of them)."""

KEY_PREFIX = "cr_"
HASH_PREFIX = "sha256:"
_HASH_RE = re.compile(r"^sha256:[0-9a-f]{64}$")


@dataclass(frozen=True)
class Principal:
    """Who is calling: the key's id (safe to log), its scopes and its owner's name."""

    key_id: str
    scopes: frozenset[str]
    name: str

    def allows(self, scope: str) -> bool:
        """Whether this key may use ``scope`` (``admin`` holds every scope)."""
        return scope in self.scopes or "admin" in self.scopes


@dataclass(frozen=True)
class KeyRecord:
    """One stored key as kept in the keys file: never the key itself, only its hash."""

    id: str
    name: str
    hash: str
    scopes: tuple[str, ...]
    created: str

    def principal(self) -> Principal:
        """The caller this key authenticates, with ``admin`` expanded to every scope."""
        return Principal(key_id=self.id, scopes=expand_scopes(self.scopes), name=self.name)

    def to_json(self) -> dict[str, object]:
        return {"id": self.id, "name": self.name, "hash": self.hash,
                "scopes": list(self.scopes), "created": self.created}


def generate_key() -> str:
    """A new API key: ``cr_`` and 43 URL-safe characters (32 bytes from ``secrets``)."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    """The stored form of a key: ``sha256:<hex>``."""
    return HASH_PREFIX + hashlib.sha256(key.encode("utf-8")).hexdigest()


def expand_scopes(scopes: Iterable[str]) -> frozenset[str]:
    """The scopes a key really holds: ``admin`` brings ``predict`` with it."""
    held = set(scopes)
    if "admin" in held:
        held.update(SCOPES)
    return frozenset(held)


def check_scopes(scopes: Sequence[str], *, where: str) -> tuple[str, ...]:
    """Scopes in a stable order, or a ConfigError naming ``where`` the bad one came from."""
    if not scopes:
        raise ConfigError(f"{where}: a key needs at least one scope",
                          hint=f"use one or more of {', '.join(SCOPES)}")
    for scope in scopes:
        if scope not in SCOPES:
            raise ConfigError(f"{where}: unknown scope {scope!r}",
                              hint=f"use one or more of {', '.join(SCOPES)}")
    return tuple(s for s in SCOPES if s in scopes)


class KeyStore:
    """The keys the service accepts, looked up in constant time per stored key.

    Args:
        records: The stored keys (file and environment merged).
    """

    def __init__(self, records: Iterable[KeyRecord] = ()) -> None:
        self._entries = [(r.hash.encode("ascii"), r.principal()) for r in records]

    @classmethod
    def load(cls, keys_file: Path | None, env_keys: str | None) -> KeyStore:
        """Read the keys file (a missing file holds no keys) and ``COGNIRACE_API_KEYS``.

        Raises:
            ConfigError: The file is not valid JSON of the documented shape, or an
                environment entry is malformed; the message names the file or entry.
        """
        records = read_keys_file(keys_file) if keys_file is not None else []
        records += parse_env_keys(env_keys or "")
        return cls(records)

    def __len__(self) -> int:
        return len(self._entries)

    def authenticate(self, key: str | None) -> Principal | None:
        """The principal of ``key``, or None when it is missing or unknown.

        Every stored hash is compared with ``hmac.compare_digest`` and the loop never
        stops early, so response time says nothing about how close a guess was.
        """
        if not key:
            return None
        digest = hash_key(key).encode("ascii")
        found: Principal | None = None
        for stored, principal in self._entries:
            if hmac.compare_digest(stored, digest):
                found = principal
        return found


def parse_env_keys(value: str) -> list[KeyRecord]:
    """Records from ``COGNIRACE_API_KEYS`` (``<hash>:<scope>+<scope>``, comma-separated).

    Raises:
        ConfigError: An entry is not a sha256 hash with scopes; names the entry by position.
    """
    records: list[KeyRecord] = []
    for position, raw in enumerate(value.split(","), start=1):
        entry = raw.strip()
        if not entry:
            continue
        where = f"COGNIRACE_API_KEYS entry {position}"
        if entry.startswith(KEY_PREFIX):
            raise ConfigError(f"{where} is a key, not its hash",
                              hint="store only the hash: `cognirace keys create` prints both; "
                              "set the entry to `sha256:<hex>:predict`")
        digest, _, scopes = entry.rpartition(":")
        if not _HASH_RE.match(digest):
            raise ConfigError(f"{where} is not `sha256:<64 hex digits>:<scopes>`",
                              value=entry, hint="write entries as `sha256:<hex>:predict+admin`")
        checked = check_scopes([s for s in scopes.split("+") if s], where=where)
        records.append(KeyRecord(id=f"env-{digest[7:19]}", name=f"env {position}",
                                 hash=digest, scopes=checked, created=""))
    return records


def read_keys_file(path: Path) -> list[KeyRecord]:
    """Every record of the keys file; a file that does not exist holds no keys.

    Raises:
        ConfigError: The file cannot be read or is not the documented JSON shape.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise ConfigError(f"cannot read the keys file: {exc.strerror}", path=path,
                          hint="check its permissions, or point COGNIRACE_KEYS_FILE elsewhere"
                          ) from exc
    try:
        data = json.loads(text)
        items = data["keys"]
        if not isinstance(items, list):
            raise TypeError("keys is not a list")
        return [_record(item, path, n) for n, item in enumerate(items, start=1)]
    except (ValueError, KeyError, TypeError) as exc:
        detail = 'it has no "keys" list' if isinstance(exc, KeyError) else str(exc)
        raise ConfigError(f"the keys file is not valid: {detail}", path=path,
                          hint='it must be JSON {"keys": [...]}; fix it or recreate it with '
                          "`cognirace keys create`") from exc


def _record(item: object, path: Path, position: int) -> KeyRecord:
    if not isinstance(item, dict):
        raise ConfigError(f"key {position} is not an object", path=path,
                          hint="fix the entry or recreate the file with `cognirace keys create`")
    fields = {name: item.get(name) for name in ("id", "name", "hash", "created")}
    for name, value in fields.items():
        if not isinstance(value, str):
            raise ConfigError(f"key {position} has no text field {name!r}", path=path,
                              hint="fix the entry or recreate it with `cognirace keys create`")
    if not _HASH_RE.match(str(fields["hash"])):
        raise ConfigError(f"key {position} has a hash that is not `sha256:<64 hex digits>`",
                          path=path, hint="recreate it with `cognirace keys create`")
    scopes = item.get("scopes")
    if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
        raise ConfigError(f"key {position} has no list of scopes", path=path,
                          hint=f"give it scopes from {', '.join(SCOPES)}")
    return KeyRecord(id=str(fields["id"]), name=str(fields["name"]), hash=str(fields["hash"]),
                     scopes=check_scopes(scopes, where=f"{path} key {position}"),
                     created=str(fields["created"]))


def create_key(keys_file: Path, name: str, scopes: Sequence[str]) -> tuple[str, Principal]:
    """Make a key, store its hash in ``keys_file`` and return the key (shown once) and principal.

    Raises:
        ConfigError: The name is empty, a scope is unknown, or the file is invalid.
    """
    if not name.strip():
        raise ConfigError("a key needs a name", hint="pass --name, e.g. --name 'pit wall'")
    checked = check_scopes(list(scopes), where="--scope")
    records = read_keys_file(keys_file)
    key = generate_key()
    record = KeyRecord(id=f"key_{secrets.token_hex(6)}", name=name.strip(), hash=hash_key(key),
                       scopes=checked, created=datetime.now(UTC).isoformat(timespec="seconds"))
    write_keys_file(keys_file, [*records, record])
    return key, record.principal()


def revoke_key(keys_file: Path, key_id: str) -> bool:
    """Remove the key ``key_id`` from ``keys_file``; False when no key has that id."""
    records = read_keys_file(keys_file)
    kept = [r for r in records if r.id != key_id]
    if len(kept) == len(records):
        return False
    write_keys_file(keys_file, kept)
    return True


def write_keys_file(path: Path, records: Sequence[KeyRecord]) -> None:
    """Replace ``path`` atomically (temporary file, fsync, ``os.replace``), readable by owner only.

    A crash mid-write leaves the old file whole, and a reader never sees half a file.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps({"keys": [r.to_json() for r in records]}, indent=2) + "\n"
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        Path(tmp).chmod(0o600)
        Path(tmp).replace(path)  # os.replace: atomic on POSIX and Windows
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


__all__ = [
    "SCOPES",
    "KeyRecord",
    "KeyStore",
    "Principal",
    "create_key",
    "expand_scopes",
    "generate_key",
    "hash_key",
    "parse_env_keys",
    "read_keys_file",
    "revoke_key",
    "write_keys_file",
]
