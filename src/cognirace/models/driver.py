"""Driver-style embedding: a vector per lap such that one driver's laps lie close together.

Rows come from ``cognirace.features.style.style_table``: one per race, car and green lap
with telemetry, with braking, throttle, corner-speed, steering and gear-use features.
The label is the driver's identity, which the timing files do not carry: it comes from
the simulator's truth (``cars.driver_id``, persistent across a season's races). Real
data names the car number only, and one car may change drivers between events.

``DriverEmbeddingModel`` z-scores each feature against the training field at the lap's
track (a hairpin lowers everyone's corner speeds; the z-score keeps only how a driver
differs from the field there), then projects with linear discriminant analysis: the
directions that best separate drivers relative to the spread of one driver's laps
across laps, races and tracks. A feature a lap could not measure (NaN: the pedal-based
throttle features at the tracks that log only the throttle blade, a lap without an
upshift) has z-score 0, the field's average, so it neither pulls the lap toward a
driver nor away; a feature no lap of a track measured keeps the pooled field's scale.
``RandomEmbeddingBaseline`` gives each row a random unit vector seeded by its keys, so
nearest-neighbour identification is at chance.

``score_driver`` identifies drivers by nearest neighbour: the gallery holds each
driver's mean embedding per race; queries are single laps and stint means from other
races, so a driver must be recognised in a race (often at a track) the gallery lacks.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from typing import ClassVar

import numpy as np
import numpy.typing as npt
import polars as pl
import scipy.linalg

from cognirace.errors import DataError
from cognirace.features.style import STYLE_FEATURES, style_table
from cognirace.models.arrays import float_matrix
from cognirace.models.artifacts import ModelState
from cognirace.models.base import Model
from cognirace.models.driver_map import plot_embedding
from cognirace.models.schema import ColumnSpec
from cognirace.models.task import Task, truth_by_car

FloatArray = npt.NDArray[np.float64]

KEYS: tuple[str, ...] = ("race_id", "vehicle_id", "lap")
TARGET = "driver_id"
N_DIMS = 8

_UNITS: dict[str, tuple[str, str]] = {
    "peak_brake_bar": ("bar", "Highest front brake pressure of the lap"),
    "brake_bar_per_g": ("bar/g", "Front brake pressure per g of deceleration"),
    "brake_zone_m": ("m", "Mean length of a braking zone (from lap distance)"),
    "brake_frac": ("", "Share of samples braking"),
    "trail_brake_frac": ("", "Share of braking samples with the wheel turned (trail braking)"),
    "peak_decel_g": ("g", "Highest deceleration of the lap"),
    "throttle_rate_pct_s": ("%/s", "Mean rate of throttle application while it rises"),
    "full_after_apex_s": ("s", "Mean time from a corner's slowest point to full throttle"),
    "full_throttle_frac": ("", "Share of samples at full throttle (pedal or blade)"),
    "partial_throttle_pct": ("%", "Mean throttle (the track's pedal, else its blade) when "
                             "between 10 % and full"),
    "apex_speed_rel": ("", "Mean corner minimum speed over the lap's mean speed"),
    "peak_lat_g": ("g", "95th percentile of lateral acceleration"),
    "steer_rate_rel": ("1/s", "Mean steering rate over mean steering angle (smoothness)"),
    "upshift_rpm": ("1/min", "Mean revs just before an upshift"),
}



def _input(name: str) -> ColumnSpec:
    """A style feature's spec; corner speeds share one description pattern."""
    unit, text = _UNITS.get(
        name, ("", f"Speed at the lap's number {name[6]} slowest corner over its mean speed"))
    return ColumnSpec(name, "Float64", text, unit)


INPUTS: tuple[ColumnSpec, ...] = (
    ColumnSpec("track", "String", "Track key (`barber`)"),
    *(_input(name) for name in STYLE_FEATURES),
)
TARGETS: tuple[ColumnSpec, ...] = (
    ColumnSpec(TARGET, "String", "Driver identity (simulator truth; real data lacks it)"),
)


def _outputs(n_dims: int) -> tuple[ColumnSpec, ...]:
    return tuple(ColumnSpec(f"emb_{i}", "Float64", f"Driver-style embedding, axis {i}")
                 for i in range(n_dims))


def _features(frame: pl.DataFrame) -> FloatArray:
    return float_matrix(frame, STYLE_FEATURES)


