"""Driver-style embedding: a vector per lap such that one driver's laps lie close together.

Rows come from ``cognirace.features.style.style_table``: one per race, car and green lap
with telemetry, with braking, throttle, corner-speed, steering and gear-use features.
The label is the driver's identity, which the timing files do not carry: it comes from
the simulator's truth (``cars.driver_id``, persistent across a season's races). Real
data names the car number only, and one car may change drivers between events.

Both the model and its baseline read a lap as z-scores against the training field at
the lap's track (``driver_field.StyleField``, which also says per lap which inputs it
could not use). ``StyleZScoreBaseline`` stops there: its embedding is the z-scores
themselves, so nearest-neighbour identification weighs every feature alike; that is
the rule an engineer comparing drivers on a spreadsheet of per-track standardised
habits would use. ``DriverEmbeddingModel`` goes on to learn from the training drivers
which directions tell drivers apart: linear discriminant analysis on driver identity,
the directions of largest spread between drivers relative to the spread of one
driver's laps across laps, races and tracks.

Identity labels are read at ``fit`` only: ``predict`` sees the track and the style
features of each lap, never the driver, car or race.

``score_driver`` (``driver_scoring``) identifies drivers by nearest neighbour: the
gallery holds each driver's mean embedding per race; queries are single laps and stint
means from other races, so a driver must be recognised in a race (often at a track) the
gallery lacks.
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
from cognirace.models.artifacts import ModelState
from cognirace.models.base import Model
from cognirace.models.driver_field import FALLBACKS_SPEC, StyleField, field_stats
from cognirace.models.driver_map import plot_embedding
from cognirace.models.driver_scoring import (
    KEYS,
    TARGET,
    driver_parts,
    identification,
    score_driver,
)
from cognirace.models.schema import FALLBACKS, ColumnSpec
from cognirace.models.task import Task, truth_by_car

FloatArray = npt.NDArray[np.float64]

N_DIMS = 6

_UNITS: dict[str, tuple[str, str]] = {
    "peak_brake_bar": ("bar", "High front brake pressure of the lap (90th percentile of its "
                       "braking samples)"),
    "brake_bar_per_g": ("bar/g", "Front brake pressure per g of deceleration"),
    "brake_zone_m": ("m", "Mean length of a braking zone (from lap distance)"),
    "brake_frac": ("", "Share of samples braking"),
    "trail_brake_frac": ("", "Share of braking samples with the wheel turned (trail braking)"),
    "peak_decel_g": ("g", "High deceleration of the lap (90th percentile of its braking "
                     "samples)"),
    "peak_accel_g": ("g", "High longitudinal acceleration off the brakes (90th percentile): "
                     "how much of the drive the driver uses"),
    "throttle_rate_pct_s": ("%/s", "Mean rate of throttle application while it rises"),
    "full_after_apex_s": ("s", "Mean time from a corner's slowest point to full throttle"),
    "full_throttle_frac": ("", "Share of samples at full throttle (pedal)"),
    "partial_throttle_pct": ("%", "Mean pedal position when between 10 % and full"),
    "apex_speed_rel": ("", "Mean corner minimum speed over the lap's mean speed"),
    "peak_lat_g": ("g", "Half the spread of lateral acceleration, 5th to 95th percentile"),
    "steer_rate_rel": ("1/s", "Mean steering rate over mean steering angle from straight "
                       "ahead (smoothness)"),
    "upshift_rpm": ("1/min", "Mean revs just before an upshift"),
}


def _input(name: str) -> ColumnSpec:
    """A style feature's spec; corner speeds share one description pattern. Each may be
    null or NaN (a lap that could not measure it): it then counts as the field's average
    and the lap's ``fallbacks`` say so."""
    unit, text = _UNITS.get(
        name, ("", f"Speed at the lap's number {name[6]} slowest corner over its mean speed"))
    return ColumnSpec(name, "Float64", text, unit)


