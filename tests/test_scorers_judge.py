"""The LLM judge: parsing rules, the verdict schema in the cache key, and the real local judge model: constrained,
every answer carries a grade and its probabilities; unconstrained, unparseable answers become errors."""

from __future__ import annotations

import asyncio

import pytest

from workbench.experiment import evaluate
from workbench.models import judges
from workbench.models.cache import ResponseCache, request_key
from workbench.models.judges import verdict_schema, weighted_grade
from workbench.scorers import JudgeParseError, parse_verdict

JUDGE = """\
name: judge
description: A judge for tests.
model:
  provider: local
  name: smollm2-135m
  params: {{temperature: 0.0, max_tokens: {max_tokens}, seed: 3}}
variables: [output, rubric]
messages:
  - role: system
    content: "{system}"
  - role: user
    content: "Rubric: {{rubric}}. Answer: {{output}}"
"""


def test_parse_verdict():
    assert parse_verdict("SCORE: 4 REASON: mostly right", 1, 5) == (4.0, "mostly right")
    assert parse_verdict("score=2", 1, 5) == (2.0, None)
    assert parse_verdict("5 - perfect", 1, 5) == (5.0, None)
    with pytest.raises(JudgeParseError, match="no score from 1 to 5 in the judge's answer: 'SCORE: 9'"):
        parse_verdict("SCORE: 9", 1, 5)
    with pytest.raises(JudgeParseError, match="'I think it is fine'"):
        parse_verdict("I think it is fine", 1, 5)


def test_parse_json_verdicts_whole_cut_off_or_wrong():
    assert parse_verdict('{"score": 2, "reason": "quotes the wrong price"}', 1, 5) == (2.0, "quotes the wrong price")
    assert parse_verdict('{"score": 4, "reason": "mostly right but the answer ru', 1, 5) == (
        4.0,
        "mostly right but the answer ru",
    )  # max_tokens cut the reason: the grade came first
    assert parse_verdict('{"score": 3}', 1, 5) == (3.0, None)
    with pytest.raises(JudgeParseError, match="no score from 1 to 5"):
        parse_verdict('{"score": 7, "reason": "x"}', 1, 5)
    with pytest.raises(JudgeParseError):
        parse_verdict('{"reason": "no grade"}', 1, 5)


def test_verdict_schema_puts_the_grade_first_and_limits_it_to_the_scale():
    schema = verdict_schema(1, 5).model_json_schema()
    assert list(schema["properties"]) == ["score", "reason"] and schema["required"] == ["score", "reason"]
    assert schema["properties"]["score"]["enum"] == [1, 2, 3, 4, 5]
    assert schema["properties"]["reason"]["maxLength"] == judges.REASON_CHARS


def test_weighted_grade_renormalises_over_the_grades_at_the_grade_token():
    lp = [
        {"token": '{"', "top": {'{"': 0.0}},
        {"token": "score", "top": {"score": 0.0}},
        {"token": '":', "top": {'":': 0.0}},
        {"token": " 5", "top": {" 5": -0.5, " 1": -1.6, "5": -2.0, " 0": -1.0, " the": -0.7}},
        {"token": ",", "top": {",": 0.0}},
    ]
    p5, p1 = 2.718281828**-0.5 + 2.718281828**-2.0, 2.718281828**-1.6
    probabilities = weighted_grade(lp, 1, 5)
    assert probabilities == pytest.approx({1: p1 / (p1 + p5), 5: p5 / (p1 + p5)})  # " 0" and " the" are no grades
    assert weighted_grade(lp, 1, 10) is None  # 10 is two tokens: no weighting
    assert weighted_grade(lp[:3], 1, 5) is None and weighted_grade(None, 1, 5) is None


def test_the_verdict_schema_and_logprobs_are_in_the_cache_key(project):
    """A constrained answer is never served from an unconstrained cache entry (or the other way round)."""
    from workbench.models import ModelClient
    from workbench.prompts import resolve

    client = ModelClient(resolve("tiny@1.0.0", project.prompts_dir).spec)
    messages = [{"role": "user", "content": "Grade this."}]
    keys = {
        request_key(client.request(messages)),
        request_key(client.request(messages, schema=verdict_schema(1, 5))),
        request_key(client.request(messages, schema=verdict_schema(1, 10))),
        request_key(client.request(messages, schema=verdict_schema(1, 5), logprobs=20)),
    }
    assert len(keys) == 4
    assert request_key(client.request(messages, schema=verdict_schema(1, 5))) == request_key(
        client.request(messages, schema=verdict_schema(1, 5))
    )


