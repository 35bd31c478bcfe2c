"""The gate end to end on the real local model: a known regression fails it, noise does not."""

from __future__ import annotations

import json

import pytest

from workbench.cli import main

pytestmark = pytest.mark.slow

WITH_NOTE = """\
name: facts
description: Answers from the note it is given.
model:
  provider: local
  name: smollm2-135m
  params: {{temperature: {temperature}, max_tokens: 24, seed: 5}}
variables: [{variables}]
messages:
  - role: system
    content: "You are the office assistant.{note}"
  - role: user
    content: "{{question}}"
"""

FACTS = [
    ("The support phone number is", "555-0199", "What is the support phone number?"),
    ("The cafeteria opens at", "7:30", "When does the cafeteria open?"),
    ("The parking garage is on", "Elm Street", "Where is the parking garage?"),
    ("The project codename is", "Bluefin", "What is the project codename?"),
    ("The company was founded in", "1987", "When was the company founded?"),
    ("The printer on floor 3 is named", "Zephyr", "What is the floor 3 printer named?"),
    ("The quarterly party is on", "Friday", "When is the quarterly party?"),
    ("The office wifi password is", "tulip42", "What is the office wifi password?"),
    ("The meeting room is called", "Orion", "What is the meeting room called?"),
    ("The lab is on floor", "12", "Which floor is the lab on?"),
    ("The shuttle bus leaves at", "17:45", "When does the shuttle bus leave?"),
    ("The team mascot is a", "pelican", "What is the team mascot?"),
    ("The warehouse is in", "Tilburg", "Where is the warehouse?"),
    ("The annual budget is", "$48,000", "What is the annual budget?"),
    ("The intern's name is", "Priya", "What is the intern's name?"),
    ("The server room code is", "9041", "What is the server room code?"),
]


@pytest.fixture
def facts_project(tmp_path):
    folder = tmp_path / "prompts" / "facts"
    folder.mkdir(parents=True)
    (folder / "1.0.0.yaml").write_text(WITH_NOTE.format(temperature=0.0, variables="note, question", note=" {note}"))
    # 1.1.0 drops the key instruction: the note the answers depend on.
    (folder / "1.1.0.yaml").write_text(WITH_NOTE.format(temperature=0.0, variables="question", note=""))
    (folder / "2.0.0.yaml").write_text(WITH_NOTE.format(temperature=0.9, variables="note, question", note=" {note}"))
    (tmp_path / "datasets" / "facts").mkdir(parents=True)
    cases = [
        {
            "id": f"fact-{i}",
            "inputs": {"note": f"{lead} {answer}.", "question": question},
            "checks": {"must_contain": [answer]},
        }
        for i, (lead, answer, question) in enumerate(FACTS)
    ]
    (tmp_path / "datasets" / "facts" / "1.jsonl").write_text("".join(json.dumps(c) + "\n" for c in cases))
    (tmp_path / "gate.yaml").write_text("critical: [case_checks]\nmin_effect: 0.05\nmax_latency_increase: 1.0\n")
    return tmp_path


def test_dropping_the_key_instruction_fails_the_gate(facts_project, capsys):
    code = main(
        [
            "--root",
            str(facts_project),
            "compare",
            "facts@1.0.0",
            "facts@1.1.0",
            "--dataset",
            "facts",
            "--scorer",
            "case_checks",
            "--quiet",
            "--no-log",
        ]
    )
    out = capsys.readouterr().out
    assert code == 1, out
    assert "GATE FAILED" in out and "case_checks regressed" in out


def test_the_same_version_with_other_seeds_is_not_a_regression(facts_project):
    from workbench.experiment import compare_refs
    from workbench.gate import GatePolicy
    from workbench.settings import Settings

    comparison, gate = compare_refs(
        "facts@2.0.0",
        "facts@2.0.0",
        "facts",
        policy=GatePolicy.load(facts_project / "gate.yaml"),
        settings=Settings.load(root=facts_project),
        repeats=3,
        scorers=["case_checks"],
        log=False,
        progress=False,
    )
    # Not a regression. Whether 16 cases settle it depends on the draw: inconclusive when a 5-point drop is still
    # plausible and too small to see; "no significant change" when the one-sided bound rules it out (a run whose
    # other seeds happened to pass more cases) or the pass rate is already below 0.05 and cannot drop that much.
    row = comparison.table.loc["case_checks"]
    settled = row["worst_diff"] > -0.05 or row["baseline"] < 0.05
    assert row["mde"] > 0.05 and row["p_adjusted"] >= 0.05, gate.report()
    assert row["verdict"] == ("no significant change" if settled else "inconclusive"), gate.report()
    assert gate.verdict == ("inconclusive" if row["verdict"] == "inconclusive" else "passed")
    if gate.verdict == "inconclusive":
        assert gate.exit_code == 4 and "case_checks inconclusive: this dataset can detect drops of" in gate.report()
    base, cand = comparison.baseline, comparison.candidate
    assert base.model_calls == cand.model_calls == 48 and cand.frame["repeat"].max() == 2
    # The candidate was really sampled with other seeds: some of its answers differ from the baseline's.
    outputs = [r.cases().set_index(["case_id", "repeat"])["output"] for r in (base, cand)]
    assert (outputs[0] != outputs[1]).any()
