"""Judge calibration: numbers checked by hand, grades, errors as coverage, label-file errors, MLflow, the demo labels."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from workbench.calibration import calibrate, kappa_interval, load_labels
from workbench.errors import WorkbenchError

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "datasets" / "judge-labels" / "labels.jsonl"


def write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def item(i: int, output: str, expected: str, label, reviewer: str = "ana") -> dict:
    return {
        "id": f"i{i}",
        "input": "How much is Plus?",
        "output": output,
        "expected": expected,
        "human_label": label,
        "reviewer": reviewer,
    }


def test_pass_fail_agreement_matches_hand_computation(tmp_path):
    """`contains` judges: the expected answer inside the output passes. By construction the confusion
    matrix is human pass: 4 judged pass, 1 fail; human fail: 2 judged pass, 3 fail."""
    right, wrong = "Plus costs $6 per month.", "Plus costs $12 per month."
    rows = (
        [item(i, right, "$6", "pass") for i in range(4)]
        + [item(4, wrong, "$6", "pass")]
        + [item(5 + i, right, "$6", "fail", "bo") for i in range(2)]
        + [item(7 + i, wrong, "$6", "fail", "bo") for i in range(3)]
    )
    report = calibrate("contains", write(tmp_path / "labels.jsonl", rows))
    assert report.confusion.loc["pass"].tolist() == [4, 1] and report.confusion.loc["fail"].tolist() == [2, 3]
    po = (4 + 3) / 10
    pe = (5 * 6 + 5 * 4) / 100  # human pass 5 x judge pass 6, human fail 5 x judge fail 4
    m = report.metrics
    assert m["accuracy"] == pytest.approx(po) and m["kappa"] == pytest.approx((po - pe) / (1 - pe)) == pytest.approx(
        0.4
    )
    assert m["coverage"] == 1 and m["judge_pass_rate"] == 0.6 and m["human_pass_rate"] == 0.5
    assert m["fail_recall"] == pytest.approx(3 / 5) and m["fail_precision"] == pytest.approx(3 / 4)
    assert report.by_reviewer.loc["ana", "agreement"] == pytest.approx(4 / 5)
    assert report.by_reviewer.loc["bo", "agreement"] == pytest.approx(3 / 5)
    assert "grade_exact" not in m  # pass/fail labels: no grade comparison
    assert m["kappa_low"] < m["kappa"] < m["kappa_high"]
    assert f"Cohen's kappa 0.400 [95% CI {m['kappa_low']:.3f}, {m['kappa_high']:.3f}]" in report.report()


def test_kappa_interval_holds_the_point_kappa_narrows_with_n_and_is_seeded():
    """The 10 decisions above (kappa 0.4), then the same pattern 4 and 16 times: the interval narrows about as 1/sqrt(n)."""
    human = np.array([True] * 5 + [False] * 5)
    judge = np.array([True] * 4 + [False] + [True] * 2 + [False] * 3)
    widths = []
    for copies in (1, 4, 16):
        low, high = kappa_interval(np.tile(human, copies), np.tile(judge, copies))
        assert low < 0.4 < high
        widths.append(high - low)
    assert widths[0] > widths[1] > widths[2] and widths[1] / widths[2] == pytest.approx(2, rel=0.25)
    assert kappa_interval(human, judge) == kappa_interval(human, judge)  # seeded
    assert kappa_interval(human, judge, seed=1) != kappa_interval(human, judge)
    assert kappa_interval(human, human)[0] == 1.0 and np.isnan(kappa_interval(human[:0], judge[:0])[0])


JUDGE = """\
name: judge
description: A scripted judge for calibration tests.
model:
  provider: langchain
  name: langchain_core.language_models.fake_chat_models.FakeListChatModel
  kwargs: {responses: ['SCORE: 5 REASON: right', 'SCORE: 3', 'SCORE: 2', 'it looks fine to me', 'SCORE: 4']}
  max_concurrency: 1
variables: [input, output, expected, rubric]
messages:
  - role: user
    content: "Rubric: {rubric}. Question: {input}. Reference: {expected}. Answer: {output}"
