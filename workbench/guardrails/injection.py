"""Prompt-injection detection: a maintained list of patterns, and an optional LLM judge.

Patterns catch the common shapes (override the instructions, reveal the system prompt, take on an
unrestricted persona, spoof a system turn, exfiltrate data) in English, German, French, Spanish and
Dutch. Each has a weight; the pattern score is 1 - prod(1 - weight) over the matches. A judge is a
pinned configuration with one variable, `text`, that answers `SCORE: <1-5>` (5 = certainly an
injection); its grade, scaled to 0..1, raises the score when it is higher. Text is only matched and
sent to the judge, never followed.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from ..aio import run_sync
from ..errors import WorkbenchError
from ..models.judges import judge as build_judge
from ..models.judges import parse_verdict
from ..prompts.schema import DEFAULT_THRESHOLD
from ..settings import Settings

#: (name, weight, pattern): matched against the text casefolded, NFKC-normalised, whitespace collapsed.
PATTERNS: tuple[tuple[str, float, str], ...] = (
    (
        "ignore_instructions",
        0.9,
        r"\b(ignore|disregard|forget|skip|override)\b.{0,30}\b(previous|prior|above|earlier|preceding|all|your|the|system)\b"
        r".{0,20}\b(instructions?|rules|directions|prompts?|guidelines|constraints|context)\b",
    ),
    (
        "ignore_instructions_de",
        0.9,
        r"\b(ignorier\w*|vergiss|missachte\w*)\b.{0,40}\b(anweisungen|regeln|instruktionen|vorgaben|befehle)\b",
    ),
    (
        "ignore_instructions_fr",
        0.9,
        r"\b(ignore[rz]?|oublie[rz]?)\b.{0,20}\b(les|vos|tes|toutes|tous)\b.{0,30}\b(instructions|consignes|règles)\b",
    ),
    (
        "ignore_instructions_es_nl",
        0.9,
        r"\b(ignora\w*|olvida\w*|negeer\w*|vergeet)\b.{0,40}\b(instrucciones|reglas|instructies|regels)\b",
    ),
    (
        "reveal_system_prompt",
        0.8,
        r"\b(reveal|show|print|repeat|output|display|tell|give|leak|dump|what (is|are))\b.{0,30}"
        r"\b(system prompt|system message|initial prompt|hidden (prompt|instructions)|your (system )?(instructions|prompt)"
        r"|the (instructions|prompt) (above|you were given))",
    ),
    ("reveal_system_prompt_de", 0.8, r"\b(zeig\w*|verrat\w*|gib)\b.{0,30}\b(systemprompt|system-prompt|anweisungen)\b"),
    (
        "persona_override",
        0.7,
        r"\b(you are now|from now on,? you|act as|pretend (to be|you are|that you)|roleplay as|simulate)\b.{0,40}"
        r"\b(dan|unrestricted|unfiltered|jailbroken|evil|developer mode|no (rules|restrictions|limits|filters))\b",
    ),
    ("jailbreak_terms", 0.7, r"\b(jailbreak\w*|do anything now|developer mode (enabled|on)|god mode)\b"),
    (
        "bypass_safety",
        0.7,
        r"\b(bypass|disable|turn off|circumvent|get around)\b.{0,30}\b(safety|guardrails?|filters?|restrictions|"
        r"moderation|content policy|rules)\b",
    ),
    (
        "new_instructions",
        0.6,
        r"(\bnew (instructions|rules|task)\s*:|\bfrom now on,? (you|your|always|only|respond|answer)\b|\binstead,? (say|respond|reply|answer) (only|with)\b)",
    ),
    (
        "fake_system_turn",
        0.8,
        r"(<\|?\s*(system|im_start|im_end|endoftext)\s*\|?>|\[/?(system|inst)\]|^#+\s*system\b|\bbegin system prompt\b|"
        r"\bsystem override\b|\bend of (user )?input\b.{0,20}\bsystem\b)",
    ),
    (
        "exfiltration",
        0.8,
        r"(\b(send|post|upload|forward|email|leak)\b.{0,40}\b(conversation|chat history|all (the )?(data|notes|messages)|"
        r"api keys?|passwords?|credentials|tokens?)\b.{0,30}\b(to|at)\b.{0,40}(https?://|@|\bwebhook)|"
        r"!\[[^\]]*\]\(https?://[^)]*[?&]\w+=)",
    ),
    (
        "obfuscated_payload",
        0.6,
        r"\b(decode|decrypt|base64|rot13|hex)\b.{0,40}\b(and|then)\b.{0,20}\b(follow|execute|run|obey|do what it says)\b",
    ),
)
_COMPILED = tuple(
    (name, weight, re.compile(pattern, re.IGNORECASE | re.MULTILINE)) for name, weight, pattern in PATTERNS
)
_INVISIBLE = re.compile(r"[\u200b-\u200f\u2060-\u2064\ufeff]")


@dataclass(frozen=True)
class InjectionResult:
    """How likely `text` is an injection attempt (0..1), and why."""

    score: float
    patterns: list[str] = field(default_factory=list)
    judge_score: float | None = None
    judge_reason: str | None = None
    threshold: float = DEFAULT_THRESHOLD

    @property
    def flagged(self) -> bool:
        return self.score >= self.threshold


def normalise(text: str) -> str:
    """NFKC, invisible characters removed, whitespace collapsed, casefolded: what the patterns see."""
    text = _INVISIBLE.sub("", unicodedata.normalize("NFKC", text))
    return re.sub(r"[ \t]+", " ", text).casefold()


def match_patterns(text: str) -> tuple[float, list[str]]:
    """The pattern score and the names of the patterns that matched."""
    clean = normalise(text)
    matched = [(name, weight) for name, weight, pattern in _COMPILED if pattern.search(clean)]
    remaining = 1.0
    for _, weight in matched:
        remaining *= 1 - weight
    return round(1 - remaining, 6), [name for name, _ in matched]


def detect_injection(
    text: str, judge: str | None = None, threshold: float = DEFAULT_THRESHOLD, settings: Settings | None = None
) -> InjectionResult:
    """Patterns, plus the judge configuration `judge` when given (`name@version`)."""
    if judge is None:
        score, patterns = match_patterns(text)
        return InjectionResult(score, patterns, threshold=threshold)
    return run_sync(adetect_injection(text, judge, threshold, settings))


async def adetect_injection(
    text: str, judge: str | None = None, threshold: float = DEFAULT_THRESHOLD, settings: Settings | None = None
) -> InjectionResult:
    """`detect_injection` for async code (the runner); the judge (a configuration of the project in
    `settings`, default: the one found from the current folder) is called through `ModelClient`."""
    score, patterns = match_patterns(text)
    if judge is None:
        return InjectionResult(score, patterns, threshold=threshold)
    grader = build_judge(judge, settings or Settings.load())
    if grader.prompt.variables != ["text"]:
        raise WorkbenchError(
            f"{grader.prompt.path}: variables: an injection judge takes exactly one variable, text "
            f"(it has {', '.join(grader.prompt.variables) or 'none'}); write variables: [text]"
        )
    response = await grader.client.acall(grader.prompt.render({"text": text}))
    if response.error:
        raise WorkbenchError(f"injection judge {judge} failed: {response.error}")
    grade, reason = parse_verdict(response.text or "", 1, 5)
    judged = (grade - 1) / 4
    return InjectionResult(max(score, judged), patterns, judged, reason, threshold)
