"""ragas scorers: the judge adapter with a scripted LangChain chat model, the non-LLM metrics, the real local judge."""

from __future__ import annotations

import asyncio
import json

import pytest
from pydantic import BaseModel

from workbench.datasets import Case
from workbench.errors import WorkbenchError
from workbench.scorers import REGISTRY
from workbench.scorers.base import Sample
from workbench.scorers.ragas import (
    RagasMetricError,
    _judge_llm,
    parse_json,
    ragas_answer_relevancy,
    ragas_context_precision,
    ragas_context_recall,
    ragas_faithfulness,
    ragas_rouge,
    ragas_string_similarity,
    response_format,
)

CASE = Case(
    id="reset",
    inputs={"question": "How long is the password reset link valid?"},
    expected="The reset link expires after 1 hour.",
)
CHUNKS = [
    {
        "id": "r#0",
        "text": "Go to lumen.app/reset. The reset link expires after 1 hour.",
        "rank": 1,
        "source": "account/password-reset.md",
        "scores": {},
        "metadata": {},
    },
    {
        "id": "p#0",
        "text": "Plus costs $6 per month.",
        "rank": 2,
        "source": "billing/plans.md",
        "scores": {},
        "metadata": {},
    },
]
SAMPLE = Sample("The reset link is valid for 1 hour, and it can be used twice.", CASE, CHUNKS)

SCRIPTED = """\
name: {name}
description: A scripted judge for tests (LangChain's FakeListChatModel answers in order).
model:
  provider: langchain
  name: langchain_core.language_models.fake_chat_models.FakeListChatModel
  kwargs:
    responses: {responses}
messages:
  - role: system
    content: Reply with JSON.
"""


class Verdicts(BaseModel):
    statements: list[str]


def scripted_judge(tmp_path, monkeypatch, name, responses):
    folder = tmp_path / "prompts" / name
    folder.mkdir(parents=True)
    (folder / "1.0.0.yaml").write_text(SCRIPTED.format(name=name, responses=json.dumps(responses)))
    (tmp_path / "datasets").mkdir(exist_ok=True)
    monkeypatch.setenv("WORKBENCH_ROOT", str(tmp_path))
    _judge_llm.cache_clear()  # a scripted model answers in order: each test starts a fresh one
    return f"{name}@1.0.0"


def run(scorer, sample=SAMPLE):
    return asyncio.run(scorer.score(sample))


def test_parse_json_is_lenient_about_wrapping_but_not_content():
    assert parse_json('Sure!\n```json\n{"statements": ["a"]}\n```', Verdicts).statements == ["a"]
    assert parse_json('["a", "b"]', Verdicts).statements == ["a", "b"]  # a bare list for a one-field model
    with pytest.raises(ValueError, match="no JSON"):
        parse_json("The answer is noncommittal.", Verdicts)
    with pytest.raises(ValueError, match="not valid JSON"):
        parse_json('{"statements": ["a",}', Verdicts)


def test_response_format_per_provider():
    grammar = response_format("local", Verdicts)["grammar"]  # llguidance: the schema, compact, no extra keys
    assert grammar.startswith("%llguidance {}\nstart: %json ")
    schema = json.loads(grammar.split("%json ", 1)[1])
    assert schema["properties"] == Verdicts.model_json_schema()["properties"] and not schema["additionalProperties"]
    assert response_format("openai", Verdicts)["response_format"]["type"] == "json_schema"
    assert response_format("langchain", Verdicts) == {}


def test_faithfulness_with_a_scripted_judge(tmp_path, monkeypatch):
    ref = scripted_judge(
        tmp_path,
        monkeypatch,
        "scripted-a",
        [
            '{"statements": ["The reset link is valid for 1 hour.", "The reset link can be used twice."]}',
            'Here you go: {"statements": ['
            '{"statement": "The reset link is valid for 1 hour.", "reason": "stated in context", "verdict": 1}, '
            '{"statement": "The reset link can be used twice.", "reason": "not in context", "verdict": 0}]}',
        ],
    )
    score = run(ragas_faithfulness(judge=ref))
    assert score.value == pytest.approx(0.5)