INPUTS: tuple[ColumnSpec, ...] = (
    ColumnSpec("track", "String", "Track key (`barber`): the field the lap is read against",
               nullable=False),
    *(_input(name) for name in STYLE_FEATURES),
)
TARGETS: tuple[ColumnSpec, ...] = (
    ColumnSpec(TARGET, "String", "Driver identity (simulator truth; real data lacks it)"),
)


def _outputs(names: tuple[str, ...]) -> tuple[ColumnSpec, ...]:
    return (*(ColumnSpec(f"emb_{i}", "Float64", f"Driver-style embedding, axis {i}: {what}")
              for i, what in enumerate(names)), FALLBACKS_SPEC)


def _embedding(emb: FloatArray, fallbacks: pl.Series) -> pl.DataFrame:
    columns = {f"emb_{i}": pl.Series(emb[:, i], dtype=pl.Float64) for i in range(emb.shape[1])}
    return pl.DataFrame({**columns, FALLBACKS: fallbacks})


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


def _labelled(frame: pl.DataFrame) -> pl.DataFrame:
    """The laps with a driver, refused unless at least two drivers are among them."""
    frame = frame.filter(pl.col(TARGET).is_not_null())
    if frame[TARGET].n_unique() < 2:
        raise DataError("an embedding needs laps of at least two drivers", column=TARGET,
                        hint="build rows with driver_rows from races with telemetry")
    return frame


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
    kind_version = "3"  # fallbacks output; style field shared with the baseline
    inputs = INPUTS
    targets = TARGETS
    outputs = _outputs(tuple(f"discriminant {i + 1}" for i in range(N_DIMS)))
    keys: ClassVar[tuple[str, ...]] = KEYS

    field_: StyleField
    projection_: FloatArray

    def __init__(self, *, n_dims: int = N_DIMS, shrinkage: float = 0.05,
                 clip_z: float = 5.0, min_field_laps: int = 50) -> None:
        self.n_dims = n_dims
        self.shrinkage = shrinkage
        self.clip_z = clip_z
        self.min_field_laps = min_field_laps

    def output_schema(self) -> tuple[ColumnSpec, ...]:
        return _outputs(tuple(f"discriminant {i + 1}" for i in range(self.n_dims)))

    def _fit(self, frame: pl.DataFrame) -> None:
        frame = _labelled(frame)
        self.field_ = StyleField.fit(frame)
        z, _ = self.field_.zscore(frame, clip_z=self.clip_z, min_field_laps=self.min_field_laps)
        labels = frame[TARGET].to_numpy().astype(str)
        self.projection_ = lda_projection(z, labels, self.n_dims, self.shrinkage)

    def _predict(self, frame: pl.DataFrame) -> pl.DataFrame:
        z, fallbacks = self.field_.zscore(frame, clip_z=self.clip_z,
                                          min_field_laps=self.min_field_laps)
        return _embedding(z @ self.projection_, fallbacks)

    def _get_state(self) -> ModelState:
        field = self.field_.to_state()
        return ModelState(values=field.values,
                          arrays={**field.arrays, "projection": self.projection_})

    def _set_state(self, state: ModelState) -> None:
        self.field_ = StyleField.from_state(state)
        self.projection_ = np.asarray(state.arrays["projection"], dtype=np.float64)


class StyleZScoreBaseline(Model):
    """Baseline: the per-track z-scores of the style features, as they are.

    Nearest neighbour on this embedding compares laps feature by feature, each in units
    of its track's field spread, with no weighting learned from driver identity. It is
    fitted on the same training rows as the model (the per-track field statistics).

    Hyperparameters:
        clip_z: Bound on each z-score, as the model's.
        min_field_laps: Laps of an unseen track that make its own field, as the model's.
    """

    kind = "driver_style_zscore"
    kind_version = "1"
    inputs = INPUTS
    targets = TARGETS
    outputs = _outputs(tuple(f"z-score of {name}" for name in STYLE_FEATURES))
    keys: ClassVar[tuple[str, ...]] = KEYS

    field_: StyleField

    def __init__(self, *, clip_z: float = 5.0, min_field_laps: int = 50) -> None:
        self.clip_z = clip_z
        self.min_field_laps = min_field_laps

    def _fit(self, frame: pl.DataFrame) -> None:
        self.field_ = StyleField.fit(_labelled(frame))

    def _predict(self, frame: pl.DataFrame) -> pl.DataFrame:
        return _embedding(*self.field_.zscore(frame, clip_z=self.clip_z,
                                              min_field_laps=self.min_field_laps))

    def _get_state(self) -> ModelState:
        return self.field_.to_state()

    def _set_state(self, state: ModelState) -> None:
        self.field_ = StyleField.from_state(state)


