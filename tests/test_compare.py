"""Paired statistics on constructed runs: the numbers are checked against hand computations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from workbench.compare import compare
from workbench.errors import WorkbenchError
from workbench.gate import GatePolicy, check_gate
from workbench.record import COLUMNS
from workbench.results import RunResult


def run(
    values: dict[str, list],
    ref: str = "p@1.0.0",
    dataset_hash: str = "h" * 64,
    cost: float = 0.0,
    latency: float = 1.0,
    repeats: int = 1,
    errors: set[str] = frozenset(),
) -> RunResult:
    rows = []
    for scorer, series in values.items():
        for i, value in enumerate(series):
            case = f"c{i // repeats}"
            rows.append(
                {
                    "case_id": case,
                    "repeat": i % repeats,
                    "scorer": scorer,
                    "value": None if case in errors else float(value),
                    "passed": None if case in errors or not isinstance(value, bool) else value,
                    "error": "boom" if case in errors else None,
                    "latency_s": latency,
                    "cost": cost,
                    "cached": False,
                    "input_tokens": 1,
                    "output_tokens": 1,
                    "output": "x",
                }
            )
    frame = pd.DataFrame(rows, columns=COLUMNS).astype({"value": "float64", "passed": "boolean", "cached": "bool"})
    return RunResult(
        ref, "hash", "d@1", dataset_hash, frame, scorers=[{"name": s, "args": {}} for s in values], repeats=repeats
    )


def test_mcnemar_on_pass_fail():
    base = run({"ok": [True] * 12 + [False] * 8})
    cand = run({"ok": [False] * 10 + [True] * 2 + [False] * 8}, ref="p@1.1.0")
    row = compare(base, cand).table.loc["ok"]
    assert row["test"] == "mcnemar" and row["n"] == 20
    assert row["p_value"] == pytest.approx(2 * 0.5**10)  # 10 discordant pairs, all one way
    assert row["diff"] == pytest.approx(-0.5) and row["degraded"] == 10 and row["verdict"] == "regressed"
    assert row["ci_low"] < -0.5 < row["ci_high"] < 0


def test_small_noise_is_not_a_change():
    rng = np.random.default_rng(1)
    a = rng.normal(0.6, 0.1, 40)
    base, cand = run({"sim": a}), run({"sim": a + rng.normal(0, 0.01, 40)})
    row = compare(base, cand, min_effect=0.02).table.loc["sim"]
    assert row["test"] == "permutation" and row["verdict"] == "no significant change"
    assert row["ci_low"] < 0.01 and row["ci_high"] > -0.01


def test_a_real_shift_in_scores_is_significant_both_ways():
    rng = np.random.default_rng(2)
    a = rng.uniform(0.3, 0.7, 30)
    better, worse = run({"sim": a + 0.1}), run({"sim": a - 0.1})
    assert compare(run({"sim": a}), better).table.loc["sim", "verdict"] == "improved"
    table = compare(run({"sim": a}), worse).table
    assert table.loc["sim", "verdict"] == "regressed" and table.loc["sim", "p_value"] < 0.001


def test_min_effect_guards_against_tiny_but_significant_changes():
    a = np.linspace(0.2, 0.8, 50)
    row = compare(run({"s": a}), run({"s": a - 0.01}), min_effect=0.05).table.loc["s"]
    assert row["p_value"] < 0.05 and row["verdict"] == "negligible" and row["degraded"] == 0
    assert row["worst_diff"] == pytest.approx(-0.01)  # every case dropped by exactly 0.01: no drop of 0.05


def test_a_significant_drop_that_may_reach_min_effect_regresses_even_when_its_estimate_is_smaller():
    """Planning promises power at a drop of min_effect; a rule that also wanted the estimate beyond min_effect
    would catch such a drop only half of the time."""
    rng = np.random.default_rng(3)
    base = rng.random(200) < 0.8
    cand = base & (rng.random(200) > 0.12)  # the candidate loses about 10 points
    row = compare(run({"ok": list(base)}), run({"ok": list(cand)}), min_effect=0.12).table.loc["ok"]
    assert row["p_value"] < 0.05 and -0.12 < row["diff"] and row["worst_diff"] <= -0.12
    assert row["verdict"] == "regressed"


def test_an_equal_pair_on_enough_cases_rules_out_the_drop_and_passes():
    rng = np.random.default_rng(4)
    base, cand = rng.random(100) < 0.7, rng.random(100) < 0.7
    row = compare(run({"ok": list(base)}), run({"ok": list(cand)}), min_effect=0.2).table.loc["ok"]
    assert row["mde"] > 0.2 and row["worst_diff"] > -0.2 and row["verdict"] == "no significant change"
    few = compare(run({"ok": list(base[:50])}), run({"ok": list(cand[:50])}), min_effect=0.2).table.loc["ok"]
    assert few["worst_diff"] < -0.2 and few["verdict"] == "inconclusive" and few["cases_needed"] > 50


def test_repeats_are_averaged_per_case():
    base = run({"ok": [True, True, False, True, False, False]}, repeats=3)  # case means 2/3, 1/3
    cand = run({"ok": [True, True, True, True, True, True]}, repeats=3)
    row = compare(base, cand).table.loc["ok"]
    assert row["n"] == 2 and row["test"] == "permutation" and row["diff"] == pytest.approx(0.5)


def test_errored_cases_are_failed_not_scored():
    base = run({"ok": [True] * 5})
    cand = run({"ok": [True] * 5}, errors={"c1"})
    comparison = compare(base, cand)
    assert comparison.table.loc["ok", "n"] == 4 and comparison.table.loc["ok", "failed"] == 1
    assert comparison.cases.query("case_id == 'c1'")["change"].item() == "failed"


def test_different_datasets_are_refused():
    with pytest.raises(ValueError, match="different datasets"):
        compare(run({"ok": [True]}), run({"ok": [True]}, dataset_hash="x" * 64))


def test_gate_names_the_regressed_scorer_and_checks_the_scorecard():
    base = run({"ok": [True] * 12 + [False] * 8, "safe": [True] * 20}, cost=0.001, latency=1.0)
    cand = run({"ok": [False] * 10 + [True] * 2 + [False] * 8, "safe": [True] * 19 + [False]}, cost=0.002, latency=3.0)
    gate = check_gate(
        compare(base, cand), GatePolicy(guardrails=["safe"], max_cost_increase=0.1, max_latency_increase=0.5)
    )
    assert not gate.passed
    text = gate.report()
    assert "ok regressed: 0.600 -> 0.100" in text and "guardrail safe dropped" in text
    assert "cost per call rose +100% (mean $0.001 -> $0.002" in text
    assert "latency per call rose +200% (median 1 s -> 3 s" in text and "20 paired calls), more than 50%" in text
    assert check_gate(compare(base, base), GatePolicy(guardrails=["safe"])).passed


def test_gate_policy_only_counts_critical_scorers():
    base, cand = run({"ok": [True] * 12 + [False] * 8}), run({"ok": [False] * 10 + [True] * 2 + [False] * 8})
    assert check_gate(compare(base, cand), GatePolicy(critical=[], max_error_rate=None)).passed
    with pytest.raises(WorkbenchError, match="unknown scorer"):
        check_gate(compare(base, cand), GatePolicy(critical=["nope"]))


def test_gate_policy_file_errors_name_the_field(tmp_path):
    path = tmp_path / "gate.yaml"
    path.write_text("alpha: 0.9\ncritcal: [x]\n")
    with pytest.raises(WorkbenchError) as error:
        GatePolicy.load(path)
    assert f"{path}: alpha: " in str(error.value) and f"{path}: critcal: unknown key" in str(error.value)


def test_gate_refuses_a_judge_below_its_agreement():
    base = run({"judge": [True] * 10})
    policy = GatePolicy(judges={"judge": {"labels": "labels.jsonl", "min_kappa": 0.4}})
    gate = check_gate(compare(base, base), policy, judge_kappa={"judge": 0.12})
    assert (
        not gate.passed
        and "judge judge refused: Cohen's kappa with human labels 0.120 [95% CI 0.120, 0.120]; "
        "its lower bound is below 0.4"
        in gate.report()
    )
    assert check_gate(compare(base, base), policy, judge_kappa={"judge": 0.55}).passed
    assert not check_gate(compare(base, base), policy, judge_kappa={"judge": float("nan")}).passed