def field_stats(x: FloatArray, fallback: tuple[FloatArray, FloatArray] | None = None
                ) -> tuple[FloatArray, FloatArray]:
    """Mean and scale (std, 1 where it is 0) of each column over its finite values.

    A column without a finite value (a feature no lap of this field could measure, such
    as a corner speed of a track with fewer corners) takes ``fallback``'s mean and scale
    (the pooled field's), else 0 and 1; it is never averaged over nothing.
    """
    has = np.isfinite(x).any(axis=0)
    mean, std = np.zeros(x.shape[1]), np.zeros(x.shape[1])
    if has.any():
        mean[has] = np.nanmean(x[:, has], axis=0)
        std[has] = np.nanstd(x[:, has], axis=0)
    scale = np.where(std > 1e-9, std, 1.0)
    if fallback is not None:
        mean = np.where(has, mean, fallback[0])
        scale = np.where(has, scale, fallback[1])
    return mean, scale


def lda_projection(x: FloatArray, labels: npt.NDArray[np.str_], n_dims: int,
                   shrinkage: float) -> FloatArray:
    """Columns spanning the directions that best separate ``labels`` (Fisher's LDA).

    Solves ``S_b w = lambda S_w w`` with the within-class scatter shrunk toward the
    identity by ``shrinkage`` (0..1) so a feature constant within drivers cannot blow
    up; columns beyond the rank (classes - 1) are zero.
    """
    classes = np.unique(labels)
    mean = x.mean(axis=0)
    s_w = np.zeros((x.shape[1], x.shape[1]))
    s_b = np.zeros_like(s_w)
    for c in classes:
        xc = x[labels == c]
        centred = xc - xc.mean(axis=0)
        s_w += centred.T @ centred
        diff = (xc.mean(axis=0) - mean)[:, None]
        s_b += len(xc) * (diff @ diff.T)
    s_w /= len(x)
    s_b /= len(x)
    s_w = (1.0 - shrinkage) * s_w + shrinkage * np.trace(s_w) / len(s_w) * np.eye(len(s_w))
    values, vectors = scipy.linalg.eigh(s_b, s_w)
    order = np.argsort(values)[::-1][:min(n_dims, len(classes) - 1, x.shape[1])]
    w = np.zeros((x.shape[1], n_dims))
    w[:, :len(order)] = vectors[:, order]
    return w


class DriverEmbeddingModel(Model):
    """Per-track z-scored style features, projected to ``n_dims`` by LDA on driver identity.

    Hyperparameters:
        n_dims: Embedding size (output columns ``emb_0`` ...).
        shrinkage: Share (0..1) of the within-driver scatter replaced by its mean
            variance; more keeps noisy features from dominating.
        clip_z: Bound on each z-score, so one bad sample cannot throw a lap far away.
        min_field_laps: For a track the training data lacks, the laps of that track in
            the frame being predicted serve as its field when there are at least this
            many (a batch of a new race); fewer fall back to the pooled training field,
            which leaves the track's offset in the embedding.
    """

    kind = "driver_embedding"
    kind_version = "2"  # throttle features from the pedal only
    inputs = INPUTS
    targets = TARGETS
    outputs = _outputs(N_DIMS)
    keys: ClassVar[tuple[str, ...]] = KEYS

    tracks_: list[str]
    track_mean_: FloatArray
    track_scale_: FloatArray
    projection_: FloatArray

    def __init__(self, *, n_dims: int = N_DIMS, shrinkage: float = 0.1,
                 clip_z: float = 5.0, min_field_laps: int = 50) -> None:
        self.n_dims = n_dims
        self.shrinkage = shrinkage
        self.clip_z = clip_z
        self.min_field_laps = min_field_laps

    def output_schema(self) -> tuple[ColumnSpec, ...]:
        return _outputs(self.n_dims)

    def _fit(self, frame: pl.DataFrame) -> None:
        frame = frame.filter(pl.col(TARGET).is_not_null())
        if frame["driver_id"].n_unique() < 2:
            raise DataError("an embedding needs laps of at least two drivers", column=TARGET,
                            hint="build rows with driver_rows from races with telemetry")
        x = _features(frame)
        self.tracks_ = sorted(set(frame["track"].to_list()))
        pooled = field_stats(x)
        stats = [pooled] + [field_stats(x[(frame["track"] == t).to_numpy()], pooled)
                            for t in self.tracks_]
        self.track_mean_ = np.vstack([m for m, _ in stats])
        self.track_scale_ = np.vstack([sc for _, sc in stats])
        labels = frame[TARGET].to_numpy().astype(str)
        self.projection_ = lda_projection(self._zscore(frame), labels, self.n_dims,
                                          self.shrinkage)

    def _zscore(self, frame: pl.DataFrame) -> FloatArray:
        """Features as z-scores against the field at each row's track (see ``min_field_laps``
        for tracks the training data lacked); NaN becomes the field's 0."""
        x = _features(frame)
        tracks = frame["track"].to_numpy().astype(str)
        index = {t: i + 1 for i, t in enumerate(self.tracks_)}
        rows = np.array([index.get(t, 0) for t in tracks], dtype=np.int64)
        mean, scale = self.track_mean_[rows], self.track_scale_[rows]
        pooled = (self.track_mean_[0], self.track_scale_[0])
        for track in sorted(set(tracks) - set(self.tracks_)):
            mask = tracks == track
            if mask.sum() >= self.min_field_laps:
                mean[mask], scale[mask] = field_stats(x[mask], pooled)
        z = (x - mean) / scale
        return np.clip(np.nan_to_num(z), -self.clip_z, self.clip_z)

    def _predict(self, frame: pl.DataFrame) -> pl.DataFrame:
        emb = self._zscore(frame) @ self.projection_
        return pl.DataFrame({f"emb_{i}": emb[:, i] for i in range(self.n_dims)},
                            schema=dict.fromkeys((f"emb_{i}" for i in range(self.n_dims)),
                                                 pl.Float64))

    def _get_state(self) -> ModelState:
        return ModelState(values={"tracks": self.tracks_},
                          arrays={"track_mean": self.track_mean_,
                                  "track_scale": self.track_scale_,
                                  "projection": self.projection_})

    def _set_state(self, state: ModelState) -> None:
        self.tracks_ = [str(t) for t in state.values["tracks"]]
        self.track_mean_ = np.asarray(state.arrays["track_mean"], dtype=np.float64)
        self.track_scale_ = np.asarray(state.arrays["track_scale"], dtype=np.float64)
        self.projection_ = np.asarray(state.arrays["projection"], dtype=np.float64)


