"""Pit strategy: the rest of the race simulated from a snapshot, the candidates for one
car compared on the same random numbers, the advice with its odds."""

from cognirace.strategy.advice import (
    CautionCall,
    StrategyAnswer,
    advise,
    caution_call,
    recommend,
)
from cognirace.strategy.advisor import Advice, Advisor
from cognirace.strategy.candidates import Candidate, candidates_for
from cognirace.strategy.fuel_load import FuelLoad, start_fuel
from cognirace.strategy.montecarlo import CandidateOutcome, RestOfRace, simulate_rest
from cognirace.strategy.rejoin import Rejoin, estimate_rejoin
from cognirace.strategy.scoring import CandidateSummary
from cognirace.strategy.snapshot import CarSnapshot, RaceSnapshot, check_snapshot

__all__ = [
    "Advice",
    "Advisor",
    "Candidate",
    "CandidateOutcome",
    "CandidateSummary",
    "CarSnapshot",
    "CautionCall",
    "FuelLoad",
    "RaceSnapshot",
    "Rejoin",
    "RestOfRace",
    "StrategyAnswer",
    "advise",
    "candidates_for",
    "caution_call",
    "check_snapshot",
    "estimate_rejoin",
    "recommend",
    "simulate_rest",
    "start_fuel",
]
