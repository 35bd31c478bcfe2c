"""`workbench ci`: the configuration, parameters, the report rendering, and end to end on the local model."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import nbformat
import pytest

from workbench.ci import (
    CIConfig,
    GateFailed,
    GateInconclusive,
    NotebookRun,
    assert_gate,
    exit_code,
    parse_parameters,
    plan,
    render_report,
)
from workbench.cli import main
from workbench.errors import WorkbenchError
from workbench.gate import GateResult, RuleOutcome
from workbench.widgets.verdict import VERDICT_MIME

REPO = Path(__file__).resolve().parent.parent
NOTE_PROMPT = """\
name: facts
description: Answers from the note it is given.
model:
  provider: local
  name: smollm2-135m
  params: {{temperature: 0.0, max_tokens: 24, seed: 5}}
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
    ("The project codename is", "Bluefin", "What is the project codename?"),
    ("The company was founded in", "1987", "When was the company founded?"),
    ("The printer on floor 3 is named", "Zephyr", "What is the floor 3 printer named?"),
    ("The meeting room is called", "Orion", "What is the meeting room called?"),
    ("The team mascot is a", "pelican", "What is the team mascot?"),
    ("The warehouse is in", "Tilburg", "Where is the warehouse?"),
    ("The intern's name is", "Priya", "What is the intern's name?"),
    ("The server room code is", "9041", "What is the server room code?"),
    ("The shuttle bus leaves at", "17:45", "When does the shuttle bus leave?"),
    ("The lab is on floor", "12", "Which floor is the lab on?"),
]


def copy_ci_files(root: Path) -> None:
    """What a project needs for `workbench ci`: the gate notebook and the nbconvert configuration."""
    (root / "notebooks").mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "notebooks" / "gate.ipynb", root / "notebooks" / "gate.ipynb")
    shutil.copytree(REPO / "nbconvert-config", root / "nbconvert-config", dirs_exist_ok=True)


def write_facts_project(root: Path) -> Path:
    folder = root / "prompts" / "facts"
    folder.mkdir(parents=True)
    (folder / "1.0.0.yaml").write_text(NOTE_PROMPT.format(variables="note, question", note=" {note}"))
    (folder / "1.1.0.yaml").write_text(NOTE_PROMPT.format(variables="question", note=""))  # drops the note
    (root / "datasets" / "facts").mkdir(parents=True)
    cases = [
        {
            "id": f"fact-{i:02d}",
            "inputs": {"note": f"{lead} {answer}.", "question": question},
            "checks": {"must_contain": [answer]},
            "tags": ["office"],
        }
        for i, (lead, answer, question) in enumerate(FACTS)
    ]
    (root / "datasets" / "facts" / "1.jsonl").write_text("".join(json.dumps(c) + "\n" for c in cases))
    (root / "gate.yaml").write_text(
        "critical: [case_checks]\nmin_effect: 0.05\nmax_latency_increase: null\nmax_cost_increase: null\n"
    )
    (root / "ci.yaml").write_text(
        "notebooks:\n  - name: facts-gate\n    path: notebooks/gate.ipynb\n    parameters:\n"
        "      baseline: facts@1.1.0\n      candidate: facts@1.0.0\n      dataset: facts\n"
        "      scorers: [case_checks]\n"
    )
    copy_ci_files(root)
    return root


def test_ci_config_errors_name_the_file_and_the_field(tmp_path):
    path = tmp_path / "ci.yaml"
    path.write_text("notebooks:\n  - path: a.ipynb\n    params: {x: 1}\n")
    with pytest.raises(WorkbenchError, match=r"ci\.yaml: notebooks\.0\.params: unknown key"):
        CIConfig.load(path)
    path.write_text("output: reports\n")
    with pytest.raises(WorkbenchError, match=r"ci\.yaml: notebooks: Field required"):
        CIConfig.load(path)
    path.write_text("notebooks:\n  - path: a.ipynb\n  - path: b/a.ipynb\n")
    with pytest.raises(WorkbenchError, match="share a name"):
        CIConfig.load(path)
    path.write_text("notebooks: [\n")
    with pytest.raises(WorkbenchError, match="not valid YAML"):
        CIConfig.load(path)
    with pytest.raises(WorkbenchError, match="cannot read"):
        CIConfig.load(tmp_path / "missing.yaml")