class RandomEmbeddingBaseline(Model):
    """Baseline: a random unit vector per row, seeded by the row's keys (chance level)."""

    kind = "driver_embedding_random"
    kind_version = "1"
    inputs = (ColumnSpec("race_id", "String", "Race key"),
              ColumnSpec("vehicle_id", "String", "Vehicle key"),
              ColumnSpec("lap", "Int32", "Lap number", "laps", 1, 500))
    targets = TARGETS
    outputs = _outputs(N_DIMS)
    keys: ClassVar[tuple[str, ...]] = KEYS

    n_drivers_: int

    def __init__(self, *, n_dims: int = N_DIMS, seed: int = 0) -> None:
        self.n_dims = n_dims
        self.seed = seed

    def output_schema(self) -> tuple[ColumnSpec, ...]:
        return _outputs(self.n_dims)

    def _fit(self, frame: pl.DataFrame) -> None:
        self.n_drivers_ = int(frame[TARGET].n_unique())

    def _predict(self, frame: pl.DataFrame) -> pl.DataFrame:
        emb = np.zeros((frame.height, self.n_dims))
        for i, key in enumerate(zip(frame["race_id"], frame["vehicle_id"], frame["lap"],
                                    strict=True)):
            rng = np.random.default_rng([self.seed, zlib.crc32(repr(key).encode())])
            v = rng.normal(size=self.n_dims)
            emb[i] = v / max(float(np.linalg.norm(v)), 1e-12)
        return pl.DataFrame({f"emb_{i}": emb[:, i] for i in range(self.n_dims)},
                            schema=dict.fromkeys((f"emb_{i}" for i in range(self.n_dims)),
                                                 pl.Float64))

    def _get_state(self) -> ModelState:
        return ModelState(values={"n_drivers": self.n_drivers_})

    def _set_state(self, state: ModelState) -> None:
        self.n_drivers_ = int(state.values["n_drivers"])


def driver_rows(styles: pl.DataFrame,
                truth: Mapping[str, pl.DataFrame] | None = None) -> pl.DataFrame:
    """Style rows labelled with the truth's ``driver_id`` (laps of unknown drivers dropped).

    Raises:
        DataError: No truth tables were given (real data has no driver identity).
    """
    if truth is None or "cars" not in truth:
        raise DataError("driver identity comes from the simulator's truth, which is missing",
                        hint="train the driver embedding on simulated races with truth/")
    cars = truth_by_car(truth, "cars").select("race_id", "car_number", TARGET)
    return (styles.join(cars.unique(["race_id", "car_number"]), on=["race_id", "car_number"],
                        how="inner")
            .filter(pl.col(TARGET).is_not_null()).sort(*KEYS))


def _split_units(frame: pl.DataFrame) -> pl.Series:
    """Each row's gallery unit: its race; with a single race, its car's half of the race
    (first or second half of its laps), so a one-race test still has disjoint sides."""
    if frame["race_id"].n_unique() >= 2:
        return frame["race_id"]
    car = ["race_id", "car_number"]
    late = pl.col("lap").rank("ordinal").over(car) > pl.len().over(car) / 2
    return frame.select(pl.col("race_id") + pl.when(late).then(pl.lit("#b"))
                        .otherwise(pl.lit("#a"))).to_series()


