"""The accepted keys, kept in step with the keys file while the service runs.

``cognirace keys create`` and ``keys revoke`` rewrite the keys file atomically; a
leaked key must stop working without a restart. So a worker watches the file
(``FileWatch``, once a second at most) and reads it again when it changed; a file that
fails to parse keeps the previous keys and says so in the log. Whether the service is
open (no key at all) is bounded by how it started: one started with keys never opens,
even when every key is revoked.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

from cognirace.api.auth import KeyStore
from cognirace.api.filewatch import FileWatch
from cognirace.errors import ConfigError

logger = logging.getLogger("cognirace.api.keys")


class WatchedKeys:
    """A ``KeyStore`` re-read when the keys file changes (checked once a second)."""

    def __init__(self, keys_file: Path | None, env_keys: str | None, *,
                 interval_s: float = 1.0, clock: Callable[[], float] = time.monotonic) -> None:
        """Read the keys now; a bad file or entry fails here, before the service starts.

        Raises:
            ConfigError: As ``KeyStore.load``.
        """
        self._file, self._env = keys_file, env_keys
        self._watch = FileWatch(keys_file, interval_s=interval_s, clock=clock)
        self._store = KeyStore.load(keys_file, env_keys)
        self.started_open = len(self._store) == 0

    def current(self) -> KeyStore:
        """The keys to check a request against, re-read if the file changed."""
        if self._watch.changed():
            try:
                self._store = KeyStore.load(self._file, self._env)
            except ConfigError as exc:
                logger.warning("keys file changed but cannot be read; keeping the previous "
                               "keys: %s", exc)
            else:
                logger.info("keys file re-read: %d keys", len(self._store))
        return self._store

    @property
    def open_access(self) -> bool:
        """Open only when started without keys (on localhost) and still without any."""
        return self.started_open and len(self.current()) == 0

    def __len__(self) -> int:
        return len(self.current())


__all__ = ["WatchedKeys"]
