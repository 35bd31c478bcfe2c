"""A/B analysis: tests per KPI kind against scipy by hand, the scorecard's guardrails, the demo traffic, the notebook."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from workbench.drift.traffic import load_traffic
from workbench.errors import WorkbenchError
from workbench.stats.ab import KPI, analyse, sequential_readout

REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / "datasets" / "traffic" / "lumen-ab.jsonl"


def traffic(n: int = 600, completion=(0.6, 0.7), cost=(1.0, 1.0), seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    variant = np.where(np.arange(n) % 2 == 0, "A", "B")
    b = variant == "B"
    return pd.DataFrame(
        {
            "ts": pd.date_range("2026-10-11", periods=n, freq="30min", tz="UTC"),
            "variant": variant,
            "task_completed": rng.random(n) < np.where(b, completion[1], completion[0]),
            "feedback": np.where(rng.random(n) < 0.4, (rng.random(n) < 0.7).astype(float), np.nan),
            "rating": np.where(rng.random(n) < 0.3, rng.integers(1, 6, n), np.nan),
            "cost": rng.gamma(4, np.where(b, cost[1], cost[0]) / 4, n),
            "latency_s": rng.lognormal(0, 0.4, n),
        }
    )


def test_each_kpi_kind_uses_its_test():
    frame = traffic()
    result = analyse(frame)
    a, b = frame[frame["variant"] == "A"], frame[frame["variant"] == "B"]
    row = result.table.loc["task_completed"]
    assert row["test"] == "two-proportion z" and row["n_control"] == 300
    pooled = frame["task_completed"].mean()
    z = (b["task_completed"].mean() - a["task_completed"].mean()) / np.sqrt(pooled * (1 - pooled) * (2 / 300))
    assert row["p_value"] == pytest.approx(2 * stats.norm.sf(abs(z)))
    welch = stats.ttest_ind(b["cost"], a["cost"], equal_var=False)
    assert result.table.loc["cost_usd", "p_value"] == pytest.approx(welch.pvalue)
    assert result.table.loc["latency_s", "test"] == "Mann-Whitney U"
    assert result.table.loc["rating", "p_value"] == pytest.approx(
        stats.mannwhitneyu(b["rating"].dropna(), a["rating"].dropna()).pvalue
    )
    family = result.table.loc[["task_completed", "thumbs_up", "rating"], "p_adjusted"]
    assert (family >= result.table.loc[family.index, "p_value"]).all()


def test_a_guardrail_that_degrades_blocks_the_ship_decision():
    clear = analyse(traffic(2000, completion=(0.6, 0.72)))
    assert clear.decision == "ship" and clear.table.loc["task_completed", "verdict"] == "improved"
    costly = analyse(traffic(2000, completion=(0.6, 0.72), cost=(1.0, 1.6)))
    assert costly.decision == "do not ship" and costly.table.loc["cost_usd", "verdict"] == "degraded"
    assert any("guardrail cost_usd degraded" in r for r in costly.reasons)
    tolerant = analyse(
        traffic(2000, completion=(0.6, 0.72), cost=(1.0, 1.6)),
        kpis=[
            KPI("task_completed", "task_completed", "proportion"),
            KPI("cost", "cost", "mean", "guardrail", higher_is_better=False, tolerance=1.0),
        ],
    )
    assert tolerant.decision == "ship"


def test_too_little_traffic_is_no_decision_with_its_mde():
    result = analyse(traffic(80, completion=(0.6, 0.62)))
    row = result.table.loc["task_completed"]
    assert result.decision == "no decision yet" and row["verdict"] == "inconclusive" and row["mde"] > row["min_effect"]
    assert any("this traffic can detect changes of" in r for r in result.reasons)


def test_bad_traffic_is_refused_with_the_fix():
    with pytest.raises(WorkbenchError, match="variant 'C' is not in the traffic; it has A, B"):
        analyse(traffic(), treatment="C")
    with pytest.raises(WorkbenchError, match="no `variant` field"):
        analyse(traffic().drop(columns="variant"))


def test_the_demo_traffic_ab_period():
    requests = load_traffic(DEMO)
    assert set(requests["variant"]) == {"A", "B"} and requests["ts"].min() >= pd.Timestamp("2026-10-11", tz="UTC")
    result = analyse(requests)
    assert result.decision == "ship"
    assert result.table.loc["cost_usd", "verdict"] == "held" and result.table.loc["task_completed", "diff"] > 0.05
    readout = sequential_readout(requests)
    days = readout[readout["kpi"] == "task_completed"]
    first = days.index[days["verdict"] == "improved"]
    assert len(days) == 14 and len(first) and days.loc[first[0] :, "verdict"].eq("improved").all()
    line = json.loads(DEMO.read_text().splitlines()[0])
    assert {"variant", "task_completed", "cost", "latency_s"} <= set(line)


def test_the_sequential_readout_keeps_false_alarms_at_alpha_on_aa_tests():
    """500 simulated A/A tests read daily: the anytime-valid interval excludes 0 on some day in at most alpha of them."""
    rng = np.random.default_rng(9)
    sims, days, per_day = 500, 14, 60
    x = rng.random((sims, days * per_day)) < 0.7
    y = rng.random((sims, days * per_day)) < 0.7
    from workbench.stats.anytime import confidence_sequence

    n = np.arange(1, days + 1) * per_day
    mx, my = np.cumsum(x, 1)[:, n - 1] / n, np.cumsum(y, 1)[:, n - 1] / n
    variance = (mx * (1 - mx) + my * (1 - my)) / n
    low, high = confidence_sequence(my - mx, variance, 0.05, 0.05 * 0.7)
    alarms = ((low > 0) | (high < 0)).any(axis=1).mean()
    assert alarms <= 0.05 + 2.33 * np.sqrt(0.05 * 0.95 / sims)


@pytest.mark.slow  # papermill and nbconvert: about 20 s
def test_the_ab_notebook_runs_in_ci_and_renders_its_report(tmp_path):
    import shutil

    from workbench.ci import run_ci
    from workbench.settings import Settings

    for name in ("notebooks", "nbconvert-config"):
        shutil.copytree(REPO / name, tmp_path / name)
    shutil.copytree(REPO / "datasets" / "traffic", tmp_path / "datasets" / "traffic")
    shutil.copy(REPO / "ci.yaml", tmp_path / "ci.yaml")
    (run,) = run_ci(Settings.load(root=tmp_path), only=["ab-test"], log=False)
    assert run.status == "passed", run.error
    html = Path(run.report).read_text()
    assert "A/B: SHIP: B against A" in html and html.count("data:image/png;base64") >= 2 and "<script" not in html


def test_a_traffic_file_with_a_bad_kpi_names_the_line_and_field(tmp_path):
    row = {
        "ts": "2026-10-11T09:00:00Z",
        "prompt_ref": "support@1.1.0",
        "variant": "A",
        "inputs": {"question": "hi"},
        "output": "hello",
        "task_completed": True,
        "cost": 0.0001,
    }
    path = tmp_path / "ab.jsonl"
    path.write_text(
        json.dumps(row) + "\n" + json.dumps({**row, "rating": 7}) + "\n" + json.dumps({**row, "cost": -1}) + "\n"
    )
    with pytest.raises(WorkbenchError) as info:
        load_traffic(path)
    assert f"{path}:2: rating: Input should be less than or equal to 5" in str(info.value)
    assert f"{path}:3: cost: Input should be greater than or equal to 0" in str(info.value)


def test_workbench_ab_prints_the_decision_and_the_daily_readout(capsys):
    from workbench.cli import main

    assert main(["ab", str(DEMO)]) == 0
    out = capsys.readouterr().out
    assert "DECISION: ship" in out and "sequential read-out (anytime-valid, per day)" in out and "2026-10-24" in out
    assert main(["ab", str(REPO / "datasets" / "traffic" / "lumen-support.jsonl")]) == 2
    assert "no `variant` field" in capsys.readouterr().err
