"""Personal data in text: e-mail addresses, phone numbers, payment cards, IBANs and national ids.

Every finding is confirmed by a maintained library, never by a pattern alone: `email-validator`
checks address syntax (no DNS lookup), `phonenumbers` finds and validates phone numbers for the given
regions, and `python-stdnum` checks card numbers (Luhn), IBANs (ISO 13616 mod 97) and national ids
(see `ids.py`). Regular expressions only propose candidates where no library finds them in free text.
Presidio would add named entities (people, places) but needs a spaCy model that is not on PyPI.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from stdnum import iban, luhn

from ..errors import WorkbenchError
from ..prompts.schema import DEFAULT_REGIONS, KINDS
from .ids import find_ids

#: Which kind wins when two findings of equal length overlap (earlier wins).
PRIORITY = {kind: rank for rank, kind in enumerate(("EMAIL", "IBAN", "CARD", "NATIONAL_ID", "PHONE"))}

_EMAIL = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)*\.[^\W\d_]{2,}")
_CARD = re.compile(r"(?<![\w.-])\d(?:[ -]?\d){12,18}(?![\w-]|\.\d)")
_IBAN = re.compile(r"(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?(?![A-Za-z0-9])")


@dataclass(frozen=True)
class Finding:
    """One piece of personal data: its kind, where it is, the text, and the scheme (`us.ssn`, `visa`...)."""

    kind: str
    start: int
    end: int
    text: str
    detail: str | None = None


def find_pii(
    text: str, kinds: Iterable[str] | None = None, regions: Iterable[str] = DEFAULT_REGIONS, allow: Iterable[str] = ()
) -> list[Finding]:
    """Every finding of `kinds` (all when None) in `text`, in order, overlaps resolved (longest wins).

    `allow` lists values that are not personal data here, such as the product's own support address;
    they are compared case-insensitively with the finding's text.
    """
    wanted = check_kinds(kinds)
    allowed = {a.casefold() for a in allow}
    found: list[Finding] = []
    if "EMAIL" in wanted:
        found += _emails(text)
    if "CARD" in wanted:
        found += _cards(text)
    if "IBAN" in wanted:
        found += _ibans(text)
    if "NATIONAL_ID" in wanted:
        found += [Finding("NATIONAL_ID", s, e, text[s:e], scheme) for scheme, s, e in find_ids(text)]
    if "PHONE" in wanted:
        found += _phones(text, regions)
    found = [f for f in found if f.text.casefold() not in allowed]
    kept: list[Finding] = []
    for finding in sorted(found, key=lambda f: (-(f.end - f.start), PRIORITY[f.kind], f.start)):
        if all(finding.end <= k.start or finding.start >= k.end for k in kept):
            kept.append(finding)
    return sorted(kept, key=lambda f: f.start)


def redact(
    text: str, kinds: Iterable[str] | None = None, regions: Iterable[str] = DEFAULT_REGIONS, allow: Iterable[str] = ()
) -> str:
    """`text` with each finding replaced by its kind in brackets: `[EMAIL]`, `[PHONE]`, `[CARD]`..."""
    return replace_findings(text, find_pii(text, kinds, regions, allow))


def replace_findings(text: str, findings: list[Finding]) -> str:
    """`text` with the given (non-overlapping, ordered) findings replaced by `[KIND]`."""
    out, last = [], 0
    for finding in findings:
        out += [text[last : finding.start], f"[{finding.kind}]"]
        last = finding.end
    return "".join(out) + text[last:]


def check_kinds(kinds: Iterable[str] | None) -> set[str]:
    if kinds is None:
        return set(KINDS)
    wanted = {k.upper() for k in kinds}
    unknown = sorted(wanted - set(KINDS))
    if unknown:
        raise WorkbenchError(f"pii kinds: unknown kind(s) {', '.join(unknown)}; known: {', '.join(KINDS)}")
    return wanted


def _emails(text: str) -> list[Finding]:
    found = []
    for match in _EMAIL.finditer(text):
        try:
            validate_email(match.group(), check_deliverability=False, allow_smtputf8=True)
        except EmailNotValidError:
            continue
        found.append(Finding("EMAIL", match.start(), match.end(), match.group()))
    return found


def _cards(text: str) -> list[Finding]:
    """Card candidates (13-19 digits, spaces or dashes between groups) of a known network's prefix and
    length that pass the Luhn check; a
    candidate that ran into a following number (a CVV, a date) is shortened group by group."""
    found = []
    for match in _CARD.finditer(text):
        for candidate in _group_prefixes(match.group()):
            digits = re.sub(r"\D", "", candidate)
            network = _network(digits)
            if network and len(set(digits)) > 1 and luhn.is_valid(digits):
                found.append(Finding("CARD", match.start(), match.start() + len(candidate), candidate, network))
                break
    return found


def _group_prefixes(candidate: str) -> list[str]:
    """The candidate, then each shorter prefix that ends where a group ends (before a space or dash)."""
    cuts = [m.start() for m in re.finditer(r"[ -]", candidate)]
    return [candidate] + [candidate[:cut] for cut in reversed(cuts)]


#: Card networks: issuer prefixes (IIN ranges) and the lengths each issues.
NETWORKS: tuple[tuple[str, tuple[tuple[int, int], ...], tuple[int, ...]], ...] = (
    ("visa", ((4, 4),), (13, 16, 19)),
    ("mastercard", ((51, 55), (2221, 2720)), (16,)),
    ("amex", ((34, 34), (37, 37)), (15,)),
    ("discover", ((6011, 6011), (644, 649), (65, 65)), (16, 17, 18, 19)),
    ("jcb", ((3528, 3589),), (16, 17, 18, 19)),
    ("diners", ((300, 305), (36, 36), (38, 39)), (14, 15, 16, 17, 18, 19)),
    ("unionpay", ((62, 62),), (16, 17, 18, 19)),
)


def _network(digits: str) -> str | None:
    """The card network whose prefix and length fit the number, or None (then it is no card)."""
    for name, ranges, lengths in NETWORKS:
        if len(digits) in lengths and any(low <= int(digits[: len(str(low))]) <= high for low, high in ranges):
            return name
    return None


def _ibans(text: str) -> list[Finding]:
    """IBAN candidates (ISO 13616 check digits and each country's format); a candidate that ran into a
    following code is shortened group by group."""
    found = []
    for match in _IBAN.finditer(text):
        for candidate in _group_prefixes(match.group()):
            if iban.is_valid(candidate):
                found.append(
                    Finding(
                        "IBAN", match.start(), match.start() + len(candidate), candidate, iban.compact(candidate)[:2]
                    )
                )
                break
    return found


def _phones(text: str, regions: Iterable[str]) -> list[Finding]:
    found: dict[tuple[int, int], Finding] = {}
    for region in regions:
        for match in phonenumbers.PhoneNumberMatcher(text, region, leniency=phonenumbers.Leniency.VALID):
            region_code = phonenumbers.region_code_for_number(match.number)
            found.setdefault(
                (match.start, match.end), Finding("PHONE", match.start, match.end, match.raw_string, region_code)
            )
    return list(found.values())