def test_the_repository_ci_yaml_is_valid_and_runs_the_gate_notebook():
    config = CIConfig.load(REPO / "ci.yaml")
    (spec, params), (ab, ab_params) = plan(config, REPO, {}, None)
    assert spec.path == "notebooks/gate.ipynb" and params["candidate"] == "support@1.1.0" and params["baseline"] is None
    assert ab.path == "notebooks/ab_test.ipynb" and ab_params["traffic"] == "datasets/traffic/lumen-ab.jsonl"


def test_parameters_are_read_as_yaml_scalars():
    assert parse_parameters(
        [
            ["candidate", "support@1.0.0"],
            ["baseline", "null"],
            ["repeats", "3"],
            ["log", "false"],
            ["scorers", "[case_checks, contains]"],
            ["text", ""],
        ]
    ) == {
        "candidate": "support@1.0.0",
        "baseline": None,
        "repeats": 3,
        "log": False,
        "scorers": ["case_checks", "contains"],
        "text": "",
    }
    assert parse_parameters([["policy", "{a: 1}"]]) == {"policy": "{a: 1}"}  # mappings stay text


def test_plan_checks_parameters_against_the_notebook(tmp_path):
    copy_ci_files(tmp_path)
    (tmp_path / "ci.yaml").write_text(
        "notebooks:\n  - path: notebooks/gate.ipynb\n    parameters: {candidate: a@1.0.0}\n"
    )
    config = CIConfig.load(tmp_path / "ci.yaml")
    ((_, params),) = plan(config, tmp_path, {"candidate": "b@2.0.0"}, None, shared={"tracking_uri": "http://x"})
    assert params == {"candidate": "b@2.0.0", "tracking_uri": "http://x"}  # the command line wins
    with pytest.raises(WorkbenchError, match="-p colour: no selected notebook declares"):
        plan(config, tmp_path, {"colour": "red"}, None)
    with pytest.raises(WorkbenchError, match="--notebook: other not in the CI configuration; notebooks: gate"):
        plan(config, tmp_path, {}, ["other"])
    (tmp_path / "ci.yaml").write_text(
        "notebooks:\n  - path: notebooks/gate.ipynb\n    parameters: {candidat: a@1.0.0}\n"
    )
    with pytest.raises(
        WorkbenchError, match="candidat not declared in notebooks/gate.ipynb; it takes baseline, candidate"
    ):
        plan(CIConfig.load(tmp_path / "ci.yaml"), tmp_path, {}, None)
    (tmp_path / "ci.yaml").write_text("notebooks:\n  - path: notebooks/nope.ipynb\n")
    with pytest.raises(WorkbenchError, match="notebooks/nope.ipynb: no such notebook"):
        plan(CIConfig.load(tmp_path / "ci.yaml"), tmp_path, {}, None)


def test_exit_codes_and_the_gate_assertion():
    run = lambda status: NotebookRun("n", "n.ipynb", "n.ipynb", "n.html", status, 1.0)  # noqa: E731
    assert exit_code([run("passed")]) == 0
    assert exit_code([run("passed"), run("regressed")]) == 1
    assert exit_code([run("regressed"), run("error")]) == 3
    assert (
        exit_code([run("passed"), run("inconclusive")]) == 4 and exit_code([run("inconclusive"), run("regressed")]) == 1
    )
    assert_gate(GateResult(()))
    with pytest.raises(GateFailed, match="GATE FAILED\n  - error rate 20.0% is above 10%"):
        assert_gate(GateResult((RuleOutcome("error_rate", "regressed", candidate=0.2, limit=0.1),)))
    inconclusive = RuleOutcome(
        "critical", "inconclusive", "checks", 0.5, 0.5, 0.0, -0.1, 0.1, 1.0, 1.0, 0.3, 0.05, n=20
    )
    with pytest.raises(GateInconclusive, match="checks inconclusive: this dataset can detect drops of 0.30"):
        assert_gate(GateResult((inconclusive,)))
    assert_gate(GateResult((inconclusive,), inconclusive_fails=False))


