"""Checks of form: regular expressions, term lists, length, JSON, JSON Schema, Python."""

from __future__ import annotations

import ast
import json
import re
from typing import Any

from ..checks import json_payload, schema_problem
from .base import Sample, Score, scorer
from .text import normalise


@scorer
def regex(pattern: str, full: bool = False, ignore_case: bool = False):
    """The output matches `pattern` (anywhere, or entirely with `full`)."""
    compiled = re.compile(pattern, re.IGNORECASE if ignore_case else 0)

    def score(sample: Sample) -> bool:
        return bool((compiled.fullmatch if full else compiled.search)(sample.output.strip() if full else sample.output))

    return score


@scorer
def contains_any(terms: list[str], ignore_case: bool = True):
    """At least one of `terms` appears in the output."""
    wanted = [normalise(t, ignore_case) for t in terms]

    def score(sample: Sample) -> Score:
        text = normalise(sample.output, ignore_case)
        found = [t for t in wanted if t in text]
        return Score(bool(found), f"found: {', '.join(found)}" if found else "none found")

    return score


@scorer
def contains_all(terms: list[str], ignore_case: bool = True):
    """Every one of `terms` appears in the output."""
    wanted = [normalise(t, ignore_case) for t in terms]

    def score(sample: Sample) -> Score:
        text = normalise(sample.output, ignore_case)
        missing = [t for t in wanted if t not in text]
        return Score(not missing, f"missing: {', '.join(missing)}" if missing else None)

    return score


@scorer
def length_bounds(min_words: int = 0, max_words: int | None = None, max_chars: int | None = None):
    """The output's length lies within the bounds (words, and optionally characters)."""

    def score(sample: Sample) -> Score:
        words, chars = len(sample.output.split()), len(sample.output)
        ok = (
            words >= min_words
            and (max_words is None or words <= max_words)
            and (max_chars is None or chars <= max_chars)
        )
        return Score(ok, f"{words} words, {chars} characters")

    return score


@scorer
def valid_json():
    """The output parses as JSON (a fenced ```json block is accepted)."""

    def score(sample: Sample) -> Score:
        try:
            json_payload(sample.output)
        except json.JSONDecodeError as exc:
            return Score(False, f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}")
        return Score(True)

    return score


@scorer
def json_schema(schema: dict[str, Any] | None = None):
    """The output is JSON that conforms to `schema`, or to the configuration's output schema when None."""

    def score(sample: Sample) -> Score | None:
        target = schema or sample.output_schema
        if target is None:
            return None
        problem = schema_problem(sample.output, target)
        return Score(problem is None, problem)

    return score


@scorer
def valid_python():
    """The output (or its fenced ```python block) parses as Python source. Nothing is executed."""

    def score(sample: Sample) -> Score:
        fenced = re.search(r"```(?:python|py)?\s*(.*?)```", sample.output, re.DOTALL)
        source = fenced.group(1) if fenced else sample.output
        try:
            ast.parse(source)
        except SyntaxError as exc:
            return Score(False, f"syntax error: {exc.msg} at line {exc.lineno}")
        return Score(True)

    return score
