"""Broken custom scorers for the bad-input table (`tests.bad_inputs.scorers:returns_nan`)."""

from workbench.scorers import Sample


def returns_nan(sample: Sample) -> float:
    return float("nan")


def returns_inf(sample: Sample) -> float:
    return float("inf")


def returns_dict(sample: Sample) -> dict:
    return {"score": 1}


def raises(sample: Sample) -> float:
    return 1 / 0
