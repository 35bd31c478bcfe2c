"""The CI summary reviewers read: Markdown (pull-request comment, job summary) and JSON, from the verdict records."""

from __future__ import annotations

import json

from workbench import secrets
from workbench.ci import NotebookRun, exit_code
from workbench.ci_summary import MARKER, md, write_summary
from workbench.compare import compare
from workbench.gate import GatePolicy, check_gate
from workbench.widgets.verdict import verdict_record

from .test_compare import run
from .test_gate import flips


def notebook_run(tmp_path, name: str, status: str, record=None, error=None) -> NotebookRun:
    report = tmp_path / f"{name}.html"
    report.write_text("<html></html>")
    return NotebookRun(
        name, f"notebooks/{name}.ipynb", str(tmp_path / f"{name}.ipynb"), str(report), status, 12.3, record, error
    )


def gate_record(scores_base, scores_cand, min_effect=0.05):
    comparison = compare(run(scores_base), run(scores_cand), min_effect=min_effect)
    return verdict_record(comparison, check_gate(comparison, GatePolicy(min_effect=min_effect, max_error_rate=None)))


def test_an_inconclusive_summary_says_what_would_decide_it(tmp_path):
    base, cand = flips(20, worse=1, better=1)
    record = gate_record({"ok": base}, {"ok": cand})
    runs = [notebook_run(tmp_path, "gate", "inconclusive", record)]
    summary, markdown = write_summary(runs, exit_code(runs), tmp_path)
    assert markdown.startswith(MARKER + "\n## ⚠️ workbench ci: inconclusive (exit 4)")
    cases = int(record.scorers[0]["cases_needed"])
    assert "- **inconclusive**: ok inconclusive: this dataset can detect drops of" in markdown
    assert f"about {cases:,} cases (this comparison had 20) would decide it" in markdown
    assert "| ok | 0.500 | 0.500 | +0.000 |" in markdown and f"inconclusive (about {cases:,} cases" in markdown
    assert "Report: [gate.html](gate.html) · 12 s" in markdown
    assert (tmp_path / "summary.md").read_text() == markdown
    assert json.loads((tmp_path / "summary.json").read_text()) == json.loads(json.dumps(summary, default=str))
    assert summary["status"] == "inconclusive" and summary["exit_code"] == 4
    assert summary["notebooks"][0]["verdict"]["scorers"][0]["cases_needed"] == cases


def test_a_regression_names_the_scorer_its_numbers_and_the_cases(tmp_path):
    base, cand = flips(200, worse=40, better=0, base_rate=0.8)
    record = gate_record({"ok": base, "a|b*<i>": base}, {"ok": cand, "a|b*<i>": base})
    runs = [notebook_run(tmp_path, "gate", "regressed", record)]
    _, markdown = write_summary(runs, exit_code(runs), tmp_path, report_url="https://ci.example/runs/7")
    assert "## ❌ workbench ci: regression (exit 1)" in markdown
    assert r"- **regressed**: ok regressed: 0.800 -\> 0.600 (diff -0.200, 95% CI \[" in markdown
    assert r"| a\|b\*\<i\> | 0.800 | 0.800 | +0.000 |" in markdown  # a name cannot break the table or add markup
    row = next(line for line in markdown.splitlines() if line.startswith("| ok |"))
    assert row.endswith("| regressed |") and float(row.split("|")[6]) > 0.2  # at most that much worse
    assert "Cases that got worse: `" in markdown and "and 30 more" in markdown  # 40 cases, the first 10 shown
    assert "Report: [gate.html](https://ci.example/runs/7)" in markdown


def test_a_pass_states_what_it_rules_out_and_an_error_hides_secrets(tmp_path, monkeypatch):
    base, cand = flips(400, worse=3, better=3, base_rate=0.8)
    passing = notebook_run(tmp_path, "gate", "passed", gate_record({"ok": base}, {"ok": cand}))
    secrets.remember("sk-summary-secret-123456")
    broken = notebook_run(tmp_path, "rag", "error", error="RuntimeError: key sk-summary-secret-123456 refused `x`")
    step = tmp_path / "step-summary.md"
    step.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(step))
    runs = [passing, broken]
    summary, markdown = write_summary(runs, exit_code(runs), tmp_path)
    assert summary["status"] == "error" and summary["exit_code"] == 3
    assert "## 💥 workbench ci: error (exit 3)" in markdown and "### ✅ gate: " in markdown
    assert "- every rule of the gate passed" in markdown
    row = next(line for line in markdown.splitlines() if line.startswith("| ok |"))
    assert 0 < float(row.split("|")[6]) < 0.05 and row.endswith("| no significant change |")
    assert "The notebook failed: `RuntimeError: key *** refused 'x'`" in markdown
    for text in (markdown, (tmp_path / "summary.json").read_text(), step.read_text()):
        assert "sk-summary-secret" not in text
    assert step.read_text() == "earlier step\n" + markdown  # appended to the job summary


def test_markdown_text_is_literal():
    assert md("**bold** [x](javascript:alert(1)) <script>\n# head") == (
        r"\*\*bold\*\* \[x\](javascript:alert(1)) \<script\> # head"
    )


def test_a_report_url_that_would_break_the_link_is_bad_input(tmp_path, capsys):
    import pytest

    from workbench.cli import main

    with pytest.raises(SystemExit) as exited:
        main(["--root", str(tmp_path), "ci", "--report-url", "https://x.example/a) [y](javascript:1"])
    err = capsys.readouterr().err
    assert exited.value.code == 2 and "--report-url" in err and "http(s) URL" in err and "Traceback" not in err
