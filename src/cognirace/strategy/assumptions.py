"""Every number the strategy assumes rather than reads from a snapshot, in one place.

The snapshot carries what the models know (lap-time quantiles, wear, burn, pit losses,
the caution hazard, pass chances). What no model gives has to be assumed; each such
value is here, with its unit, where it comes from and why it is reasonable, so a reader
can check it and a test can pin it. None is copied from the simulator's source: they
come from public material (``REFERENCE.md``) or from physics, and the strategy must
stand on its own against any simulator it is checked on.
"""

from __future__ import annotations

# --- fuel and mass --------------------------------------------------------------------

FUEL_DENSITY_KG_PER_L = 0.74
"""Density of pump-grade gasoline, kg/l (EN 228 allows 0.720 to 0.775 at 15 °C)."""

CAR_MASS_KG = 1300.0
"""GR86 cup car with driver, kg (REFERENCE.md, *est.*)."""

MASS_SENSITIVITY = 0.28
"""Relative lap-time change per relative mass change, Δt/t ÷ Δm/m (dimensionless).

From the F1 fits quoted in REFERENCE.md: 0.031 s/kg on a lap of about 90 s in a car of
about 800 kg gives 0.031 × 800 / 90 ≈ 0.28. A lap is a mix of grip-limited corners and
power-limited straights in both cars, so the relative figure carries over better than
the per-kilogram one. For a GR86 on a 100 s lap this is 0.28 × 100 / 1300 ≈ 0.022 s/kg,
inside REFERENCE.md's 0.02 to 0.03 s/kg estimate for the car."""

FUEL_CELL_L = 83.0
"""GR86 cup car fuel cell, l (REFERENCE.md: 83 l, 22 gal)."""

CAUTION_BURN_RATIO = 0.5
"""Burn of a caution lap over a green lap (REFERENCE.md: about half)."""

BURN_CAR_CV = 0.03
"""Spread of a car's true burn around the fuel model's answer, as a coefficient of
variation held for the whole run (a car that burns more burns more every lap; lap-to-lap
scatter averages out over the laps left and is left out)."""

REFUEL_L_PER_S = 2.0
"""Fuel a gravity can puts in, l/s; a splash adds its litres ÷ this to the stop."""

FIELD_FUEL_RESERVE_LAPS = 2.0
"""Another car with fuel data stops for a splash when it has less than this many green
laps' burn left and the clock is still running (it does not run itself dry)."""

FIELD_FUEL_MARGIN_LAPS = 2.0
"""A splash gives a car the burn of the laps its clock leaves plus this many."""

# --- cautions -------------------------------------------------------------------------

CAUTION_PACE_RATIO = 1.4
"""Lap under caution over the field's median green lap, when the snapshot has no
``caution_lap_s`` (REFERENCE.md: FCY laps run about ×1.4 slower)."""

CAUTION_CATCH_RATIO = 1.15
"""Lap of a car closing up on the caution queue over its own green lap: it must slow
at the yellow but has not yet reached the queue's pace."""

CAUTION_GAP_S = 1.0
"""Gap between cars in the caution queue, s (about five car lengths at queue speed)."""

CAUTION_LAPS = (1, 2, 3, 4, 5)
CAUTION_LAPS_P = (0.1875, 0.5625, 0.125, 0.0625, 0.0625)
"""Length of a caution in the leader's laps and its probability: as the 2025 season's
timing counts them (laps crossed under the yellow; ``strategy.caution_record`` on the
14 real races: 16 cautions, of 1, 2, 3, 4 and 5 laps 3, 9, 2, 1 and 1 times). Most
last two laps in a 45-minute GR Cup race, shorter than F1's three."""

ONGOING_CAUTION_ELAPSED_LAPS = 1
"""A caution already out at the snapshot is taken to have run this many laps; the laps
left are a fresh length less this (at least one). The snapshot does not say when it
started, and assuming it has just started keeps the cheap stop on the table."""

FIELD_CAUTION_STOP_P = 0.016
"""Chance that another car stops (new tires, a repair) in a caution, counted at its
start: the 2025 season's timing (``strategy.caution_record`` on the 14 real races: 7
stops by the 433 cars running at the start of its 16 cautions). Stops are optional in
the series (REFERENCE.md: no mandatory stop), and few take the cheap one."""

# --- attrition ------------------------------------------------------------------------

ATTRITION_PER_LAP = 0.0046
"""Chance per running car and lap of dropping out of contention (retiring, or finishing
more than two laps down after a repair), from the 14 real races of 2025: 35 of 368
starters over 7,614 car-laps (``bench/attrition.py``, ``docs/results/attrition.txt``).
Applied by ``strategy.attrition``."""

# --- traffic --------------------------------------------------------------------------

FOLLOW_GAP_S = 0.4
"""Closest a car that fails to pass crosses the line behind the car it follows, s."""

PASS_FALLBACK_P = 0.5
"""Chance a pass the pace makes possible succeeds on a lap, for a car with no traffic
answer at a track the strategy does not know; at a known track, one minus its
``overtake_difficulty`` (``cognirace.domain.tracks``)."""

# --- lap times ------------------------------------------------------------------------

Z_QUANTILE_90 = 1.2815515655446004
"""The standard normal's 90th percentile: P10 and P90 sit this many σ from P50."""

Z_CLIP = 3.5
"""Lap-time draws are clipped at this many σ either side of P50, so a run needs a
bounded number of laps and a lap is never negative."""

__all__ = [
    "BURN_CAR_CV",
    "CAR_MASS_KG",
    "CAUTION_BURN_RATIO",
    "CAUTION_CATCH_RATIO",
    "CAUTION_GAP_S",
    "CAUTION_LAPS",
    "CAUTION_LAPS_P",
    "CAUTION_PACE_RATIO",
    "FIELD_CAUTION_STOP_P",
    "FIELD_FUEL_MARGIN_LAPS",
    "FIELD_FUEL_RESERVE_LAPS",
    "FOLLOW_GAP_S",
    "FUEL_CELL_L",
    "FUEL_DENSITY_KG_PER_L",
    "MASS_SENSITIVITY",
    "ONGOING_CAUTION_ELAPSED_LAPS",
    "PASS_FALLBACK_P",
    "REFUEL_L_PER_S",
    "Z_CLIP",
    "Z_QUANTILE_90",
    "fuel_s_per_l",
]


def fuel_s_per_l(lap_time_s: float) -> float:
    """Lap time one litre of fuel costs, s per l per lap, on a lap of ``lap_time_s``.

    ``MASS_SENSITIVITY × lap_time_s / CAR_MASS_KG × FUEL_DENSITY_KG_PER_L``: about
    0.016 s/l on a 100 s lap.
    """
    return MASS_SENSITIVITY * lap_time_s / CAR_MASS_KG * FUEL_DENSITY_KG_PER_L
