"""Noticing that a file changed, cheaply enough to ask on the request path.

The keys file and the reload signal are watched the same way: a file's stamp
(modification time, size, inode) is compared with the last one seen, at most once an
``interval_s``, so a request pays a clock read, and one ``stat`` a second at most.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

Stamp = tuple[int, int, int] | None


def file_stamp(path: Path | None) -> Stamp:
    """What changes when ``path`` is rewritten or replaced; None when it is absent."""
    if path is None:
        return None
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


class FileWatch:
    """Whether a file changed since it was last seen (a change is reported once)."""

    def __init__(self, path: Path | None, *, interval_s: float = 1.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.path = path
        self._interval_s, self._clock = interval_s, clock
        self._seen = file_stamp(path)  # how the file stands now is not a change
        self._next_check = clock() + interval_s

    def changed(self) -> bool:
        """True once after the file changed; looked at no more than once an interval."""
        now = self._clock()
        if now < self._next_check:
            return False
        self._next_check = now + self._interval_s
        stamp = file_stamp(self.path)
        if stamp == self._seen:
            return False
        self._seen = stamp
        return True

    def mark_seen(self) -> None:
        """Take the file as it stands now as seen (after writing it oneself)."""
        self._seen = file_stamp(self.path)


__all__ = ["FileWatch", "Stamp", "file_stamp"]