def test_context_recall_with_a_scripted_judge(tmp_path, monkeypatch):
    ref = scripted_judge(
        tmp_path,
        monkeypatch,
        "scripted-b",
        [
            '{"classifications": [{"statement": "The reset link expires after 1 hour.", "reason": "in context", '
            '"attributed": 1}]}'
        ],
    )
    assert run(ragas_context_recall(judge=ref)).value == 1.0


def test_nan_is_an_error_with_the_reason(tmp_path, monkeypatch):
    ref = scripted_judge(tmp_path, monkeypatch, "scripted-c", ['{"statements": []}'])
    with pytest.raises(RagasMetricError, match="faithfulness returned NaN: the judge produced nothing to score"):
        run(ragas_faithfulness(judge=ref))


def test_out_of_range_verdicts_are_an_error(tmp_path, monkeypatch):
    ref = scripted_judge(tmp_path, monkeypatch, "scripted-f", ['{"reason": "useful", "verdict": 7}'] * 2)
    with pytest.raises(RagasMetricError, match="outside 0.0..1.0: the judge's verdicts were not the 0/1"):
        run(ragas_context_precision(judge=ref))


def test_unusable_judge_output_is_an_error_after_a_retry(tmp_path, monkeypatch):
    ref = scripted_judge(tmp_path, monkeypatch, "scripted-d", ["I think it is fine.", "Still no JSON, sorry."])
    with pytest.raises(RagasMetricError, match="judge answer unusable for StatementGeneratorOutput: no JSON"):
        run(ragas_faithfulness(judge=ref))


def test_not_applicable_and_missing_inputs(tmp_path, monkeypatch):
    ref = scripted_judge(tmp_path, monkeypatch, "scripted-e", ['{"statements": []}'])
    no_reference = Sample("x", Case(id="n", inputs={"question": "q"}), CHUNKS)
    assert run(ragas_context_precision(judge=ref), no_reference).value is None
    assert run(ragas_rouge(), no_reference).value is None
    with pytest.raises(RagasMetricError, match="no retrieved contexts"):
        run(ragas_faithfulness(judge=ref), Sample("x", CASE, []))
    with pytest.raises(WorkbenchError, match="no input 'query'"):
        run(ragas_faithfulness(judge=ref, question_variable="query"))
    with pytest.raises(WorkbenchError, match="no configuration named|does not exist|not found|no prompt"):
        ragas_faithfulness(judge="no-such-judge@1.0.0")


def test_non_llm_metrics():
    same = Sample("The reset link expires after 1 hour.", CASE, CHUNKS)
    assert run(ragas_rouge(), same).value == pytest.approx(1.0)
    assert run(ragas_string_similarity(), same).value == pytest.approx(1.0)
    partial = run(ragas_rouge(rouge_type="rouge1", mode="recall"), Sample("The link expires.", CASE, CHUNKS)).value
    assert partial == pytest.approx(3 / 7)  # the, link, expires of 7 reference words (stemmed unigrams)
    assert 0 < run(ragas_string_similarity(distance="jaro_winkler"), SAMPLE).value < 1
    with pytest.raises(WorkbenchError, match="distance must be one of"):
        ragas_string_similarity(distance="cosine")


def test_registered():
    for name in (
        "ragas_faithfulness",
        "ragas_answer_relevancy",
        "ragas_context_precision",
        "ragas_context_recall",
        "ragas_rouge",
        "ragas_string_similarity",
    ):
        assert name in REGISTRY


@pytest.mark.slow
def test_local_judge_scores_or_explains():
    """SmolLM2-135M as the judge: grammar-constrained JSON always parses; the verdicts themselves are weak."""
    _judge_llm.cache_clear()
    relevancy = run(ragas_answer_relevancy(strictness=1))
    assert 0.3 < relevancy.value <= 1.0  # generated question vs the real one, under MiniLM
    for factory in (ragas_faithfulness, ragas_context_precision, ragas_context_recall):
        try:
            value = run(factory()).value
        except RagasMetricError as exc:  # an honest failure: which metric, and why
            assert str(exc).split(" ")[0].rstrip(":") in {
                "faithfulness",
                "context_precision_with_reference",
                "context_recall",
            }
            assert "NaN" in str(exc) or "judge answer unusable" in str(exc) or "outside 0.0..1.0" in str(exc)
        else:
            assert 0.0 <= value <= 1.0