def _identify(gallery: pl.DataFrame, queries: pl.DataFrame, dims: list[str]) -> FloatArray:
    """Rank of each query's true driver (0 = nearest) among the gallery's drivers."""
    g = gallery.select(dims).to_numpy()
    q = queries.select(dims).to_numpy()
    dist = ((q[:, None, :] - g[None, :, :]) ** 2).sum(axis=2)
    drivers = np.array(sorted(set(gallery[TARGET].to_list())))
    g_driver = np.searchsorted(drivers, gallery[TARGET].to_numpy().astype(str))
    per_driver = np.full((len(q), len(drivers)), np.inf)
    for j, d in enumerate(g_driver):
        per_driver[:, d] = np.minimum(per_driver[:, d], dist[:, j])
    truth = np.searchsorted(drivers, queries[TARGET].to_numpy().astype(str))
    own = per_driver[np.arange(len(q)), truth]
    return np.asarray((per_driver < own[:, None]).sum(axis=1), dtype=np.float64)


def identification(rows: pl.DataFrame, predictions: pl.DataFrame,
                   by: tuple[str, ...] = ()) -> tuple[FloatArray, FloatArray]:
    """Nearest-neighbour ranks of the true driver and the gallery sizes, per query.

    The gallery is each driver's mean embedding per unit (race); queries are laps
    (``by`` empty) or means over ``by`` (e.g. ``("car_number", "stint")``) from other
    units, for drivers the gallery holds.
    """
    dims = [c for c in predictions.columns if c.startswith("emb_")]
    frame = pl.concat([rows.select(*KEYS, "car_number", "stint", TARGET),
                       predictions.select(dims)],
                      how="horizontal").with_columns(_unit=_split_units(rows))
    gallery = frame.group_by("_unit", TARGET).agg(pl.col(dims).mean())
    queries = frame if not by else frame.group_by("_unit", TARGET, *by).agg(
        pl.col(dims).mean())
    ranks, sizes = [], []
    for unit in sorted(set(frame["_unit"].to_list())):
        others = gallery.filter(pl.col("_unit") != unit)
        mine = queries.filter((pl.col("_unit") == unit)
                              & pl.col(TARGET).is_in(others[TARGET].unique().to_list()))
        if mine.is_empty():
            continue
        ranks.append(_identify(others, mine, dims))
        sizes.append(np.full(mine.height, float(others[TARGET].n_unique())))
    if not ranks:
        return np.zeros(0), np.zeros(0)
    return np.concatenate(ranks), np.concatenate(sizes)


def score_driver(rows: pl.DataFrame, predictions: pl.DataFrame) -> dict[str, float]:
    """Top-1 and top-5 identification of laps and of stint means, with chance level."""
    metrics: dict[str, float] = {}
    for suffix, by in (("", ()), ("_stint", ("car_number", "stint"))):
        ranks, sizes = identification(rows, predictions, by)
        n = len(ranks)
        metrics[f"top1{suffix}"] = float((ranks < 1).mean()) if n else 0.0
        metrics[f"top5{suffix}"] = float((ranks < 5).mean()) if n else 0.0
        metrics[f"n_queries{suffix}"] = float(n)
        if not suffix:
            metrics["chance_top1"] = float((1.0 / sizes).mean()) if n else 0.0
            metrics["n_drivers"] = float(rows[TARGET].n_unique())
    return metrics


TASK = Task(
    name="driver",
    title="Driver-style embedding: a vector per lap that recognises its driver",
    model=DriverEmbeddingModel,
    baseline=RandomEmbeddingBaseline,
    rows=driver_rows,
    score=score_driver,
    primary="top1",
    higher_is_better=True,
    target_source="simulator truth: each car's persistent `driver_id` (cars table)",
    real_data_note="Real timing files name the car number, not the driver; the embedding "
                   "still runs on real telemetry, but labels for training and scoring "
                   "come only from the simulator (or a hand-made car-to-driver table).",
    limits=(
        "Needs telemetry: races without it give no rows.",
        "The simulator's drivers differ in three style parameters (corner margin, brake "
        "and throttle use) plus lap-to-lap noise; real drivers differ in more ways.",
        "Throttle features come from the pedal (`aps`) only: at the five tracks that log "
        "only the throttle blade (`ath`) a driver is recognised from braking, corners, "
        "steering and gears alone.",
        "At 2 Hz a corner's slowest point and a braking zone's ends are sampled coarsely.",
        "At a track the training data lacks, a batch's own laps there (at least "
        "`min_field_laps`) stand in for the field, so such predictions depend on the "
        "batch; a single lap there is read against the pooled field and carries the "
        "track's offset.",
        "Scored on a single race, gallery and queries are the two halves of each car's "
        "race rather than different races.",
    ),
    needs_truth=True,
    source=style_table,
)


__all__ = [
    "TASK",
    "DriverEmbeddingModel",
    "RandomEmbeddingBaseline",
    "driver_rows",
    "field_stats",
    "identification",
    "lda_projection",
    "plot_embedding",
    "score_driver",
]
