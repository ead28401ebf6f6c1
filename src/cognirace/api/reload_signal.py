"""A reload reaches every worker of the machine, not only the one the request hit.

``cognirace serve --workers N`` runs N processes, and ``POST /v1/admin/reload`` reaches
one of them. That worker reloads, then touches a signal file beside the model cache;
every worker looks at the file's stamp at most once a ``interval_s`` (on a predict
request) and, when it changed, reloads in a background thread, so requests keep
flowing and it serves the new versions within about a second. Instances on other
machines (Cloud Run) have their own file: there a new revision reloads them.
"""

from __future__ import annotations

import hashlib
import os
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from cognirace.api.filewatch import FileWatch


def signal_path(cache_dir: Path, registry_url: str, alias: str) -> Path:
    """The signal file of one registry and alias under the model cache folder."""
    key = hashlib.sha256(f"{registry_url}\n{alias}".encode()).hexdigest()[:16]
    return cache_dir / "reload" / f"{key}.signal"


class ReloadSignal:
    """Tell the other workers a reload happened; learn when another worker did."""

    def __init__(self, path: Path, *, interval_s: float = 1.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.path = path
        self._watch = FileWatch(path, interval_s=interval_s, clock=clock)

    def notify(self) -> None:
        """Touch the signal (a new file, renamed over the old: a new inode every time)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        staged = self.path.with_name(f".{self.path.name}.{uuid.uuid4().hex}")
        staged.write_text(f"{time.time_ns()} {os.getpid()}\n", encoding="ascii")
        staged.replace(self.path)
        self._watch.mark_seen()

    def due(self) -> bool:
        """True once after another worker signalled (checked at most once an interval)."""
        return self._watch.changed()


__all__ = ["ReloadSignal", "signal_path"]
