"""What a race without decisions drew and read, lap by lap, so that a branch replays it.

Why a tape: the engine takes every random number from one generator in sequence. Most
draws come in fixed numbers per lap (every car's noise, mistakes, fuel burn, the
restart), but traffic's do not: a pass is rolled only when one car catches another, a
queue gap only for a car on track under a yellow. A decision that moves one car changes
how many numbers a lap's traffic takes, and every later draw of the race would shift:
two branches would differ by far more than the decision. The plain race's generator
sequence must stay as it is (recorded seasons depend on it), so the plain race records:

* each traffic draw under its name (the car, and the car it tries to pass),
* the generator's state after each lap's traffic,
* the race time at which each lap reads the track temperature (the last car's
  crossing, which a stop can move).

A branch replays: each named traffic draw gets its recorded value (a draw the plain race
never took, because the cars met differently, comes from a generator of its own keyed by
the race's seed, the lap and the cars: ``keyed_rng``); after the traffic the generator
is put back to the recorded state, so every later draw is the one the plain race took;
the track temperature is read at the recorded time, so no other car's tyre wear moves.
What still differs between branches is what the decision does on track: the decided
car's laps, and the traffic of the cars it meets.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from cognirace.errors import ConfigError
from cognirace.sim.config import RaceConfig
from cognirace.sim.traffic import CAUTION_GAP_S, TrafficDraws

QUEUE = -1
"""The ``other`` car of a yellow-queue gap draw (it concerns one car only)."""

PASS_KEY = 911_002
QUEUE_KEY = 911_003
"""First words of the spawn keys of traffic draws a branch makes that its race did not;
far above any child index ``SeedSequence.spawn`` hands out."""

DrawKey = tuple[int, int]
"""``(car, other)``: the car that draws and the car it tries to pass (``QUEUE`` for a gap)."""


def race_root(rng: np.random.Generator) -> np.random.SeedSequence:
    """The seed sequence a race's generator was built from (``season.race_seed`` child).

    Raises:
        ConfigError: The generator was not built from a ``SeedSequence``.
    """
    seq = rng.bit_generator.seed_seq
    if not isinstance(seq, np.random.SeedSequence):
        raise ConfigError("a branched race needs a generator built from a seed",
                          value=type(seq).__name__,
                          hint="build it with numpy.random.default_rng(seed or SeedSequence)")
    return seq


def keyed_rng(root: np.random.SeedSequence, *key: int) -> np.random.Generator:
    """A generator of its own for one named draw of the race seeded by ``root``.

    The same race, key and code give the same numbers whatever else the race drew.
    """
    seq = np.random.SeedSequence(root.entropy, spawn_key=(*root.spawn_key, *key),
                                 pool_size=root.pool_size)
    return np.random.default_rng(seq)


@dataclass
class LapTape:
    """One lap of a plain race: clock of the temperature reading, traffic draws, state.

    Attributes:
        clock_s: Race time at which the lap read the track temperature, s.
        traffic: Traffic draws by ``(car, other)``.
        state_after: The generator's ``bit_generator.state`` after the lap's traffic.
    """

    clock_s: float = float("nan")
    traffic: dict[DrawKey, float] = field(default_factory=dict)
    state_after: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class RaceTape:
    """The tape of one plain race (see the module docstring).

    Attributes:
        config: The race.
        driver_ids: The field's drivers, in car order.
        start_state: The generator's state as the race began.
        laps: One ``LapTape`` per lap the engine ran.
    """

    config: RaceConfig
    driver_ids: tuple[str, ...]
    start_state: Mapping[str, Any]
    laps: list[LapTape]

    def check_fits(self, config: RaceConfig, driver_ids: tuple[str, ...],
                   rng: np.random.Generator) -> None:
        """Raise ``ConfigError`` unless this tape is of the race about to run.

        A branch replayed from another race's tape would be neither race.
        """
        if self.config != config or self.driver_ids != driver_ids:
            raise ConfigError("base is the result of another race or field",
                              hint="pass as base the same race run without decisions")
        if self.start_state != rng.bit_generator.state:
            raise ConfigError("base was run from another generator state",
                              hint="build the branch's generator as the base's was "
                                   "(season.branch does)")


class LapSource(Protocol):
    """Where the engine gets, per lap, its temperature clock and its traffic draws."""

    def clock_s(self, lap: int, now_s: float) -> float:
        """Race time at which lap ``lap`` (0-based) reads the track temperature, s."""
        ...

    def traffic(self, lap: int) -> TrafficDraws:
        """The traffic draws of lap ``lap``."""
        ...

    def after_traffic(self, lap: int) -> None:
        """Called once lap ``lap``'s traffic is resolved."""
        ...


@dataclass(frozen=True, slots=True)
class _RecordingDraws:
    rng: np.random.Generator
    record: dict[DrawKey, float]

    def queue_gap_s(self, car: int) -> float:
        value = float(self.rng.uniform(*CAUTION_GAP_S))
        self.record[(car, QUEUE)] = value
        return value

    def pass_roll(self, car: int, other: int) -> float:
        value = float(self.rng.random())
        self.record[(car, other)] = value
        return value


class TapeRecorder:
    """The plain race's source: draws from the race's generator and records the tape."""

    def __init__(self, tape: RaceTape, rng: np.random.Generator) -> None:
        self.tape = tape
        self.rng = rng

    def clock_s(self, lap: int, now_s: float) -> float:
        """Record and return the race's own clock."""
        self.tape.laps[lap].clock_s = now_s
        return now_s

    def traffic(self, lap: int) -> TrafficDraws:
        """Draws from the race's generator, in call order, recorded by name."""
        return _RecordingDraws(self.rng, self.tape.laps[lap].traffic)

    def after_traffic(self, lap: int) -> None:
        """Record the generator's state."""
        self.tape.laps[lap].state_after = self.rng.bit_generator.state


@dataclass(frozen=True, slots=True)
class _ReplayDraws:
    record: dict[DrawKey, float]
    root: np.random.SeedSequence
    lap: int

    def queue_gap_s(self, car: int) -> float:
        value = self.record.get((car, QUEUE))
        if value is None:
            value = float(keyed_rng(self.root, QUEUE_KEY, self.lap, car).uniform(*CAUTION_GAP_S))
        return value

    def pass_roll(self, car: int, other: int) -> float:
        value = self.record.get((car, other))
        if value is None:
            value = float(keyed_rng(self.root, PASS_KEY, self.lap, car, other).random())
        return value


class TapePlayer:
    """A branch's source: the plain race's draws and clock, its generator state restored."""

    def __init__(self, tape: RaceTape, rng: np.random.Generator,
                 root: np.random.SeedSequence) -> None:
        self.tape = tape
        self.rng = rng
        self.root = root

    def clock_s(self, lap: int, now_s: float) -> float:
        """The plain race's clock of this lap (``now_s``, the branch's own, is not used)."""
        return self.tape.laps[lap].clock_s

    def traffic(self, lap: int) -> TrafficDraws:
        """The recorded draws by name; keyed draws for names the plain race never drew."""
        return _ReplayDraws(self.tape.laps[lap].traffic, self.root, lap)

    def after_traffic(self, lap: int) -> None:
        """Put the race's generator where the plain race's was after this lap's traffic."""
        self.rng.bit_generator.state = self.tape.laps[lap].state_after


__all__ = ["QUEUE", "DrawKey", "LapSource", "LapTape", "RaceTape", "TapePlayer",
           "TapeRecorder", "keyed_rng", "race_root"]
