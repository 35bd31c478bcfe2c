"""Scorers: the contract (`scorer`, `Score`, `Scorer`) and the built-ins."""

from .base import REGISTRY, Sample, Score, Scorer, from_spec, get_scorer, scorer
from .guardrails import guardrail_policy, injection_free, pii_free
from .judge import JudgeParseError, llm_judge, parse_verdict
from .ragas import (
    ragas_answer_relevancy,
    ragas_context_precision,
    ragas_context_recall,
    ragas_faithfulness,
    ragas_rouge,
    ragas_string_similarity,
)
from .retrieval import hit_rate, mrr, ndcg_at_k, precision_at_k, recall_at_k
from .similarity import bleu, rouge_l, semantic_similarity, token_recall
from .structure import contains_all, contains_any, json_schema, length_bounds, regex, valid_json, valid_python
from .text import case_checks, contains, exact_match, forbidden_terms

DEFAULT_SCORERS = ("exact_match", "contains", "forbidden_terms", "case_checks")

__all__ = [
    "DEFAULT_SCORERS",
    "JudgeParseError",
    "REGISTRY",
    "Sample",
    "Score",
    "Scorer",
    "bleu",
    "case_checks",
    "contains",
    "contains_all",
    "contains_any",
    "exact_match",
    "forbidden_terms",
    "from_spec",
    "get_scorer",
    "json_schema",
    "length_bounds",
    "llm_judge",
    "parse_verdict",
    "regex",
    "rouge_l",
    "scorer",
    "semantic_similarity",
    "token_recall",
    "valid_json",
    "valid_python",
    "hit_rate",
    "mrr",
    "ndcg_at_k",
    "precision_at_k",
    "recall_at_k",
    "ragas_answer_relevancy",
    "ragas_context_precision",
    "ragas_context_recall",
    "ragas_faithfulness",
    "ragas_rouge",
    "ragas_string_similarity",
    "guardrail_policy",
    "injection_free",
    "pii_free",
]
