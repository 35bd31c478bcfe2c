"""LLM-as-judge: a pinned judge configuration grades each output against a rubric."""

from __future__ import annotations

import json
import re

from .base import Sample, Score, scorer

SCORE = re.compile(r"SCORE\W*(\d+(?:\.\d+)?)", re.IGNORECASE)
LEADING = re.compile(r"^\W*(\d+(?:\.\d+)?)\b")
REASON = re.compile(r"REASON\W*(.+)", re.IGNORECASE | re.DOTALL)


class JudgeParseError(ValueError):
    """The judge's answer held no score on its scale; the raw text is kept in the message."""


def parse_verdict(text: str, low: int, high: int) -> tuple[float, str | None]:
    """The judge's score and reason from `SCORE: n REASON: ...` (or an answer that starts with n)."""
    match = SCORE.search(text) or LEADING.search(text)
    if not match or not low <= float(match.group(1)) <= high:
        raise JudgeParseError(f"no score from {low} to {high} in the judge's answer: {text!r}")
    reason = REASON.search(text)
    return float(match.group(1)), reason.group(1).strip() if reason else None


@scorer
def llm_judge(judge: str = "rubric-judge@1.0.0", rubric: str = "The answer is correct, relevant and concise.",
              low: int = 1, high: int = 5, pass_at: float = 4):
    """Grade with the judge configuration `judge` (variables: input, output, expected, rubric).

    The value is the grade scaled to 0..1; it passes at `pass_at`. An answer without a grade is
    an error carrying the judge's raw text, never a silent score.
    """
    from ..models import ModelClient, ResponseCache
    from ..prompts import resolve
    from ..settings import Settings

    settings = Settings.current()
    prompt = resolve(judge, settings.prompts_dir)
    unknown = sorted(set(prompt.variables) - {"input", "output", "expected", "rubric"})
    if unknown:
        raise ValueError(f"judge {judge} declares {', '.join(unknown)}; a judge may use input, output, expected, rubric")
    client = ModelClient(prompt.spec, cache=ResponseCache(settings.cache_path) if settings.cache else None)

    async def score(sample: Sample) -> Score:
        inputs = sample.case.inputs
        question = next(iter(inputs.values())) if len(inputs) == 1 else json.dumps(inputs, ensure_ascii=False)
        values = {"input": question, "output": sample.output, "expected": sample.case.expected or "(none)", "rubric": rubric}
        response = await client.acall(prompt.render({v: values[v] for v in prompt.variables}))
        if response.error:
            raise RuntimeError(f"judge {judge} failed: {response.error}")
        grade, reason = parse_verdict(response.text or "", low, high)
        return Score((grade - low) / (high - low), f"{grade:g}/{high}" + (f": {reason}" if reason else ""),
                     passed=grade >= pass_at)
    return score
