"""The race simulator: GR Cup seasons in the real file format, with the ground truth.

Layers, each a module: ``layout`` (track centre lines), ``car`` (the GR86),
``lapsim`` (quasi-steady-state lap simulation and per-track grip calibration),
``drivers`` (persistent styles, regulars and occasional entrants, car numbers as text),
``events`` (cautions, faults), ``plan`` (what is drawn before the start: cautions,
stops, retirements), ``pace`` (lap scatter, the yellow's share of each lap),
``traffic`` (dirty air, passes, the yellow queue), ``weather``, ``engine`` (the
lap-by-lap race, state as ``[lap, car]`` arrays, lap time as a sum of named terms),
``result`` (the race handed over, standings), ``stops`` (positions and gaps around each
stop), ``decisions`` and ``tape`` (branching a race: one car's stops decided, every other
random number as in the race without them),
``telemetry`` (per car and lap, from the speed profiles, each lap's own line),
``sensors`` (noise, throttle blade, brake bias, sensor faults), ``logger`` (the real
logger's clocks, batches, slow channels and row order), ``car_files``/``timing_files``/
``race_files``/``truth`` (writers) and ``season`` (orchestration; ``branch`` re-runs one
race of a season with decisions, timing only).
``bench/calibrate.py`` compares simulated races with the real 2025 ones.

Output layout of ``simulate_season(out, ...)``, one folder per event (a weekend at one
track, Race 1 the day before Race 2)::

    OUT/
      I_R<nn>_<YYYY-MM-DD>/               meta_event of the weekend (round, Race 2's date)
        <track>/                          barber, cota, indianapolis, road_america, ...
          <telemetry file>                long format, CSV, LF (only when asked for)
          <lap start/end/time files>      CSV, LF; names by domain.formats.car_file_name:
                                          style 0 at Barber (R1_barber_lap_start.csv),
                                          style 1 elsewhere (cota_lap_start_time_R1.csv);
                                          the ``value`` variant at COTA and Road America
          03_Results GR Cup Race N Official_Anonymized.CSV
                                          (03_Provisional Results_Race N_Anonymized.CSV at
                                          VIR and Sebring)
          05_Results by Class GR Cup Race N Official_Anonymized.CSV
          23_AnalysisEnduranceWithSections_Race N_Anonymized.CSV
          26_Weather_Race N_Anonymized.CSV
          99_Best 10 Laps By Driver_Race N_Anonymized.CSV
                                          semicolon files: LF, no trailing ';' (at
                                          Indianapolis: BOM, CRLF, trailing ';', team and
                                          driver columns), as the real ones
          truth/R<N>_race|cars|laps|cautions|pit_stops|faults.parquet

The logger files are written the way the real logger writes them (see ``logger``): the
telemetry ``timestamp`` is each car's ECU clock, days behind real time; ``meta_time``
the receiver's batch time; slow channels; stretches stored newest first; duplicates;
float artifacts. Lap files carry the crossing in real time in ``timestamp``. Quirks
appear at the rates of ``QuirkRates`` (on by default): lap 32768 over stretches of some
cars' telemetry, impossible lap numbers (32768, 65535, -1) on a few rows of the lap
start/end/time files, number 0 (``GR86-<chassis>-000``) for a few cars in the telemetry
and lap files (the timing files keep the true number), ``aps``/``ath``/GPS missing where
the real track lacks them, and no telemetry for the season's first Sebring Race 1;
``QuirkRates.none()`` also puts the ECU clock on real time and the rows in order. The
truth records which car got which quirk and each car's true ECU offset.

Everything random comes from generators seeded from the season's ``seed``: the same
seed writes byte-identical files.
"""

from cognirace.sim.config import QuirkRates, RaceConfig
from cognirace.sim.decisions import Decision
from cognirace.sim.drivers import Driver, make_roster
from cognirace.sim.engine import TERMS, RaceResult, physics_floor_s, simulate_race
from cognirace.sim.lapsim import SpeedProfile, Style, driver_profile, simulate_lap
from cognirace.sim.layout import TrackLayout, build_layout
from cognirace.sim.season import (
    RaceSummary,
    SeasonRace,
    SeasonSummary,
    branch,
    plan_season,
    race_field,
    race_folder,
    season_races,
    season_roster,
    simulate_one,
    simulate_season,
)
from cognirace.sim.staged import write_season_race

__all__ = [
    "TERMS",
    "Decision",
    "Driver",
    "QuirkRates",
    "RaceConfig",
    "RaceResult",
    "RaceSummary",
    "SeasonRace",
    "SeasonSummary",
    "SpeedProfile",
    "Style",
    "TrackLayout",
    "branch",
    "build_layout",
    "driver_profile",
    "make_roster",
    "physics_floor_s",
    "plan_season",
    "race_field",
    "race_folder",
    "season_races",
    "season_roster",
    "simulate_lap",
    "simulate_one",
    "simulate_race",
    "simulate_season",
    "write_season_race",
]
