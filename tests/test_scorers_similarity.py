"""Similarity scorers with the real bundled embedding model and the real rouge-score / sacrebleu."""

from __future__ import annotations

import asyncio

import pytest

from workbench.datasets import Case
from workbench.scorers import Sample, bleu, rouge_l, semantic_similarity, token_recall

CASE = Case(id="c", inputs={}, expected="The Plus plan costs six dollars per month.")


def score(scorer, output, case=CASE):
    return asyncio.run(scorer.score(Sample(output, case)))


def test_semantic_similarity_ranks_paraphrase_above_unrelated():
    scorer = semantic_similarity(threshold=0.6)
    close = score(scorer, "Plus is $6 a month.")
    far = score(scorer, "Penguins live in Antarctica.")
    assert close.value > 0.6 > far.value and close.passed is True and far.passed is False
    assert score(scorer, "x", Case(id="n", inputs={})).value is None


def test_rouge_l_and_bleu_against_hand_checked_values():
    assert score(rouge_l(), CASE.expected).value == pytest.approx(1.0)
    # LCS "the plan costs per month" = 5 of 8 reference and 7 output tokens: F1 = 2*(5/7)*(5/8)/(5/7+5/8)
    assert score(rouge_l(use_stemmer=False), "the premium plan costs 6 per month").value == pytest.approx(
        2 * (5 / 7) * (5 / 8) / (5 / 7 + 5 / 8)
    )
    assert score(bleu(), CASE.expected).value == pytest.approx(1.0)
    assert 0 <= score(bleu(), "Six dollars per month for Plus.").value < 0.5


def test_token_recall_counts_the_reference_words_the_answer_holds():
    scorer = token_recall()
    assert score(scorer, CASE.expected).value == pytest.approx(1.0)
    # reference tokens without "the": plus plan costs six dollars per month (7); the answer has plus, six, month
    partial = score(scorer, "Plus: six a MONTH, and more words that cost nothing.")
    assert partial.value == pytest.approx(3 / 7) and partial.reason == "missing: costs, dollars, per, plan"
    long = score(scorer, "The Plus plan costs six dollars per month. " * 5)  # length is not punished
    assert long.value == pytest.approx(1.0) and long.reason is None
    twice = Case(id="t", inputs={}, expected="6 GB and 6 GB")  # counted with multiplicity
    assert score(scorer, "6 GB", twice).value == pytest.approx(2 / 5)
    assert score(scorer, "x", Case(id="n", inputs={})).value is None
    assert score(scorer, "x", Case(id="p", inputs={}, expected="...")).value is None
