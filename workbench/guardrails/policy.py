"""A guardrail policy and how it is applied to a request's inputs and to a model's output.

Inputs: personal data is detected, redacted or blocks the request; an injection attempt blocks it.
Outputs: personal data as for inputs, signs of injection, forbidden content, and the configuration's
output schema; a blocked output is replaced by the policy's fallback answer. `triggered` names every
rule that fired (`pii:EMAIL`, `injection:ignore_instructions`, `forbidden:<term>`, `schema`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..aio import run_sync
from ..checks import normalise
from ..checks import schema_problem as _schema_problem
from ..errors import WorkbenchError
from ..prompts.schema import GuardrailPolicy
from ..settings import Settings
from .injection import InjectionResult, adetect_injection
from .pii import find_pii, replace_findings


@dataclass(frozen=True)
class GuardrailOutcome:
    """The text to show (the fallback answer when blocked), whether it was blocked, and what fired."""

    text: str
    blocked: bool
    triggered: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class InputOutcome:
    """The inputs to send (personal data redacted as the policy says), whether the request is blocked, what fired."""

    inputs: dict[str, Any]
    blocked: bool
    triggered: list[str] = field(default_factory=list)
    injection: dict[str, InjectionResult] = field(default_factory=dict)


async def aapply_input_guardrails(
    inputs: dict[str, Any], policy: GuardrailPolicy, settings: Settings | None = None
) -> InputOutcome:
    """Check every string input; the async form, for the runner."""
    out, triggered, injections, blocked = dict(inputs), [], {}, False
    for name, value in inputs.items():
        if not isinstance(value, str):
            continue
        text, fired, stop = _pii(value, policy)
        out[name] = text
        triggered += fired
        blocked |= stop
        if policy.injection:
            result = await adetect_injection(value, policy.injection_judge, policy.injection_threshold, settings)
            injections[name] = result
            if result.flagged:
                triggered += [f"injection:{p}" for p in result.patterns] or ["injection:judge"]
                blocked = True
    return InputOutcome(out, blocked, list(dict.fromkeys(triggered)), injections)


async def aapply_output_guardrails(
    text: str, policy: GuardrailPolicy, output_schema: dict[str, Any] | None = None, settings: Settings | None = None
) -> GuardrailOutcome:
    """Check one output; the async form, for the runner. `output_schema` is the configuration's."""
    shown, triggered, blocked = _pii(text, policy)
    if policy.injection:
        result = await adetect_injection(text, policy.injection_judge, policy.injection_threshold, settings)
        if result.flagged:
            triggered += [f"injection:{p}" for p in result.patterns] or ["injection:judge"]
            blocked = True
    found = forbidden_found(text, policy.forbidden)
    triggered += [f"forbidden:{term}" for term in found]
    blocked |= bool(found)
    if policy.schema_:
        problem = schema_problem(text, output_schema)
        if problem is not None:
            triggered.append("schema")
            blocked = True
    return GuardrailOutcome(policy.fallback_answer if blocked else shown, blocked, list(dict.fromkeys(triggered)))


def apply_input_guardrails(
    inputs: dict[str, Any], policy: GuardrailPolicy, settings: Settings | None = None
) -> InputOutcome:
    """`aapply_input_guardrails` from plain code or a notebook."""
    return run_sync(aapply_input_guardrails(inputs, policy, settings))


def apply_output_guardrails(
    text: str, policy: GuardrailPolicy, output_schema: dict[str, Any] | None = None, settings: Settings | None = None
) -> GuardrailOutcome:
    """`aapply_output_guardrails` from plain code or a notebook."""
    return run_sync(aapply_output_guardrails(text, policy, output_schema, settings))


def forbidden_found(text: str, terms: list[str]) -> list[str]:
    """The forbidden terms present in `text` (case-insensitive, whitespace folded, as `forbidden_terms` does)."""
    clean = normalise(text)
    return [term for term in terms if normalise(term) in clean]


def schema_problem(text: str, schema: dict[str, Any] | None) -> str | None:
    """Why `text` does not conform to `schema` (None when it does), by the `json_schema` scorer's rules."""
    if schema is None:
        raise WorkbenchError(
            "guardrails: schema: the policy checks outputs against the configuration's output_schema, "
            "but the configuration has none; add output_schema or set schema: false"
        )
    return _schema_problem(text, schema)


def _pii(text: str, policy: GuardrailPolicy) -> tuple[str, list[str], bool]:
    """The text after the policy's PII rule, the `pii:<KIND>` triggers, and whether it blocks."""
    if policy.pii == "off":
        return text, [], False
    findings = find_pii(text, policy.pii_kinds, policy.pii_regions, policy.pii_allow)
    fired = list(dict.fromkeys(f"pii:{f.kind}" for f in findings))
    if not findings:
        return text, [], False
    if policy.pii == "redact":
        return replace_findings(text, findings), fired, False
    return text, fired, policy.pii == "block"
