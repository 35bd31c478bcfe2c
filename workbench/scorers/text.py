"""Text checks: exact match, containment, forbidden terms, the dataset's per-case checks."""

from __future__ import annotations

from ..checks import normalise
from .base import Sample, Score, scorer

DEFAULT_FORBIDDEN = ("as an ai", "as a language model", "i am an ai")


@scorer
def exact_match(ignore_case: bool = True):
    """The output equals the expected answer, whitespace folded."""

    def score(sample: Sample) -> bool | None:
        if sample.case.expected is None:
            return None
        return normalise(sample.output, ignore_case) == normalise(sample.case.expected, ignore_case)

    return score


@scorer
def contains(ignore_case: bool = True):
    """The expected answer appears inside the output."""

    def score(sample: Sample) -> bool | None:
        if sample.case.expected is None:
            return None
        return normalise(sample.case.expected, ignore_case) in normalise(sample.output, ignore_case)

    return score


@scorer
def forbidden_terms(terms: list[str] = list(DEFAULT_FORBIDDEN), ignore_case: bool = True):  # noqa: B006 (a spec records its defaults as lists; never mutated)
    """None of `terms` appears in the output."""
    wanted = [normalise(t, ignore_case) for t in terms]

    def score(sample: Sample) -> Score:
        text = normalise(sample.output, ignore_case)
        found = [t for t in wanted if t in text]
        return Score(not found, f"found: {', '.join(found)}" if found else None)

    return score


@scorer
def case_checks():
    """The case's own `checks`: all of `must_contain` present, none of `must_not_contain` (case-insensitive)."""

    def score(sample: Sample) -> Score | None:
        if not (sample.case.checks.must_contain or sample.case.checks.must_not_contain):
            return None
        text = normalise(sample.output)
        missing = [t for t in sample.case.checks.must_contain if normalise(t) not in text]
        present = [t for t in sample.case.checks.must_not_contain if normalise(t) in text]
        reasons = ([f"missing: {', '.join(missing)}"] if missing else []) + (
            [f"contains: {', '.join(present)}"] if present else []
        )
        return Score(not reasons, "; ".join(reasons) or None)

    return score