"""


def test_graded_labels_against_a_grading_judge(project, monkeypatch):
    (project.prompts_dir / "judge").mkdir()
    (project.prompts_dir / "judge" / "1.0.0.yaml").write_text(JUDGE)
    monkeypatch.chdir(project.root)
    rows = [item(i, f"answer {i}", "ref", label) for i, label in enumerate([5, 4, 2, 1, 3])]
    report = calibrate({"name": "llm_judge", "args": {"judge": "judge@1.0.0"}}, write(project.root / "l.jsonl", rows))
    frame = report.frame.set_index("id")
    assert (
        frame.loc["i3", "error"].startswith("scorer llm_judge: JudgeParseError")
        and "it looks fine to me" in frame.loc["i3", "error"]
    )
    m = report.metrics
    assert (m["n"], m["graded"], m["coverage"]) == (5, 4, 0.8)
    # graded: human 5/4/2/3 (pass, pass, fail, fail) vs judge 5/3/2/4 (pass, fail, fail, pass)
    assert m["accuracy"] == 0.5 and m["kappa"] == pytest.approx(0.0)
    assert report.confusion.to_dict("index") == {
        "pass": {"pass": 1, "fail": 1, "error": 0},
        "fail": {"pass": 1, "fail": 1, "error": 1},
    }
    assert frame["judge_grade"].dropna().astype(int).tolist() == [5, 3, 2, 4]
    assert m["grade_exact"] == 0.5 and m["grade_within_one"] == 1.0
    human, judge = np.array([5, 4, 2, 3]), np.array([5, 3, 2, 4])
    weights = (np.subtract.outer(range(5), range(5)) ** 2) / 16
    observed = np.zeros((5, 5))
    for h, j in zip(human - 1, judge - 1):
        observed[h, j] += 1
    expected = np.outer(observed.sum(1), observed.sum(0)) / observed.sum()
    assert m["grade_kappa_quadratic"] == pytest.approx(1 - (weights * observed).sum() / (weights * expected).sum())
    assert report.thresholds["threshold"].tolist() == [0.25, 0.5, 0.75, 1.0]
    assert report.thresholds.set_index("threshold").loc[0.25, "judge_pass_rate"] == 1.0
    assert "WARNING" not in report.report()


def test_the_gate_trusts_a_judge_on_its_kappa_lower_bound():
    """A point kappa of 0.55 passes a minimum of 0.4, but its interval [0.21, 0.80] does not: refused, with both."""
    from tests.test_compare import run
    from workbench.compare import compare
    from workbench.gate import REGRESSED, GatePolicy, check_gate

    base = run({"judge": [True] * 10})
    policy = GatePolicy(judges={"judge": {"labels": "labels.jsonl", "min_kappa": 0.4}})
    gate = check_gate(compare(base, base), policy, judge_kappa={"judge": (0.55, 0.21, 0.80)})
    (rule,) = [o for o in gate.outcomes if o.rule == "judge"]
    assert (
        not gate.passed
        and rule.verdict == REGRESSED
        and (rule.candidate, rule.ci_low, rule.ci_high) == (0.55, 0.21, 0.8)
    )
    assert (
        "judge judge refused: Cohen's kappa with human labels 0.550 [95% CI 0.210, 0.800]; its lower bound is below 0.4"
        in gate.report()
    )
    trusted = check_gate(compare(base, base), policy, judge_kappa={"judge": (0.7, 0.45, 0.9)})
    assert (
        trusted.passed
        and "its lower bound reaches 0.4" in [o for o in trusted.outcomes if o.rule == "judge"][0].message()
    )
    assert not check_gate(compare(base, base), policy, judge_kappa={"judge": (np.nan, np.nan, np.nan)}).passed


def test_label_file_errors_name_line_and_field(tmp_path):
    good = item(1, "x", "y", "pass")
    rows = [
        good,
        {**good, "id": "i2", "human_label": "maybe"},
        {**good, "id": "i3", "human_label": 7},
        {k: v for k, v in {**good, "id": "i4"}.items() if k != "reviewer"},
        {**good, "grade": 3, "id": "i5"},
        good,
    ]
    path = write(tmp_path / "bad.jsonl", rows)
    with path.open("a") as handle:
        handle.write("{not json\n")
    with pytest.raises(WorkbenchError) as info:
        load_labels(path)
    lines = str(info.value).splitlines()
    assert f'{path}:2: human_label: write "pass", "fail" or a grade from 1 to 5' in lines
    assert f'{path}:3: human_label: 7 is outside 1-5; write "pass", "fail" or 1-5' in lines
    assert f"{path}:4: reviewer: Field required" in lines
    assert f"{path}:5: grade: unknown key" in lines
    assert f"{path}:6: id: duplicate id 'i1' (first on line 1); ids must be unique" in lines
    assert any(line.startswith(f"{path}:7: json:") for line in lines)
    with pytest.raises(WorkbenchError, match="cannot read the labeled set"):
        load_labels(tmp_path / "missing.jsonl")


def test_report_is_logged_to_mlflow(tmp_path):
    import mlflow

    from workbench.settings import Settings

    rows = [item(i, "Plus is $6.", "$6", "pass" if i % 2 else "fail") for i in range(6)]
    report = calibrate("contains", write(tmp_path / "labels.jsonl", rows))
    settings = Settings.load(root=tmp_path)
    run_id = report.log_to_mlflow(settings)
    run = mlflow.MlflowClient(settings.tracking_uri).get_run(run_id)
    assert run.data.metrics["accuracy"] == 0.5 and run.data.metrics["coverage"] == 1.0
    assert (
        run.data.params["labels.hash"] == report.labels_hash
        and json.loads(run.data.params["scorer"])["name"] == "contains"
    )
    artifacts = {a.path for a in mlflow.MlflowClient(settings.tracking_uri).list_artifacts(run_id, "calibration")}
    assert {
        "calibration/items.json",
        "calibration/confusion_matrix.json",
        "calibration/confusion_matrix.png",
    } <= artifacts


def test_demo_labels_are_balanced_and_valid():
    items = load_labels(DEMO)
    passes = sum(1 for i in items if i.human_label >= 4)
    assert len(items) >= 60 and abs(passes - (len(items) - passes)) <= 4
    assert {i.reviewer for i in items} == {"amira", "jonas", "lena"}
    assert not (DEMO.parent / "1.jsonl").exists()  # kept out of the golden datasets on purpose


@pytest.mark.slow
def test_semantic_similarity_as_a_judge_on_the_demo_labels():
    report = calibrate({"name": "semantic_similarity", "args": {"threshold": 0.7}}, DEMO)
    m = report.metrics
    assert m["coverage"] == 1 and m["n"] >= 60
    assert 0.6 <= m["accuracy"] <= 0.8 and 0.2 <= m["kappa"] <= 0.6  # measured: 0.688 and 0.376
    best = report.thresholds.sort_values("kappa").iloc[-1]
    assert best["kappa"] >= m["kappa"]


@pytest.mark.slow
def test_local_judge_unconstrained_rarely_follows_the_format_and_errors_say_so(tmp_path, monkeypatch):
    """The shipped rubric judge on the 135M model, free text: most answers carry no grade; they are coverage."""
    subset = write(tmp_path / "labels.jsonl", [json.loads(line) for line in DEMO.read_text().splitlines()[:8]])
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path / "home"))
    args = {"judge": "rubric-judge@1.0.0", "constrained": False, "weighted": False}
    report = calibrate({"name": "llm_judge", "args": args}, subset)
    errors = report.frame["error"].dropna()
    assert report.metrics["coverage"] < 0.5 and len(errors) == 8 - report.metrics["graded"]
    assert errors.str.contains("no score from 1 to 5 in the judge's answer: '").all()
    assert "WARNING: the judge graded only" in report.report()


@pytest.mark.slow
def test_the_constrained_local_judge_grades_every_labelled_case(tmp_path, monkeypatch):
    """Constrained to the verdict schema, the 135M judge parses all 64 grades; kappa comes with its interval."""
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path / "home"))
    report = calibrate({"name": "llm_judge", "args": {"judge": "rubric-judge@1.0.0"}}, DEMO)
    m = report.metrics
    assert m["n"] == 64 and m["graded"] == 64 and m["coverage"] == 1.0, report.frame["error"].dropna().head()
    assert m["kappa_low"] <= m["kappa"] <= m["kappa_high"]
    assert report.frame["reason"].str.contains("expected").mean() > 0.9  # graded by the weighted grade


@pytest.mark.slow
def test_the_gate_calibrates_the_policy_judges_on_real_labels(project):
    """semantic_similarity as a 'judge' on the repository's 64 labels: kappa is measured, the gate applies it."""
    import shutil

    from workbench.experiment import calibrate_judges, evaluate
    from workbench.gate import GatePolicy

    labels = Path(__file__).parent.parent / "datasets" / "judge-labels" / "labels.jsonl"
    shutil.copy(labels, project.root / "labels.jsonl")
    result = evaluate(
        "tiny@1.0.0", "tiny", scorers=["semantic_similarity"], settings=project, log=False, progress=False
    )
    kappas = calibrate_judges(
        result, GatePolicy(judges={"semantic_similarity": {"labels": "labels.jsonl", "threshold": 0.7}}), project
    )
    kappa, low, high = kappas["semantic_similarity"]
    assert 0.2 < kappa < 0.6 and low < kappa < high  # 0.376 measured at threshold 0.7