def test_the_report_puts_the_verdict_first_hides_code_and_prefers_static_html(tmp_path):
    nb = nbformat.v4.new_notebook()
    intro = nbformat.v4.new_markdown_cell("# Intro for notebook readers")
    intro.metadata["tags"] = ["report-hide"]
    params = nbformat.v4.new_code_cell("candidate = 'x@1.0.0'")
    params.metadata["tags"] = ["parameters"]
    later = nbformat.v4.new_code_cell(
        "details()",
        outputs=[
            nbformat.v4.new_output("display_data", data={"text/plain": "details", "text/html": "<b>details table</b>"})
        ],
    )
    verdict = nbformat.v4.new_code_cell(
        "record_verdict()",
        outputs=[
            nbformat.v4.new_output(
                "display_data",
                data={
                    VERDICT_MIME: {"passed": True},
                    "text/html": "<div>GATE PASSED banner</div>",
                    "text/plain": "GATE PASSED",
                },
            )
        ],
    )
    verdict.metadata["tags"] = ["verdict"]
    widget = nbformat.v4.new_code_cell(
        "view",
        outputs=[
            nbformat.v4.new_output(
                "execute_result",
                execution_count=3,
                data={
                    "application/vnd.jupyter.widget-view+json": {
                        "version_major": 2,
                        "version_minor": 0,
                        "model_id": "abc",
                    },
                    "text/html": "<div>static view of the widget</div>",
                    "text/plain": "View()",
                },
            )
        ],
    )
    nb.cells = [intro, params, later, verdict, widget]
    nb.metadata["papermill"] = {"parameters": {"candidate": "x@1.0.0", "baseline": "<b>y</b>"}, "exception": False}
    nb.metadata["widgets"] = {
        "application/vnd.jupyter.widget-state+json": {"state": {"abc": {}}, "version_major": 2, "version_minor": 0}
    }
    path = tmp_path / "gate.ipynb"
    nbformat.write(nb, path)
    html = render_report(path, tmp_path / "gate.html", REPO / "nbconvert-config").read_text()
    assert "<title>gate: x@1.0.0 against &lt;b&gt;y&lt;/b&gt;</title>" in html
    assert html.index("GATE PASSED banner") < html.index("details table") < html.index("static view of the widget")
    assert "Intro for notebook readers" not in html and "record_verdict()" not in html and "details()" not in html
    assert "<script" not in html and "Error displaying widget" not in html
    assert "<th>baseline</th><td>&lt;b&gt;y&lt;/b&gt;</td>" in html
    shown = render_report(path, tmp_path / "code.html", REPO / "nbconvert-config", show_code=True).read_text()
    assert "record_verdict" in shown
    with pytest.raises(WorkbenchError, match="report_config.py: missing"):
        render_report(path, tmp_path / "x.html", tmp_path)


@pytest.fixture(scope="module")
def facts(tmp_path_factory):
    return write_facts_project(tmp_path_factory.mktemp("facts"))


