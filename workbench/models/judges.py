"""Judges: a pinned configuration whose model grades text, built once per project and configuration.

The LLM judge scorer, the injection judge and the ragas judge all resolve their configuration here, in the
project they are given (never the current folder), and share one client per (project, configuration
content, cache): an edited configuration or another project in the same kernel gets a fresh judge.

A grading judge can be held to a verdict: `verdict_schema` is the JSON it is asked for (the grade first, so a
short `max_tokens` cannot cut it off), `parse_verdict` reads that JSON or the `SCORE: n` format, and
`weighted_grade` turns the grade token's log probabilities into the expected grade.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, create_model

from ..errors import WorkbenchError
from ..prompts import Prompt, resolve
from ..settings import Settings
from .cache import ResponseCache
from .client import ModelClient

SCORE = re.compile(r"SCORE\W*(\d+(?:\.\d+)?)", re.IGNORECASE)
LEADING = re.compile(r"^\W*(\d+(?:\.\d+)?)\b")
REASON = re.compile(r"REASON\W*(.+)", re.IGNORECASE | re.DOTALL)
JSON_REASON = re.compile(r'"reason"\s*:\s*"((?:[^"\\]|\\.)*)', re.IGNORECASE)  # also in JSON cut off mid-reason
BEFORE_GRADE = re.compile(r"SCORE\W*$", re.IGNORECASE)  # the text before the grade token, JSON or SCORE: n
#: the reason's length in the verdict schema: a few words, so the answer stays within a judge's max_tokens
REASON_CHARS = 100


class JudgeParseError(ValueError):
    """The judge's answer held no score on its scale; the raw text is kept in the message."""


def verdict_schema(low: int, high: int) -> type[BaseModel]:
    """The verdict a judge grading from `low` to `high` is asked for: {"score": one of the grades, "reason": ...}."""
    grades: Any = Literal[tuple(range(low, high + 1))]
    return create_model(
        "Verdict",
        score=(grades, ...),
        reason=(str, Field(max_length=REASON_CHARS)),
    )


def parse_verdict(text: str, low: int, high: int) -> tuple[float, str | None]:
    """The judge's score and reason from its JSON verdict, from `SCORE: n REASON: ...`, or an answer that starts
    with n. JSON cut off after the score still gives the score."""
    verdict = _json_verdict(text)
    if verdict is not None and isinstance(verdict.get("score"), int | float) and low <= verdict["score"] <= high:
        reason = verdict.get("reason")
        return float(verdict["score"]), (reason.strip() or None) if isinstance(reason, str) else None
    match = SCORE.search(text) or LEADING.search(text)
    if not match or not low <= float(match.group(1)) <= high:
        raise JudgeParseError(f"no score from {low} to {high} in the judge's answer: {text!r}")
    reason = JSON_REASON.search(text) or REASON.search(text)
    return float(match.group(1)), (reason.group(1).strip() or None) if reason else None


def _json_verdict(text: str) -> dict[str, Any] | None:
    start, end = text.find("{"), text.rfind("}")
    try:
        data = json.loads(text[start : end + 1]) if 0 <= start < end else None
    except json.JSONDecodeError:
        return None
    return data if isinstance(data, dict) else None


def weighted_grade(logprobs: list[dict[str, Any]] | None, low: int, high: int) -> dict[int, float] | None:
    """Each grade's probability at the grade token (the first grade after "score"), renormalised over the grades:
    what a grammar that allows only grades there samples from. None without log probabilities, when no grade
    token follows "score", or on a scale whose grades are not one token each (above 9)."""
    if not logprobs or low < 0 or high > 9:
        return None
    seen = ""
    for token in logprobs:
        if BEFORE_GRADE.search(seen) and _grade(token["token"], low, high) is not None:
            mass: dict[int, float] = {}
            for alternative, logprob in token["top"].items():
                grade = _grade(alternative, low, high)
                if grade is not None and math.isfinite(logprob):
                    mass[grade] = mass.get(grade, 0.0) + math.exp(logprob)
            total = sum(mass.values())
            return {g: p / total for g, p in sorted(mass.items())} if total > 0 else None
        seen += token["token"]
        if len(seen) > 400:  # the grade comes first; a long preamble is not searched
            return None
    return None


def _grade(token: str, low: int, high: int) -> int | None:
    text = token.strip()
    return int(text) if len(text) == 1 and text.isdigit() and low <= int(text) <= high else None


@dataclass(frozen=True)
class Judge:
    """A judge configuration and the client that calls its model."""

    prompt: Prompt
    client: ModelClient


def judge(ref: str, settings: Settings, allowed: set[str] | None = None, role: str = "judge") -> Judge:
    """The judge `name@version` of the project in `settings`; `allowed` limits the variables it may declare."""
    prompt = resolve(ref, settings.prompts_dir)
    if allowed is not None and not set(prompt.variables) <= allowed:
        unknown = ", ".join(sorted(set(prompt.variables) - allowed))
        raise WorkbenchError(
            f"{prompt.path}: variables: a {role} may use {', '.join(sorted(allowed))}, not {unknown}; "
            f"write variables: [{', '.join(sorted(allowed))}]"
        )
    cache = str(settings.cache_path) if settings.cache else None
    return _judge(ref, str(settings.root), prompt.hash, cache)


@lru_cache(maxsize=16)
def _judge(ref: str, root: str, content_hash: str, cache_path: str | None) -> Judge:
    prompt = resolve(ref, Path(root) / "prompts")
    return Judge(prompt, ModelClient(prompt.spec, cache=ResponseCache(Path(cache_path)) if cache_path else None))
