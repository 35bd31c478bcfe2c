"""Guardrails as scorers: a run's pass rate of each is one minus its trigger rate, so a gate can hold them.

Reasons name what fired (kinds, pattern names, rules), never the personal data itself, because
reasons are logged to MLflow.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Literal

from ..errors import WorkbenchError
from ..guardrails.injection import adetect_injection
from ..guardrails.pii import DEFAULT_REGIONS, check_kinds, find_pii
from ..guardrails.policy import GuardrailPolicy, aapply_output_guardrails
from .base import Sample, Score, scorer


@scorer
def pii_free(kinds: list[str] | None = None, allow: list[str] = [], regions: list[str] | None = None):  # noqa: B006 (a spec records its defaults as lists; never mutated)
    """The output holds no personal data of `kinds` (all: EMAIL, PHONE, CARD, IBAN, NATIONAL_ID); `allow`
    lists values that are fine here, such as the product's support address."""

    check_kinds(kinds)  # unknown kinds fail when the scorer is built, not on every row
    chosen = tuple(regions) if regions else DEFAULT_REGIONS

    def score(sample: Sample) -> Score:
        found = Counter(f.kind for f in find_pii(sample.output, kinds, chosen, allow))
        return Score(not found, ", ".join(f"{kind} x{n}" for kind, n in sorted(found.items())) or None)

    return score


@scorer
def injection_free(threshold: float = 0.5, judge: str | None = None, target: Literal["output", "inputs"] = "output"):
    """No sign of prompt injection in the output (or, with `target="inputs"`, in the case's inputs): the
    pattern score, raised by the judge configuration `judge` when given, stays below `threshold`."""

    if target not in ("output", "inputs"):
        raise WorkbenchError(f"injection_free: target: '{target}' is not output or inputs")

    async def score(sample: Sample) -> Score:
        texts = (
            [sample.output] if target == "output" else [v for v in sample.case.inputs.values() if isinstance(v, str)]
        )
        results = [await adetect_injection(text, judge, threshold) for text in texts]
        worst = max((r.score for r in results), default=0.0)
        patterns = sorted({p for r in results for p in r.patterns})
        judged = [r.judge_score for r in results if r.judge_score is not None]
        reason = ", ".join(patterns) + (f" judge {max(judged):.2f}" if judged else "")
        return Score(worst < threshold, f"score {worst:.2f}" + (f": {reason.strip(', ')}" if reason else ""))

    return score


@scorer
def guardrail_policy(policy: dict[str, Any] | str | None = None):
    """The output passes the output guardrails of `policy` (a mapping, or the path of a YAML policy file;
    None: the default policy), checked against the configuration's output schema. Redacted personal data
    passes (the policy cleaned it); anything that blocks the output fails, with the rules that fired."""

    built = GuardrailPolicy.load(policy) if isinstance(policy, str) else GuardrailPolicy.parse(policy)

    async def score(sample: Sample) -> Score:
        outcome = await aapply_output_guardrails(sample.output, built, sample.output_schema)
        return Score(not outcome.blocked, ", ".join(outcome.triggered) or None)

    return score
