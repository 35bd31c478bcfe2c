"""LLM-as-judge: a pinned judge configuration grades each output against a rubric."""

from __future__ import annotations

import json

from ..models.judges import JudgeParseError, parse_verdict
from ..models.judges import judge as build_judge
from ..settings import Settings
from .base import Sample, Score, scorer

__all__ = ["JudgeParseError", "llm_judge", "parse_verdict"]


@scorer
def llm_judge(
    judge: str = "rubric-judge@1.0.0",
    rubric: str = "The answer is correct, relevant and concise.",
    low: int = 1,
    high: int = 5,
    pass_at: float = 4,
    *,
    settings: Settings,
):
    """Grade with the judge configuration `judge` (variables: input, output, expected, rubric).

    The value is the grade scaled to 0..1; it passes at `pass_at`. An answer without a grade is
    an error carrying the judge's raw text, never a silent score.
    """
    grader = build_judge(judge, settings, {"input", "output", "expected", "rubric"})

    async def score(sample: Sample) -> Score:
        inputs = sample.case.inputs
        question = next(iter(inputs.values())) if len(inputs) == 1 else json.dumps(inputs, ensure_ascii=False)
        values = {
            "input": question,
            "output": sample.output,
            "expected": sample.case.expected or "(none)",
            "rubric": rubric,
        }
        response = await grader.client.acall(grader.prompt.render({v: values[v] for v in grader.prompt.variables}))
        if response.error:
            raise RuntimeError(f"judge {judge} failed: {response.error}")
        grade, reason = parse_verdict(response.text or "", low, high)
        return Score(
            (grade - low) / (high - low),
            f"{grade:g}/{high}" + (f": {reason}" if reason else ""),
            passed=grade >= pass_at,
        )

    return score
