"""Similarity to the reference answer: embeddings (bundled MiniLM), ROUGE-L (rouge-score), BLEU (sacrebleu), token
recall."""

from __future__ import annotations

import re
from collections import Counter

from ..rag.embeddings import Embedder
from .base import Sample, Score, scorer

ARTICLES = frozenset({"a", "an", "the"})


@scorer
def semantic_similarity(threshold: float = 0.7):
    """Cosine similarity of output and expected answer under all-MiniLM-L6-v2; passes at `threshold`."""
    embedder = Embedder()

    def score(sample: Sample) -> Score | None:
        if sample.case.expected is None:
            return None
        a, b = embedder.encode([sample.output, sample.case.expected])
        similarity = float(a @ b)
        return Score(similarity, passed=similarity >= threshold)

    return score


@scorer
def rouge_l(use_stemmer: bool = True):
    """ROUGE-L F1 against the expected answer (Google's rouge-score package)."""
    from rouge_score import rouge_scorer

    rouge = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=use_stemmer)

    def score(sample: Sample) -> float | None:
        if sample.case.expected is None:
            return None
        return float(rouge.score(sample.case.expected, sample.output)["rougeL"].fmeasure)

    return score


@scorer
def bleu():
    """Sentence BLEU against the expected answer, scaled to 0..1 (sacrebleu)."""
    import sacrebleu

    def score(sample: Sample) -> float | None:
        if sample.case.expected is None:
            return None
        return float(sacrebleu.sentence_bleu(sample.output, [sample.case.expected]).score / 100)

    return score


def tokens(text: str) -> list[str]:
    """Words as SQuAD's evaluation counts them: casefolded, punctuation dropped, articles dropped."""
    return [t for t in re.findall(r"\w+", text.casefold()) if t not in ARTICLES]


@scorer
def token_recall():
    """The share of the expected answer's tokens that the output contains (SQuAD tokens, counted with multiplicity).

    Partial credit for long answers that hold the reference's words: unlike ROUGE-L F1 or BLEU it does not punish
    length (Adlakha et al. 2023 found it the lexical metric that agrees best with people on verbose
    instruction-following models), so pair it with `length_bounds` or the case's checks."""

    def score(sample: Sample) -> Score | None:
        if sample.case.expected is None:
            return None
        wanted = Counter(tokens(sample.case.expected))
        if not wanted:
            return None
        missing = wanted - Counter(tokens(sample.output))
        value = 1 - sum(missing.values()) / sum(wanted.values())
        return Score(value, f"missing: {', '.join(sorted(missing))}" if missing else None)

    return score
