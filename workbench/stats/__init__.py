"""Statistics for verdicts that know their own power: multiplicity, power and MDE, planning, sequential tests,
noise-aware call comparisons, A/B analysis of logged traffic. Pure functions; resampling is seeded."""

from .anytime import confidence_sequence
from .calls import CallComparison, compare_calls
from .multiplicity import holm
from .power import POWER, mcnemar_mde, mcnemar_power, mcnemar_pvalue, paired_mde, paired_power, two_sample_mde
from .sequential import Design, SequentialState, paired_looks

__all__ = [
    "POWER",
    "CallComparison",
    "Design",
    "SequentialState",
    "compare_calls",
    "confidence_sequence",
    "holm",
    "mcnemar_mde",
    "mcnemar_power",
    "mcnemar_pvalue",
    "paired_looks",
    "paired_mde",
    "paired_power",
    "two_sample_mde",
]
