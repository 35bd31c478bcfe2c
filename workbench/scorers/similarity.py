"""Similarity to the reference answer: embeddings (bundled MiniLM), ROUGE-L (rouge-score), BLEU (sacrebleu)."""

from __future__ import annotations

from ..rag.embeddings import Embedder
from .base import Sample, Score, scorer


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
