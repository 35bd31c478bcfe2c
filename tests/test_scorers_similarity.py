"""Similarity scorers with the real bundled embedding model and the real rouge-score / sacrebleu."""

from __future__ import annotations

import asyncio

import pytest

from workbench.datasets import Case
from workbench.scorers import Sample, bleu, rouge_l, semantic_similarity

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