class RandomEmbeddingBaseline(Model):
    """The former baseline: a random unit vector per row, seeded by its keys (chance).

    A straw man, no longer the task's baseline (issue 11); kept so registries that hold
    it still load and the old and fair baselines can be shown side by side once.
    """

    kind = "driver_embedding_random"
    kind_version = "1"
    inputs = (ColumnSpec("race_id", "String", "Race key", nullable=False),
              ColumnSpec("vehicle_id", "String", "Vehicle key", nullable=False),
              ColumnSpec("lap", "Int32", "Lap number", "laps", 1, 500, nullable=False))
    targets = TARGETS
    outputs = tuple(ColumnSpec(f"emb_{i}", "Float64", f"Random axis {i}")
                    for i in range(8))
    keys: ClassVar[tuple[str, ...]] = KEYS

    n_drivers_: int

    def __init__(self, *, n_dims: int = 8, seed: int = 0) -> None:
        self.n_dims = n_dims
        self.seed = seed

    def output_schema(self) -> tuple[ColumnSpec, ...]:
        return tuple(ColumnSpec(f"emb_{i}", "Float64", f"Random axis {i}")
                     for i in range(self.n_dims))

    def _fit(self, frame: pl.DataFrame) -> None:
        self.n_drivers_ = int(frame[TARGET].n_unique())

    def _predict(self, frame: pl.DataFrame) -> pl.DataFrame:
        emb = np.zeros((frame.height, self.n_dims))
        for i, key in enumerate(zip(frame["race_id"], frame["vehicle_id"], frame["lap"],
                                    strict=True)):
            rng = np.random.default_rng([self.seed, zlib.crc32(repr(key).encode())])
            v = rng.normal(size=self.n_dims)
            emb[i] = v / max(float(np.linalg.norm(v)), 1e-12)
        return pl.DataFrame({f"emb_{i}": pl.Series(emb[:, i], dtype=pl.Float64)
                             for i in range(self.n_dims)})

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


TASK = Task(
    name="driver",
    title="Driver-style embedding: a vector per lap that recognises its driver",
    model=DriverEmbeddingModel,
    baseline=StyleZScoreBaseline,
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
        "The simulator's drivers differ mostly along one axis (skill sets corner margin, "
        "brake and throttle use together) plus small independent parts and lap-to-lap "
        "noise; real drivers differ in more ways.",
        "The baseline, nearest neighbour on the same per-track z-scores, is a strong "
        "rule: the model only reweighs those features, so its edge is the weighting "
        "learned from the training season's drivers.",
        "Throttle features come from the pedal (`aps`) only: at the tracks that log "
        "only the throttle blade (`ath`) a driver is recognised from braking, corners, "
        "steering and gears alone (the lap's `fallbacks` name the throttle features).",
        "At 2 Hz a corner's slowest point and a braking zone's ends are sampled coarsely.",
        "At a track the training data lacks, a batch's own laps there (at least "
        "`min_field_laps`) stand in for the field, so such predictions depend on the "
        "batch; a single lap there is read against the pooled field and carries the "
        "track's offset (`fallbacks` names `track` either way).",
        "Scored on a single race, gallery and queries are the two halves of each car's "
        "race rather than different races.",
    ),
    needs_truth=True,
    source=style_table,
    parts=driver_parts,
)


__all__ = [
    "TASK",
    "DriverEmbeddingModel",
    "RandomEmbeddingBaseline",
    "StyleZScoreBaseline",
    "driver_parts",
    "driver_rows",
    "field_stats",
    "identification",
    "lda_projection",
    "plot_embedding",
    "score_driver",
]
