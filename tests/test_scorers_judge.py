"""The LLM judge: parsing rules, and the real local judge model, whose unparseable answers become errors."""

from __future__ import annotations

import pytest

from workbench.experiment import evaluate
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
        scorers=[{"name": "llm_judge", "args": {"judge": "judge@1.0.0"}}],
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