@pytest.mark.slow
def test_ci_passes_writes_the_report_and_logs_it_to_the_candidate_run(facts, capsys):
    from mlflow import MlflowClient

    from workbench.mlflow_store import use
    from workbench.settings import Settings

    code = main(["--root", str(facts), "ci"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert out.startswith("PASSED    facts-gate")
    record = json.loads((facts / "reports" / "summary.json").read_text())
    assert record["status"] == "passed" and record["exit_code"] == 0
    (summary,) = record["notebooks"]
    markdown = (facts / "reports" / "summary.md").read_text()
    assert (
        "## ✅ workbench ci: passed (exit 0)" in markdown
        and "### ✅ facts-gate: facts@1.0.0 against facts@1.1.0" in markdown
    )
    assert "- every rule of the gate passed" in markdown and "| case\\_checks |" in markdown
    assert "Report: [facts-gate.html](facts-gate.html)" in markdown
    html = Path(summary["report"]).read_text()
    assert "GATE PASSED: facts@1.0.0 against facts@1.1.0 on facts@1" in html
    assert html.index("GATE PASSED") < html.index("Cases that got worse") < html.index("Paired differences")
    assert "data:image/png;base64," in html  # plots inline
    executed = nbformat.read(summary["executed"], as_version=4)  # a fresh store: MLflow's log lines stay out
    stderr = [o["text"] for c in executed.cells for o in c.get("outputs", []) if o.get("name") == "stderr"]
    assert not [t for t in stderr if "mlflow" in t or "alembic" in t], stderr
    assert "INFO mlflow" not in html and "alembic" not in html
    run_id = summary["verdict"]["candidate_run_id"]
    assert summary["logged_to"] == run_id
    use(Settings.load(root=facts))
    client = MlflowClient()
    assert {a.path for a in client.list_artifacts(run_id, "reports")} == {
        "reports/facts-gate.html",
        "reports/facts-gate.ipynb",
    }
    assert client.get_run(run_id).data.tags["workbench.ci"] == "passed"


@pytest.mark.slow
def test_ci_fails_on_a_regression_and_the_report_lists_the_failing_cases(facts, capsys):
    code = main(
        [
            "--root",
            str(facts),
            "ci",
            "-p",
            "candidate",
            "facts@1.1.0",
            "-p",
            "baseline",
            "facts@1.0.0",
            "--output",
            str(facts / "regressed"),
            "--no-log",
        ]
    )
    out = capsys.readouterr().out
    assert code == 1, out
    assert out.startswith("REGRESSED facts-gate") and "failing cases: fact-" in out
    record = json.loads((facts / "regressed" / "summary.json").read_text())
    assert record["status"] == "regressed" and record["exit_code"] == 1
    (summary,) = record["notebooks"]
    failing = summary["verdict"]["failing_cases"]
    markdown = (facts / "regressed" / "summary.md").read_text()
    assert (
        "## ❌ workbench ci: regression (exit 1)" in markdown
        and "- **regressed**: case\\_checks regressed: " in markdown
    )
    assert f"Cases that got worse: `{failing[0]}`" in markdown
    assert len(failing) >= 3 and summary["verdict"]["candidate_run_id"] is None  # --no-log: nothing logged
    html = (facts / "regressed" / "facts-gate.html").read_text()
    assert "GATE FAILED: facts@1.1.0 against facts@1.0.0" in html and "case_checks regressed" in html
    assert all(f"<code>{case}</code>" in html for case in failing)
    assert "notebook failed" in html and "GateFailed" in html
    banner = html.index("An Exception was encountered")  # the header's verdict, then the error, then the cells
    assert html.index("notebook failed") < banner < html.index("GATE FAILED", banner)
    executed = nbformat.read(facts / "regressed" / "facts-gate.ipynb", as_version=4)
    assert executed.metadata["papermill"]["exception"] is True


@pytest.mark.slow
def test_ci_exits_3_on_a_notebook_error_and_still_writes_the_report(facts, capsys):
    code = main(
        ["--root", str(facts), "ci", "-p", "dataset", "nosuchdataset", "--output", str(facts / "broken"), "--no-log"]
    )
    out = capsys.readouterr().out
    assert code == 3, out
    assert out.startswith("ERROR     facts-gate") and "WorkbenchError" in out
    html = (facts / "broken" / "facts-gate.html").read_text()
    assert "no dataset named" in html and "notebook failed" in html


def test_the_status_comes_from_the_verdict_record_not_from_an_exception_name():
    from workbench.ci import notebook_status
    from workbench.widgets.verdict import VerdictRecord

    failed = VerdictRecord(verdict="regressed", passed=False, exit_code=1)
    lenient = VerdictRecord(verdict="inconclusive", passed=True, exit_code=0)
    assert notebook_status("completed", failed) == ("regressed", None)  # recorded without assert_gate: still fails
    assert notebook_status("gate", failed) == ("regressed", None)
    assert notebook_status("completed", lenient) == ("passed", None)  # inconclusive that the policy lets pass
    assert notebook_status("completed", None) == ("passed", None)  # a notebook without a gate passes by running
    assert (
        notebook_status("gate", None)[0] == "error"
        and "without recording a verdict" in notebook_status("gate", None)[1]
    )
    assert notebook_status("gate", lenient)[0] == "error"  # the two disagree: never a verdict
    assert notebook_status("error", failed) == ("error", None)


def test_a_verdict_record_that_is_not_one_is_an_error(tmp_path):
    from workbench.ci import read_verdict
    from workbench.widgets.verdict import VERDICT_MIME

    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("x")
    cell.outputs = [nbformat.v4.new_output("display_data", data={VERDICT_MIME: {"verdict": "great", "passed": True}})]
    nb.cells.append(cell)
    nbformat.write(nb, tmp_path / "n.ipynb")
    with pytest.raises(ValueError, match="the notebook's verdict record is not one"):
        read_verdict(tmp_path / "n.ipynb")