def test_the_local_judge_constrained_answers_a_json_verdict_with_grade_probabilities(project, tmp_path):
    """The real SmolLM2-135M under the verdict grammar: its answer is JSON with a grade, the grade token's
    probabilities come back, and the cache keeps constrained and unconstrained answers apart."""
    from workbench.models import ModelClient
    from workbench.prompts import resolve

    write_judge(project, "Grade the answer from 1 to 5.", 32)
    spec = resolve("judge@1.0.0", project.prompts_dir)
    client = ModelClient(spec.spec, cache=ResponseCache(tmp_path / "cache.sqlite"))
    messages = spec.render({"rubric": "correct", "output": "Paris is the capital of France."})
    plain = asyncio.run(client.acall(messages))
    verdict = asyncio.run(client.acall(messages, schema=verdict_schema(1, 5), logprobs=20))
    assert not verdict.cached and verdict.text != plain.text and client.calls == 2
    assert verdict.text.lstrip().startswith("{") and parse_verdict(verdict.text, 1, 5)[0] in range(1, 6)
    probabilities = weighted_grade(verdict.logprobs, 1, 5)
    assert probabilities and set(probabilities) <= {1, 2, 3, 4, 5} and sum(probabilities.values()) == pytest.approx(1)
    again = asyncio.run(client.acall(messages, schema=verdict_schema(1, 5), logprobs=20))
    assert again.cached and again.text == verdict.text and again.logprobs == verdict.logprobs


def write_judge(project, system: str, max_tokens: int) -> None:
    folder = project.prompts_dir / "judge"
    folder.mkdir()
    (folder / "1.0.0.yaml").write_text(JUDGE.format(system=system, max_tokens=max_tokens))


def test_unparseable_judge_answers_are_errors_with_the_raw_text(project):
    """The judge configuration is found in the evaluated project, whatever the current folder."""
    write_judge(project, "Say hello to the user.", 6)
    result = evaluate(
        "tiny@1.0.0",
        "tiny",
        scorers=[{"name": "llm_judge", "args": {"judge": "judge@1.0.0", "constrained": False}}],
        settings=project,
        log=False,
        progress=False,
    )
    errors = result.frame["error"].dropna()
    assert len(errors) == 3 and errors.str.startswith("scorer llm_judge: JudgeParseError: no score from 1 to 5").all()
    assert result.frame["value"].isna().all()


def test_grades_are_scaled_and_judged_against_pass_at(project, monkeypatch):
    """The 135M model cannot follow a grading format, so this judge is a LangChain class answering fixed grades."""
    folder = project.prompts_dir / "judge"
    folder.mkdir()
    (folder / "1.0.0.yaml").write_text(
        JUDGE.format(system="Grade.", max_tokens=8).replace(
            "provider: local\n  name: smollm2-135m\n  params: {temperature: 0.0, max_tokens: 8, seed: 3}",
            "provider: langchain\n  name: langchain_core.language_models.fake_chat_models.FakeListChatModel\n"
            "  kwargs: {responses: ['SCORE: 5 REASON: right', 'SCORE: 2 REASON: wrong', 'SCORE: 4']}",
        )
    )
    monkeypatch.chdir(project.root)
    result = evaluate(
        "tiny@1.0.0",
        "tiny",
        scorers=[{"name": "llm_judge", "args": {"judge": "judge@1.0.0", "pass_at": 4}}],
        settings=project,
        log=False,
        progress=False,
        concurrency=1,
    )
    frame = result.frame
    assert frame["error"].isna().all()
    assert sorted(frame["value"]) == [0.25, 0.75, 1.0]
    assert (
        frame.set_index("value").loc[0.25, "reason"] == "2/5: wrong"
        and not frame.set_index("value").loc[0.25, "passed"]
    )
    assert frame["passed"].sum() == 2
