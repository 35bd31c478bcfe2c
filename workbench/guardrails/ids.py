"""National identity numbers: candidate patterns, each confirmed by python-stdnum's check-digit validator.

A number written in its usual grouped form (`123-45-6789`, `1234.56.782`) is distinctive enough on
its own. A bare run of digits is not (order numbers, timestamps), so it counts only when a keyword
naming the scheme stands shortly before it, as Presidio's context words do.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from stdnum.de import idnr
from stdnum.es import dni, nie
from stdnum.fr import nir
from stdnum.nl import bsn
from stdnum.us import ssn

CONTEXT_CHARS = 48  # how far before a bare number a keyword may stand


@dataclass(frozen=True)
class IdScheme:
    """One national id: its stdnum name, the grouped and bare forms, the keywords a bare form needs."""

    name: str
    formatted: re.Pattern[str]
    bare: re.Pattern[str] | None
    keywords: tuple[str, ...]
    is_valid: Callable[[str], bool]


def _re(pattern: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![\w.-]){pattern}(?![\w-]|\.\d)")


SCHEMES: tuple[IdScheme, ...] = (
    IdScheme(
        "us.ssn",
        _re(r"\d{3}-\d{2}-\d{4}"),
        _re(r"\d{9}"),
        ("ssn", "social security", "sozialversicherung"),
        ssn.is_valid,
    ),
    IdScheme(
        "nl.bsn",
        _re(r"\d{4}\.\d{2}\.\d{3}"),
        _re(r"\d{9}"),
        ("bsn", "burgerservicenummer", "sofinummer", "citizen service number"),
        bsn.is_valid,
    ),
    IdScheme(
        "de.idnr",
        _re(r"\d{2} \d{3} \d{3} \d{3}"),
        _re(r"\d{11}"),
        ("steuer-id", "steuerid", "idnr", "identifikationsnummer", "steueridentifikationsnummer", "tax id"),
        idnr.is_valid,
    ),
    IdScheme(
        "fr.nir",
        _re(r"[12] \d{2} \d{2} (?:\d{2}|2A|2B) \d{3} \d{3} \d{2}"),
        _re(r"[12]\d{4}(?:\d{2}|2A|2B)\d{8}"),
        ("nir", "insee", "sécurité sociale", "securite sociale", "numéro de sécu", "social security"),
        nir.is_valid,
    ),
    IdScheme("es.dni", _re(r"\d{8}-?[A-Z]"), None, (), dni.is_valid),
    IdScheme("es.nie", _re(r"[XYZ]-?\d{7}-?[A-Z]"), None, (), nie.is_valid),
)


def find_ids(text: str) -> list[tuple[str, int, int]]:
    """`(scheme, start, end)` for every valid national id in `text`.

    Where several schemes accept the same bare digits, the one whose keyword stands nearest wins.
    """
    best: dict[tuple[int, int], tuple[int, str]] = {}
    lowered = text.casefold()
    for scheme in SCHEMES:
        for match in scheme.formatted.finditer(text):
            if scheme.is_valid(match.group()):
                best.setdefault(match.span(), (0, scheme.name))
        if scheme.bare is None:
            continue
        for match in scheme.bare.finditer(text):
            start = max(0, match.start() - CONTEXT_CHARS)
            before = lowered[start : match.start()]
            positions = [before.rfind(k) + len(k) for k in scheme.keywords if k in before]
            if positions and scheme.is_valid(match.group()):
                distance = len(before) - max(positions) + 1
                if match.span() not in best or distance < best[match.span()][0]:
                    best[match.span()] = (distance, scheme.name)
    return [(name, start, end) for (start, end), (_, name) in sorted(best.items())]
