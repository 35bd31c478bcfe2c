"""LLM-as-judge: a pinned judge configuration grades each output against a rubric."""

from __future__ import annotations

import json

from ..models.judges import JudgeParseError, parse_verdict, verdict_schema, weighted_grade
from ..models.judges import judge as build_judge
from ..settings import Settings
from .base import Sample, Score, scorer

__all__ = ["JudgeParseError", "llm_judge", "parse_verdict"]

#: alternatives asked for per token: enough to hold every grade of a 1-5 scale beside the tokens a grammar rules out
TOP_LOGPROBS = 20


@scorer
def llm_judge(
    judge: str = "rubric-judge@1.0.0",
    rubric: str = "The answer is correct, relevant and concise.",
    low: int = 1,
    high: int = 5,
    pass_at: float = 4,
    constrained: bool = True,
    weighted: bool = True,
    *,
    settings: Settings,
):
    """Grade with the judge configuration `judge` (variables: input, output, expected, rubric).

    The value is the grade scaled to 0..1; it passes at `pass_at`. `constrained`: the judge is asked for the JSON
    verdict {"score", "reason"} where its provider can enforce it (the local models' grammar, `response_format`
    of OpenAI-compatible servers); any answer is still parsed leniently. `weighted`: where the provider returns
    token log probabilities, the grade is the expected grade over the grade token's probabilities, not the
    sampled one; the reason says which it is. An answer without a grade is an error carrying the judge's raw
    text, never a silent score.
    """
    grader = build_judge(judge, settings, {"input", "output", "expected", "rubric"})
    schema = verdict_schema(low, high) if constrained else None
    logprobs = TOP_LOGPROBS if weighted else None

    async def score(sample: Sample) -> Score:
        inputs = sample.case.inputs
        question = next(iter(inputs.values())) if len(inputs) == 1 else json.dumps(inputs, ensure_ascii=False)
        values = {
            "input": question,
            "output": sample.output,
            "expected": sample.case.expected or "(none)",
            "rubric": rubric,
        }
        messages = grader.prompt.render({v: values[v] for v in grader.prompt.variables})
        response = await grader.client.acall(messages, schema=schema, logprobs=logprobs)
        if response.error:
            hint = "; if its endpoint refuses the verdict schema, pass constrained: false" if schema else ""
            raise RuntimeError(f"judge {judge} failed: {response.error}{hint}")
        grade, reason = parse_verdict(response.text or "", low, high)
        probabilities = weighted_grade(response.logprobs, low, high) if weighted else None
        if probabilities:
            sampled = grade
            grade = sum(g * p for g, p in probabilities.items())
            label = f"{grade:.2f}/{high} expected (sampled {sampled:g}; " + _shares(probabilities) + ")"
        else:
            label = f"{grade:g}/{high}"
        return Score((grade - low) / (high - low), label + (f": {reason}" if reason else ""), passed=grade >= pass_at)

    return score


def _shares(probabilities: dict[int, float]) -> str:
    return " ".join(f"{g}:{p:.2f}" for g, p in probabilities.items())
