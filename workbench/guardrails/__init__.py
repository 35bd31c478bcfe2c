"""Guardrails: personal data (find, redact), prompt injection (patterns, optional judge), output policy."""

from .injection import PATTERNS, InjectionResult, adetect_injection, detect_injection, match_patterns
from .pii import KINDS, Finding, find_pii, redact
from .policy import (
    GuardrailOutcome,
    GuardrailPolicy,
    InputOutcome,
    aapply_input_guardrails,
    aapply_output_guardrails,
    apply_input_guardrails,
    apply_output_guardrails,
)

__all__ = [
    "KINDS",
    "PATTERNS",
    "Finding",
    "GuardrailOutcome",
    "GuardrailPolicy",
    "InjectionResult",
    "InputOutcome",
    "aapply_input_guardrails",
    "aapply_output_guardrails",
    "adetect_injection",
    "apply_input_guardrails",
    "apply_output_guardrails",
    "detect_injection",
    "find_pii",
    "match_patterns",
    "redact",
]
