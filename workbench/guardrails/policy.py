"""A guardrail policy and how it is applied to a request's inputs and to a model's output.

Inputs: personal data is detected, redacted or blocks the request; an injection attempt blocks it.
Outputs: personal data as for inputs, signs of injection, forbidden content, and the configuration's
output schema; a blocked output is replaced by the policy's fallback answer. `triggered` names every
rule that fired (`pii:EMAIL`, `injection:ignore_instructions`, `forbidden:<term>`, `schema`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..errors import WorkbenchError
from .injection import DEFAULT_THRESHOLD, InjectionResult, adetect_injection
from .pii import DEFAULT_REGIONS, KINDS, find_pii, replace_findings
from ..yamlfiles import load_model, validate

DEFAULT_FALLBACK = "Sorry, I can't help with that request. Please contact support."


class GuardrailPolicy(BaseModel):
    """What is checked, and what happens when a check fires."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, serialize_by_alias=True)
    pii: Literal["off", "detect", "redact", "block"] = "redact"
    pii_kinds: list[Literal["EMAIL", "PHONE", "CARD", "IBAN", "NATIONAL_ID"]] = list(KINDS)
    pii_allow: list[str] = []  # values that are not personal data here, e.g. the product's support address
    pii_regions: list[str] = list(DEFAULT_REGIONS)
    injection: bool = True
    injection_threshold: float = Field(DEFAULT_THRESHOLD, gt=0, le=1)
    injection_judge: str | None = None  # a pinned configuration `name@version` with one variable, text
    forbidden: list[str] = []
    schema_: bool = Field(False, alias="schema")  # check outputs against the configuration's output_schema
    fallback_answer: str = Field(DEFAULT_FALLBACK, min_length=1)

    @classmethod
    def load(cls, path: str | Path) -> GuardrailPolicy:
        """A policy from a YAML file; every problem is named with the file and the field."""
        return load_model(cls, path, "the guardrail policy")

    @classmethod
    def parse(cls, data: Any, source: str = "guardrails") -> GuardrailPolicy:
        """A policy from a mapping (a configuration's `guardrails:` block, a scorer's argument)."""
        return data if isinstance(data, GuardrailPolicy) else validate(cls, data or {}, source)


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


async def aapply_input_guardrails(inputs: dict[str, Any], policy: GuardrailPolicy, settings: Any = None) -> InputOutcome:
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


async def aapply_output_guardrails(text: str, policy: GuardrailPolicy, output_schema: dict[str, Any] | None = None,
                                   settings: Any = None) -> GuardrailOutcome:
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


def apply_input_guardrails(inputs: dict[str, Any], policy: GuardrailPolicy, settings: Any = None) -> InputOutcome:
    """`aapply_input_guardrails` from plain code or a notebook."""
    from ..runner import run_sync

    return run_sync(aapply_input_guardrails(inputs, policy, settings))


def apply_output_guardrails(text: str, policy: GuardrailPolicy, output_schema: dict[str, Any] | None = None,
                            settings: Any = None) -> GuardrailOutcome:
    """`aapply_output_guardrails` from plain code or a notebook."""
    from ..runner import run_sync

    return run_sync(aapply_output_guardrails(text, policy, output_schema, settings))


def forbidden_found(text: str, terms: list[str]) -> list[str]:
    """The forbidden terms present in `text` (case-insensitive, whitespace folded, as `forbidden_terms` does)."""
    from ..scorers.text import normalise

    clean = normalise(text)
    return [term for term in terms if normalise(term) in clean]


def schema_problem(text: str, schema: dict[str, Any] | None) -> str | None:
    """Why `text` does not conform to `schema` (None when it does), by the `json_schema` scorer's rules."""
    if schema is None:
        raise WorkbenchError("guardrails: schema: the policy checks outputs against the configuration's output_schema, "
                             "but the configuration has none; add output_schema or set schema: false")
    from ..datasets import Case
    from ..scorers import Sample, get_scorer

    score = get_scorer("json_schema", schema=schema).fn(Sample(text, Case(id="output", inputs={})))
    return None if score.value else score.reason


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
