"""Personal data: planted values are found with the right kind and span, near misses are not, redaction replaces them."""

from __future__ import annotations

import pytest

from workbench.errors import WorkbenchError
from workbench.guardrails import find_pii, redact

PLANTED = {
    "EMAIL": ["jane.doe@example.com", "m.müller+notes@posteo.de"],
    "PHONE": ["+49 30 901820", "(415) 555-0132", "020 7946 0958", "+33 1 42 68 53 00"],
    "CARD": ["4111 1111 1111 1111", "5500-0000-0000-0004", "378282246310005"],
    "IBAN": ["DE89 3704 0044 0532 0130 00", "NL91ABNA0417164300", "GB82 WEST 1234 5698 7654 32"],
    "NATIONAL_ID": ["536-22-8726", "36 574 261 809", "2 95 10 99 126 111 93", "12345678Z"],
}


def test_each_planted_value_is_found_with_its_kind_and_exact_span():
    for kind, values in PLANTED.items():
        for value in values:
            text = f"Hello, here it is: {value}. Thanks for the help!"
            found = find_pii(text)
            assert [(f.kind, f.text) for f in found] == [(kind, value)], (kind, value, found)
            assert text[found[0].start : found[0].end] == value


def test_card_needs_a_valid_luhn_checksum():
    assert [f.detail for f in find_pii("card 4111 1111 1111 1111")] == ["visa"]
    assert find_pii("card 4111 1111 1111 1112") == []  # one digit off: the Luhn check fails
    assert find_pii("card 0000 0000 0000 0000") == []  # passes Luhn, but is no card
    # a CVV and an expiry after the number do not hide it
    found = find_pii("4111 1111 1111 1111 123 12/27")
    assert [(f.kind, f.text) for f in found] == [("CARD", "4111 1111 1111 1111")]


def test_iban_checksum_and_trailing_words():
    assert find_pii("IBAN DE89 3704 0044 0532 0130 01") == []  # wrong check digits
    found = find_pii("pay to DE89 3704 0044 0532 0130 00 REF INV2026")
    assert [(f.kind, f.text, f.detail) for f in found] == [("IBAN", "DE89 3704 0044 0532 0130 00", "DE")]


def test_national_ids_formatted_or_bare_with_a_keyword():
    assert [f.detail for f in find_pii("SSN 536-22-8726")] == ["us.ssn"]
    assert find_pii("SSN 000-22-8726") == []  # area 000 is never issued
    assert [f.detail for f in find_pii("my BSN is 111222333")] == ["nl.bsn"]
    assert find_pii("order number 111222333") == []  # bare digits need a keyword naming the scheme
    assert [f.detail for f in find_pii("Steuer-ID: 36574261809")] == ["de.idnr"]
    assert find_pii("Steuer-ID: 36574261890") == []  # bad check digit
    assert [f.detail for f in find_pii("NIR 295109912611193")] == ["fr.nir"]
    assert [f.detail for f in find_pii("DNI 12345678Z")] == ["es.dni"]
    assert find_pii("DNI 12345678A") == []  # wrong control letter


def test_email_and_phone_are_validated():
    assert find_pii("write to someone@localhost or a..b@example.com") == []
    assert [f.detail for f in find_pii("call (415) 555-0132 or +49 30 901820")] == ["US", "DE"]
    assert find_pii("Hours 9:00-18:00 CET, version 1.3, 250 MB, AES-256, 2026-10-03, order 1234567") == []


def test_redact_replaces_every_finding_and_keeps_the_rest():
    text = (
        "I'm jane.doe@example.com, phone (415) 555-0132, card 4111 1111 1111 1111, "
        "IBAN DE89 3704 0044 0532 0130 00, SSN 536-22-8726. Support: support@lumen.app"
    )
    assert redact(text, allow=["support@lumen.app"]) == (
        "I'm [EMAIL], phone [PHONE], card [CARD], IBAN [IBAN], SSN [NATIONAL_ID]. Support: support@lumen.app"
    )
    assert redact(text, kinds=["card", "IBAN"]) == (
        "I'm jane.doe@example.com, phone (415) 555-0132, card [CARD], IBAN [IBAN], SSN 536-22-8726. "
        "Support: support@lumen.app"
    )
    assert redact("nothing personal here") == "nothing personal here"


def test_unknown_kind_is_a_clear_error():
    with pytest.raises(WorkbenchError, match="unknown kind.*PASSPORT.*known: EMAIL"):
        find_pii("x", kinds=["passport"])


def test_demo_traffic_planted_data_is_found_and_nothing_else():
    """The demo traffic plants e-mails and phone numbers in 12 questions; the answers only hold the support address."""
    from pathlib import Path

    from workbench.drift import load_traffic
    from workbench.guardrails import detect_injection

    traffic = load_traffic(Path(__file__).resolve().parents[1] / "datasets" / "traffic" / "lumen-support.jsonl")
    planted = traffic["input_text"].str.contains("My email is|reach me on|Account email|My number is")
    found = traffic["input_text"].map(lambda text: {f.kind for f in find_pii(text)})
    assert planted.sum() == 12 and found[planted].map(bool).all() and not found[~planted].map(bool).any()
    assert set().union(*found[planted]) == {"EMAIL", "PHONE"}
    assert not traffic["output"].map(lambda text: find_pii(text, allow=["support@lumen.app"])).map(bool).any()
    attacks = traffic["metadata"].map(lambda m: m["intent"] == "injection")
    flagged = traffic["input_text"].map(lambda text: detect_injection(text).flagged)
    assert attacks.sum() == 8 and (flagged == attacks).all()
