"""The anytime-valid sequential test: its interval, and its error rates over 2,000 simulated pairs per scenario."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.sequential import simulate
from workbench.stats.sequential import (
    CONTINUE,
    NO_REGRESSION,
    REGRESSED,
    SequentialState,
    always_valid_p,
    confidence_sequence,
    first_stop,
    paired_looks,
)

ALPHA, MIN_EFFECT, SIMS, CASES = 0.05, 0.05, 2000, 400
LOOKS = np.arange(20, CASES + 1, 20)


def margin(rate: float) -> float:
    return 2.33 * np.sqrt(rate * (1 - rate) / SIMS)


def test_the_interval_ends_where_the_always_valid_p_value_crosses_alpha():
    estimate, variance, tau = 0.0, 0.0004, 0.05
    low, high = confidence_sequence(estimate, variance, ALPHA, tau)
    assert low == pytest.approx(-high)
    assert always_valid_p(high, variance, tau) == pytest.approx(ALPHA)  # the test of 0 rejects exactly outside
    assert always_valid_p(high * 0.99, variance, tau) > ALPHA


def run_scenario(p_base: float, p_cand: float, shared: float, seed: int):
    base, cand = simulate(np.random.default_rng(seed), SIMS, CASES, p_base, p_cand, shared)
    index, verdict = first_stop(paired_looks(cand - base, LOOKS, ALPHA, MIN_EFFECT)["verdict"])
    return verdict, LOOKS[index]


@pytest.mark.parametrize("shared", [0.0, 0.9])
def test_no_change_is_almost_never_called_a_regression_however_often_it_looks(shared):
    verdict, _ = run_scenario(0.75, 0.75, shared, seed=1)
    assert (verdict == REGRESSED).mean() <= ALPHA + margin(ALPHA)


def test_a_drop_of_min_effect_is_almost_never_passed_as_no_regression():
    verdict, _ = run_scenario(0.75, 0.75 - MIN_EFFECT, 0.8, seed=2)
    assert (verdict == NO_REGRESSION).mean() <= ALPHA + margin(ALPHA)


def test_clear_verdicts_stop_early_and_save_at_least_forty_percent_of_calls():
    regressed, used = run_scenario(0.8, 0.6, 0.0, seed=3)
    assert (regressed == REGRESSED).mean() >= 0.95 and used.mean() <= 0.6 * CASES
    unchanged, used = run_scenario(0.75, 0.75, 0.9, seed=4)
    assert (unchanged == NO_REGRESSION).mean() >= 0.9 and used.mean() <= 0.6 * CASES


def test_streaming_state_agrees_with_the_vectorised_looks():
    rng = np.random.default_rng(5)
    diffs = (rng.random(120) < 0.7).astype(float) - (rng.random(120) < 0.7).astype(float)
    state = SequentialState(ALPHA, MIN_EFFECT)
    looks = paired_looks(diffs, np.arange(20, 121, 20), ALPHA, MIN_EFFECT)
    for k, end in enumerate(range(20, 121, 20)):
        now = state.add(np.append(diffs[end - 20 : end], np.nan))  # a case without both scores is skipped
        assert (
            now["n"] == end and now["low"] == pytest.approx(looks["low"][k]) and now["verdict"] == looks["verdict"][k]
        )
    assert state.p == pytest.approx(looks["p"][-1])
    assert SequentialState(ALPHA, MIN_EFFECT).add([1.0] * 5)["verdict"] == CONTINUE  # too few cases for any verdict


def sequential_project(tmp_path, cases: int):
    from .simulated import write_project

    write_project(
        tmp_path,
        cases=cases,
        versions={
            "1.0.0": {"accuracy": 0.8, "latency": 0.002, "concurrency": 16},
            "1.0.1": {"accuracy": 0.8, "latency": 0.002, "concurrency": 16},
            "2.0.0": {"accuracy": 0.4, "latency": 0.002, "seed": 2, "concurrency": 16},
        },
    )
    # latency is not under test here: a 2 ms simulated call is all scheduling noise on a loaded machine
    (tmp_path / "gate.yaml").write_text(
        "critical: [case_checks]\nmin_effect: 0.05\nmax_cost_increase: null\nmax_latency_increase: null\n"
    )
    return [
        "--root",
        str(tmp_path),
        "compare",
        "--dataset",
        "sim",
        "--scorer",
        "case_checks",
        "--sequential",
        "--no-log",
        "--quiet",
        "--no-cache",
    ]


def test_compare_sequential_stops_early_on_a_clear_regression(tmp_path, capsys):
    from workbench.cli import main

    args = sequential_project(tmp_path, cases=200)
    assert main(args + ["sim@1.0.0", "sim@2.0.0", "--batch", "20"]) == 1
    out = capsys.readouterr().out
    assert "GATE FAILED" in out and "case_checks regressed" in out and "stopped early" in out
    used = int(out.split("sequential: ")[1].split(" of ")[0])
    assert used <= 100 and "of 200 cases evaluated with both versions" in out


def test_compare_sequential_passes_identical_answers_early_and_says_inconclusive_when_cases_run_out(tmp_path, capsys):
    from workbench.cli import main

    args = sequential_project(tmp_path, cases=300)
    assert main(args + ["sim@1.0.0", "sim@1.0.1", "--batch", "20"]) == 0  # same seed: the same answers
    out = capsys.readouterr().out
    assert "GATE PASSED" in out and "stopped early" in out
    small = sequential_project(tmp_path / "small", cases=40)
    assert main(small + ["sim@1.0.0", "sim@1.0.1", "--batch", "20"]) == 4
    out = capsys.readouterr().out
    assert "GATE INCONCLUSIVE" in out and "after 40 cases a drop of up to" in out
    assert main(small + ["run:abc", "sim@1.0.1"]) == 2
