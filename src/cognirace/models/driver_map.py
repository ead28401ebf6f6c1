"""A 2-D map of driver-style embeddings (PNG), to see whether drivers form clusters.

The embedding's first two principal components, one colour per driver and one marker
per track; points are stint means when the rows carry ``stint``, so the picture shows
habits rather than lap-to-lap noise. Matplotlib is imported here only, with the Agg
backend, so no display is needed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

MARKERS = "osD^v<>pP*Xh"


def plot_embedding(rows: pl.DataFrame, predictions: pl.DataFrame, path: Path) -> Path:
    """Write the PCA map of ``predictions`` (``emb_*``) for ``rows`` (``driver_id``, ``track``).

    Returns:
        ``path``, written as PNG (parent folders created).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    dims = [c for c in predictions.columns if c.startswith("emb_")]
    keys = [c for c in ("race_id", "car_number", "stint") if c in rows.columns]
    frame = pl.concat([rows.select("driver_id", "track", *keys), predictions.select(dims)],
                      how="horizontal")
    points = frame.group_by("driver_id", "track", *keys).agg(pl.col(dims).mean()).sort(
        "driver_id", "track", *keys)
    x = points.select(dims).to_numpy()
    x = x - x.mean(axis=0)
    _, _, vt = np.linalg.svd(x, full_matrices=False)
    xy = x @ vt[:2].T if len(vt) >= 2 else np.column_stack([x[:, 0], np.zeros(len(x))])
    drivers = sorted(set(points["driver_id"].to_list()))
    tracks = sorted(set(points["track"].to_list()))
    colours = plt.get_cmap("hsv")(np.linspace(0.0, 0.92, max(len(drivers), 1)))
    fig, ax = plt.subplots(figsize=(8, 6.5), dpi=100)
    for t_i, track in enumerate(tracks):
        for d_i, driver in enumerate(drivers):
            mask = ((points["track"] == track) & (points["driver_id"] == driver)).to_numpy()
            if mask.any():
                ax.scatter(xy[mask, 0], xy[mask, 1], color=colours[d_i], s=28,
                           marker=MARKERS[t_i % len(MARKERS)], alpha=0.8)
    for t_i, track in enumerate(tracks):
        ax.scatter([], [], color="grey", marker=MARKERS[t_i % len(MARKERS)], label=track)
    ax.legend(title="track (colour = driver)", fontsize=7, loc="best")
    ax.set(xlabel="style PC 1", ylabel="style PC 2",
           title=f"Driver-style embedding: {len(drivers)} drivers, stint means")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, format="png")
    plt.close(fig)
    return path


__all__ = ["plot_embedding"]
