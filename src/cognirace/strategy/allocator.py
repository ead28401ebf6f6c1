"""Keep the Monte Carlo's memory in the process between answers (glibc only).

Each answer allocates a few large NumPy arrays and frees them. With glibc's default
thresholds, blocks that large are mapped and unmapped on every answer, and trimmed back
to the kernel, so the next answer faults every page in again: about a fifth of an
answer's time (``bench/strategy.py`` measures both). Raising the trim and mmap
thresholds, as ``MALLOC_TRIM_THRESHOLD_`` does for a long-running server, keeps them.
"""

from __future__ import annotations

import ctypes
import ctypes.util

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
"""``mallopt`` parameters (glibc's malloc.h)."""
THRESHOLD_BYTES = 256 * 2**20
"""Above the arrays of a 1,000-simulation answer, below what a worker can spare."""


def tune_allocator(threshold_bytes: int = THRESHOLD_BYTES) -> bool:
    """Raise glibc's trim and mmap thresholds for this process; False where the C
    library is not glibc (nothing changes there)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(M_TRIM_THRESHOLD, threshold_bytes)) and \
        bool(mallopt(M_MMAP_THRESHOLD, threshold_bytes))


__all__ = ["THRESHOLD_BYTES", "tune_allocator"]
