from __future__ import annotations

import asyncio

import pytest

from workbench.datasets import Case
from workbench.errors import WorkbenchError
from workbench.scorers import (
    REGISTRY,
    Sample,
    Score,
    case_checks,
    contains,
    exact_match,
    forbidden_terms,
    from_spec,
    get_scorer,
    scorer,
)

CASE = Case(id="c", inputs={}, expected="Paris", checks={"must_contain": ["paris"], "must_not_contain": ["London"]})


def score(s, output, case=CASE) -> Score:
    return asyncio.run(s.score(Sample(output, case)))


def test_exact_match_folds_case_and_whitespace():
    assert score(exact_match(), "  paris ").value is True
    assert score(exact_match(ignore_case=False), "paris").value is False
    assert score(exact_match(), "x", Case(id="n", inputs={})).value is None


def test_contains_expected():
    assert score(contains(), "It is Paris.").value is True
    assert score(contains(), "It is Lyon.").value is False


def test_forbidden_terms_gives_its_reason():
    result = score(forbidden_terms(terms=["As an AI"]), "As an AI, I think Paris.")
    assert result == Score(False, "found: as an ai")
    assert score(forbidden_terms(), "Paris.").value is True


def test_case_checks_reason_names_what_failed():
    assert score(case_checks(), "Paris, not london").reason == "contains: London"
    assert score(case_checks(), "Lyon").reason == "missing: paris"
    assert score(case_checks(), "PARIS").value is True
    assert score(case_checks(), "x", Case(id="n", inputs={})).value is None


def test_decorator_records_name_and_arguments_and_rebuilds_from_spec():
    built = forbidden_terms(terms=["a", "b"])
    assert built.spec == {"name": "forbidden_terms", "args": {"terms": ["a", "b"], "ignore_case": True}}
    again = from_spec(built.spec)
    assert again.spec == built.spec
    assert score(again, "xbx").value is False


def test_custom_async_scorer_and_label():
    @scorer(name="test_length_label")
    def length_label(limit: int = 3):
        async def judge(sample: Sample) -> str:
            await asyncio.sleep(0)
            return "short" if len(sample.output) <= limit else "long"

        return judge

    assert "test_length_label" in REGISTRY
    assert score(length_label(), "hi").value == "short"
    assert score(get_scorer("test_length_label", limit=1), "hi").value == "long"


def test_unknown_scorer_and_bad_arguments():
    with pytest.raises(WorkbenchError, match="not registered; known: .*exact_match"):
        get_scorer("nope")
    with pytest.raises(WorkbenchError, match="forbidden_terms"):
        get_scorer("forbidden_terms", colour="red")
