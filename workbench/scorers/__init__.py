"""Scorers: the contract (`scorer`, `Score`, `Scorer`) and the built-ins."""

from .base import REGISTRY, Sample, Score, Scorer, from_spec, get_scorer, scorer
from .text import case_checks, contains, exact_match, forbidden_terms

DEFAULT_SCORERS = ("exact_match", "contains", "forbidden_terms", "case_checks")

__all__ = ["DEFAULT_SCORERS", "REGISTRY", "Sample", "Score", "Scorer", "case_checks", "contains", "exact_match",
           "forbidden_terms", "from_spec", "get_scorer", "scorer"]
