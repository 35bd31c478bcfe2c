"""Judges: a pinned configuration whose model grades text, built once per project and configuration.

The LLM judge scorer, the injection judge and the ragas judge all resolve their configuration here, in the
project they are given (never the current folder), and share one client per (project, configuration
content, cache): an edited configuration or another project in the same kernel gets a fresh judge.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ..errors import WorkbenchError
from ..prompts import Prompt, resolve
from ..settings import Settings
from .cache import ResponseCache
from .client import ModelClient

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
