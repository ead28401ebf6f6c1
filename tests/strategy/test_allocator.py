"""The allocator tuning the service applies at start."""

from __future__ import annotations

import platform

from cognirace.strategy.allocator import tune_allocator


def test_glibc_takes_the_thresholds_and_other_libraries_are_left_alone() -> None:
    tuned = tune_allocator()
    if platform.system() == "Linux" and platform.libc_ver()[0] == "glibc":
        assert tuned
    else:
        assert tuned is False
