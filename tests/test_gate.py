"""The gate's structured outcomes: inconclusive with its MDE, Holm-adjusted p-values, exit codes, noise-aware latency."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from workbench.compare import compare
from workbench.gate import EXIT_INCONCLUSIVE, GatePolicy, GateResult, RuleOutcome, check_gate
from workbench.widgets.verdict import failing_scorers, render_verdict, verdict_record

from .test_compare import run


def flips(n: int, worse: int, better: int, base_rate: float = 0.5) -> tuple[list[bool], list[bool]]:
    """Pass/fail per case: `worse` cases go from pass to fail, `better` from fail to pass, the rest agree."""
    passing = int(n * base_rate)
    base = [True] * passing + [False] * (n - passing)
    cand = list(base)
    for i in range(worse):
        cand[i] = False
    for i in range(better):
        cand[passing + i] = True
    return base, cand


def test_a_small_dataset_without_a_regression_is_inconclusive_with_its_mde():
    base, cand = flips(20, worse=1, better=1)
    comparison = compare(run({"ok": base}), run({"ok": cand}), min_effect=0.05)
    row = comparison.table.loc["ok"]
    assert row["verdict"] == "inconclusive" and row["mde"] > 0.05
    gate = check_gate(comparison, GatePolicy(min_effect=0.05, max_error_rate=None))
    assert gate.verdict == "inconclusive" and not gate.passed and gate.exit_code == EXIT_INCONCLUSIVE == 4
    (outcome,) = gate.of("inconclusive")
    assert outcome.rule == "critical" and outcome.scorer == "ok" and outcome.mde == pytest.approx(row["mde"])
    assert (
        f"ok inconclusive: this dataset can detect drops of {row['mde']:.2f} or more; the policy cares about 0.05"
        in gate.report()
    )
    assert f"about {int(row['cases_needed']):,} cases (this comparison had 20) would decide it" in gate.report()
    allowed = check_gate(comparison, GatePolicy(min_effect=0.05, inconclusive="pass", max_error_rate=None))
    assert allowed.passed and allowed.verdict == "inconclusive" and allowed.exit_code == 0
    assert "GATE INCONCLUSIVE (passes by the policy" in allowed.report()


def test_a_large_dataset_without_change_passes_and_its_mde_is_below_min_effect():
    base, cand = flips(400, worse=3, better=3)
    comparison = compare(run({"ok": base}), run({"ok": cand}), min_effect=0.05)
    row = comparison.table.loc["ok"]
    assert row["verdict"] == "no significant change" and row["mde"] < 0.05
    assert check_gate(comparison, GatePolicy(min_effect=0.05)).verdict == "passed"


def test_the_cases_an_inconclusive_names_would_decide_it():
    """At the number of cases the inconclusive message names, the same noise gives an MDE within min_effect."""
    base, cand = flips(40, worse=3, better=3, base_rate=0.8)
    row = compare(run({"ok": base}), run({"ok": cand}), min_effect=0.1).table.loc["ok"]
    assert row["verdict"] == "inconclusive"
    n = int(row["cases_needed"])
    scale = lambda flags: flags * (n // 40 + 1)  # noqa: E731  the same pass rate and discordance, more cases
    bigger = compare(run({"ok": scale(base)}), run({"ok": scale(cand)}), min_effect=0.1).table.loc["ok"]
    assert bigger["mde"] <= 0.1 and bigger["verdict"] == "no significant change"


def test_an_unpriced_model_has_no_cost_rule_in_the_gate():
    base, cand = flips(40, worse=2, better=2)
    unpriced = check_gate(compare(run({"ok": base}, cost=None), run({"ok": cand}, cost=None)), GatePolicy())
    assert "cost" not in {o.rule for o in unpriced.outcomes} and "cost per call" not in unpriced.report()
    priced = check_gate(compare(run({"ok": base}, cost=0.01), run({"ok": cand}, cost=None)), GatePolicy())
    assert "cost per call not comparable" in priced.report()  # one side priced: worth saying


def test_a_regression_beats_inconclusive_and_min_effect_zero_is_never_inconclusive():
    base, cand = flips(20, worse=10, better=0)
    a, b = flips(20, worse=1, better=0)
    comparison = compare(run({"bad": base, "small": a}), run({"bad": cand, "small": b}), min_effect=0.05)
    gate = check_gate(comparison, GatePolicy(min_effect=0.05, max_error_rate=None))
    assert gate.verdict == "regressed" and gate.exit_code == 1 and failing_scorers(gate) == ["bad"]
    assert [o.scorer for o in gate.of("inconclusive")] == ["small"]
    assert compare(run({"small": a}), run({"small": b})).table.loc["small", "verdict"] == "no significant change"


def test_holm_adjusts_the_critical_family_only():
    rng = np.random.default_rng(3)
    values = {f"s{i}": list(rng.random(30) < 0.6) for i in range(3)}
    worse = {k: [False] * 7 + v[7:] for k, v in values.items()}
    comparison = compare(run(values), run(worse), family=["s0", "s1"])
    table = comparison.table
    assert comparison.family == ["s0", "s1"]
    assert (table.loc[["s0", "s1"], "p_adjusted"] >= table.loc[["s0", "s1"], "p_value"]).all()
    assert table.loc["s2", "p_adjusted"] == table.loc["s2", "p_value"]
    smallest = table.loc[["s0", "s1"], "p_value"].min()
    assert table.loc[["s0", "s1"], "p_adjusted"].min() == pytest.approx(min(1.0, 2 * smallest))


def test_latency_of_cached_answers_is_not_compared_with_fresh_calls():
    # The case: a baseline answered from the cache (original latency 0.48 s) against a candidate
    # measured under load (9.8 s), on equal quality: not comparable, never a failure.
    base = run({"ok": [True] * 30}, latency=0.48)
    base.record["cached"] = True
    cand = run({"ok": [True] * 30}, latency=9.8)
    gate = check_gate(compare(base, cand), GatePolicy(max_latency_increase=0.5))
    (latency,) = [o for o in gate.outcomes if o.rule == "latency"]
    assert latency.verdict == "not comparable" and gate.passed
    assert "only 0 of 30 paired calls were measured the same way" in latency.message()
    both_cached = run({"ok": [True] * 30}, latency=9.8)
    both_cached.record["cached"] = True
    assert (
        next(
            o
            for o in check_gate(compare(base, both_cached), GatePolicy(max_latency_increase=0.5)).outcomes
            if o.rule == "latency"
        ).verdict
        == "regressed"
    )


def test_latency_noise_within_the_limit_passes_and_a_real_slowdown_fails():
    rng = np.random.default_rng(5)
    base, cand, slow = (run({"ok": [True] * 60}) for _ in range(3))
    base.record["latency_s"] = np.repeat(rng.lognormal(0, 0.3, 60), 1)
    cand.record["latency_s"] = base.record["latency_s"] * rng.lognormal(0.1, 0.3, 60)  # +10% and noise
    slow.record["latency_s"] = base.record["latency_s"] * rng.lognormal(np.log(2.5), 0.3, 60)
    policy = GatePolicy(max_latency_increase=0.5)
    ok = next(o for o in check_gate(compare(base, cand), policy).outcomes if o.rule == "latency")
    assert ok.verdict == "passed" and ok.ci_low < ok.diff < ok.ci_high
    bad = next(o for o in check_gate(compare(base, slow), policy).outcomes if o.rule == "latency")
    assert bad.verdict == "regressed" and bad.diff > 1.0 and bad.p_value < 0.001


def test_the_verdict_record_and_banner_format_the_outcomes():
    base, cand = flips(20, worse=1, better=1)
    comparison = compare(run({"ok": base}), run({"ok": cand}), min_effect=0.05)
    gate = check_gate(comparison, GatePolicy(min_effect=0.05))
    record = verdict_record(comparison, gate).model_dump(mode="json")  # the JSON a notebook stores
    json.dumps(record)
    assert record["verdict"] == "inconclusive" and record["exit_code"] == 4 and record["passed"] is False
    assert record["inconclusive"] == ["ok"] and record["messages"]["inconclusive"][0].startswith("ok inconclusive")
    critical = next(r for r in record["rules"] if r["rule"] == "critical")
    assert critical["mde"] == pytest.approx(comparison.table.loc["ok", "mde"]) and critical["min_effect"] == 0.05
    html = render_verdict(record)
    assert "GATE INCONCLUSIVE (fails CI, exit 4)" in html and "this dataset can detect drops of" in html


def test_a_gate_result_is_plain_data():
    outcome = RuleOutcome("error_rate", "regressed", candidate=0.2, limit=0.1)
    gate = GateResult((outcome,))
    assert gate.failures == ["error rate 20.0% is above 10%"] and gate.exit_code == 1
    assert json.loads(json.dumps(gate.to_dict()))["rules"][0]["candidate"] == 0.2


def test_the_report_header_states_an_inconclusive_verdict_with_its_mde(tmp_path):
    from pathlib import Path

    import nbformat

    from workbench.ci import render_report
    from workbench.widgets.verdict import VERDICT_MIME

    base, cand = flips(20, worse=1, better=1)
    comparison = compare(run({"ok": base}), run({"ok": cand}), min_effect=0.05)
    record = verdict_record(comparison, check_gate(comparison, GatePolicy(min_effect=0.05))).model_dump(mode="json")
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell(
        "record_verdict()",
        outputs=[
            nbformat.v4.new_output(
                "display_data",
                data={VERDICT_MIME: record, "text/html": render_verdict(record), "text/plain": "GATE INCONCLUSIVE"},
            )
        ],
    )
    cell.metadata["tags"] = ["verdict"]
    nb.cells = [cell]
    nbformat.write(nb, tmp_path / "gate.ipynb")
    repo = Path(__file__).resolve().parent.parent
    html = render_report(tmp_path / "gate.ipynb", tmp_path / "gate.html", repo / "nbconvert-config").read_text()
    header = html[html.index('<header class="wb-report-header">') : html.index("</header>")]
    assert (
        'class="wb-report-verdict wb-verdict-inconclusive"' in header
        and "GATE INCONCLUSIVE (fails CI, exit 4)" in header
    )
    assert f"this dataset can detect drops of {comparison.table.loc['ok', 'mde']:.2f} or more" in header


def test_mlflow_tags_and_the_gate_record_say_inconclusive_with_the_numbers(project):
    from mlflow import MlflowClient

    from workbench.mlflow_store import use
    from workbench.tracking import experiment_id, log_comparison

    use(project)
    client = MlflowClient()
    run_id = client.create_run(experiment_id("gate-tags", project)).info.run_id  # artifacts in the project's store
    base, cand = flips(20, worse=1, better=1)
    candidate = run({"ok": cand})
    candidate.run_id = run_id
    comparison = compare(run({"ok": base}), candidate, min_effect=0.05)
    gate = check_gate(comparison, GatePolicy(min_effect=0.05))
    log_comparison(comparison, gate, project)
    tags = client.get_run(run_id).data.tags
    assert tags["workbench.verdict"] == "inconclusive" and tags["workbench.gate"] == "failed"
    assert tags["workbench.inconclusive"].startswith("ok inconclusive: this dataset can detect drops of")
    saved = client.download_artifacts(run_id, "comparison/gate.json", str(project.root))
    record = json.loads(Path(saved).read_text())
    assert record["exit_code"] == 4 and record["rules"][0]["mde"] == pytest.approx(comparison.table.loc["ok", "mde"])


def test_a_pass_rate_that_cannot_drop_by_min_effect_is_not_inconclusive():
    nothing = [False] * 58  # the demo's exact_match: 0 of 58 on both sides
    row = compare(run({"exact": nothing}), run({"exact": nothing}), min_effect=0.05).table.loc["exact"]
    assert row["mde"] > 0.05 and row["verdict"] == "no significant change"
