"""Comparing a screenshot with a stored baseline, with a tolerance for antialiasing.

Both pictures are shrunk by ``SHRINK`` (a box filter: the stored baseline stays small,
and a one-pixel shift of a glyph's edge averages away) and compared in grey levels. A
pixel *differs* when its grey level moved by more than ``LEVELS``; the pictures match
while the share of differing pixels stays under ``SHARE``. A broken layout moves whole
panels and changes tens of percent of the pixels; the same page drawn by the same
Chromium with the same fonts changes none or a few.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

SHRINK = 4
LEVELS = 24
"""A grey level change above this (of 255) counts as a differing pixel."""
SHARE = 0.01
"""The largest share of differing pixels that still matches."""


def shrunk(png: bytes) -> Image.Image:
    """The screenshot at 1/``SHRINK`` of its size, RGB."""
    image = Image.open(io.BytesIO(png)).convert("RGB")
    width, height = image.size
    return image.resize((width // SHRINK, height // SHRINK), Image.Resampling.BOX)


def differing_share(picture: Image.Image, baseline: Image.Image) -> float:
    """The share of pixels whose grey level differs by more than ``LEVELS`` (1.0 when the
    sizes differ: a page of another size is a broken layout too)."""
    if picture.size != baseline.size:
        return 1.0
    a = np.asarray(picture.convert("L"), dtype=np.int16)
    b = np.asarray(baseline.convert("L"), dtype=np.int16)
    return float(np.mean(np.abs(a - b) > LEVELS))


def compare(png: bytes, baseline: Path, *, update: bool = False) -> float:
    """The share of differing pixels between ``png`` (shrunk) and the stored ``baseline``;
    with ``update``, (re)write the baseline first and return 0.

    Raises:
        FileNotFoundError: No baseline is stored; the message says how to make one.
    """
    picture = shrunk(png)
    if update:
        baseline.parent.mkdir(parents=True, exist_ok=True)
        picture.save(baseline, optimize=True)
    if not baseline.exists():
        raise FileNotFoundError(f"no baseline at {baseline}: make it with "
                                "DASHBOARD_UPDATE_BASELINE=1 pytest tests/dashboard -n 0")
    with Image.open(baseline) as stored:
        return differing_share(picture, stored.convert("RGB"))
