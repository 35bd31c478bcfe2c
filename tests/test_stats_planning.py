"""Planning: cases needed from one or two pilot runs (and repeats), consistent with the exact power; the CLI."""

from __future__ import annotations

import math

import numpy as np
import pytest

from workbench.cli import main
from workbench.compare import compare
from workbench.stats.planning import plan, planned_discordance
from workbench.stats.power import discordance_under_drop, mcnemar_power, paired_power

from .test_compare import run


def pilots(n: int = 60, seed: int = 0):
    rng = np.random.default_rng(seed)
    base = {"ok": list(rng.random(n) < 0.7), "sim": list(rng.normal(0.6, 0.15, n))}
    cand = {"ok": list(rng.random(n) < 0.7), "sim": list(np.array(base["sim"]) + rng.normal(0, 0.05, n))}
    return run(base), run(cand)


def test_two_pilots_give_the_smallest_number_of_cases_with_enough_power():
    base, cand = pilots()
    result = plan(base, cand, effect=0.1, family=["ok", "sim"])
    row = result.table.loc["ok"]
    needed = int(row["cases_r1"])
    assert row["test"] == "mcnemar" and result.family == 2
    under_drop = planned_discordance(row, 0.1)  # the drop's failures add discordant pairs; the pilot's upper bound
    assert under_drop > discordance_under_drop(row["discordance"], 0.1, row["pass_rate"]) > row["discordance"]
    assert mcnemar_power(needed, under_drop, 0.1, 0.025) >= 0.8 > mcnemar_power(needed - 1, under_drop, 0.1, 0.025)
    sim = result.table.loc["sim"]
    assert sim["test"] == "paired t" and sim["cases_r1"] < needed  # correlated scores need far fewer cases
    assert paired_power(int(sim["cases_r1"]), math.sqrt(sim["between_var"]), 0.1, 0.025) >= 0.8
    assert "cases needed to detect a drop of 0.100 with 80% power" in result.report()


def test_one_pilot_assumes_independent_answers_and_repeats_split_the_noise():
    base, _ = pilots()
    single = plan(base, effect=0.1).table.loc["ok"]
    assert single["discordance"] == pytest.approx(
        2 * base.case_scores()["ok"].mean() * (1 - base.case_scores()["ok"].mean())
    )
    rng = np.random.default_rng(1)
    noisy = run(
        {"ok": list(rng.random(120) < 0.7)}, repeats=3
    )  # no case effect: only noise, which repeats average away
    again = run({"ok": list(rng.random(120) < 0.7)}, repeats=3)
    table = plan(noisy, again, effect=0.1).table
    assert (
        table.loc["ok", "within_var"] > 0
        and table.loc["ok", "cases_r5"] < table.loc["ok", "cases_r3"] < table.loc["ok", "cases_r1"]
    )
    curve = plan(noisy, again, effect=0.1).curve()
    assert set(curve["repeats"]) == {1, 3, 5} and curve["power"].between(0, 1).all()


def test_plan_refuses_a_non_positive_effect():
    base, cand = pilots()
    with pytest.raises(ValueError, match="effect"):
        plan(base, cand, effect=0)


def test_workbench_plan_on_saved_pilots_prints_the_plan_and_plots_the_curves(tmp_path, capsys):
    base, cand = pilots()
    base.save(tmp_path / "a.parquet")
    cand.save(tmp_path / "b.parquet")
    (tmp_path / "gate.yaml").write_text("min_effect: 0.1\ncritical: [ok, sim]\n")
    code = main(
        [
            "--root",
            str(tmp_path),
            "plan",
            str(tmp_path / "a.parquet"),
            str(tmp_path / "b.parquet"),
            "--dataset",
            "d",
            "--plot",
            str(tmp_path / "power.png"),
            "--quiet",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0 and "drop of 0.100" in out and "Holm over 2 scorer(s)" in out and "cases_r1" in out
    assert (tmp_path / "power.png").read_bytes()[:4] == b"\x89PNG"
    assert main(["--root", str(tmp_path), "plan", str(tmp_path / "a.parquet"), "--dataset", "d", "--effect", "-1"]) == 2


@pytest.mark.slow  # 6 plans x 300 simulated pairs through `compare`: about 2 minutes of CPU
@pytest.mark.parametrize("p, effect", [(0.7, 0.2), (0.9, 0.1)])  # all four: benchmarks/plan_power.py
def test_a_plan_delivers_the_power_it_promises_through_the_gate(p, effect):
    """Pilots of two equal versions (100 cases, answers independent per version); at the planned number of cases,
    pairs whose candidate is `effect` worse regress in at least 78% of 300 simulated pairs per plan, pooled over
    three pilots (the pilot is random too: the promise holds over pilots, not for a lucky one)."""
    rng = np.random.default_rng(int(p * 100 + effect * 10))
    caught = []
    for _ in range(3):
        pilot = plan(run({"ok": list(rng.random(100) < p)}), run({"ok": list(rng.random(100) < p)}), effect=effect)
        n = int(pilot.table.loc["ok", "cases_r1"])
        for _ in range(300):
            base, cand = run({"ok": list(rng.random(n) < p)}), run({"ok": list(rng.random(n) < p - effect)})
            caught.append(compare(base, cand, min_effect=effect).table.loc["ok", "verdict"] == "regressed")
    assert np.mean(caught) >= 0.78
