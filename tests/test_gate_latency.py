"""The latency rule on runs of a simulated chat model through the real runner: equal-quality configurations under
artificial CPU load (processes spinning on every core, queueing behind the concurrency bound) never fail it; a
model that is really slower does."""

from __future__ import annotations

import multiprocessing
import os
import time

import pytest

from workbench.aio import run_sync
from workbench.compare import compare
from workbench.datasets import load_dataset
from workbench.gate import GatePolicy, check_gate
from workbench.models import ModelClient
from workbench.prompts import resolve
from workbench.runner import arun
from workbench.scorers import from_spec

from .simulated import write_project


def _spin(stop_at: float) -> None:
    x = 0
    while time.time() < stop_at:
        x += 1


class cpu_load:
    """Busy processes on every core for as long as the block runs."""

    def __enter__(self):
        stop_at = time.time() + 120
        self.workers = [
            multiprocessing.get_context("spawn").Process(target=_spin, args=(stop_at,), daemon=True)
            for _ in range(os.cpu_count() or 2)
        ]
        for worker in self.workers:
            worker.start()
        return self

    def __exit__(self, *exc):
        for worker in self.workers:
            worker.terminate()
            worker.join()


def evaluate(root, ref: str, concurrency: int):
    prompt = resolve(ref, root / "prompts")
    dataset = load_dataset("sim", root / "datasets")
    client = ModelClient(prompt.spec, concurrency=concurrency)
    return run_sync(arun(prompt, dataset, [from_spec("case_checks")], client, progress=False))


POLICY = GatePolicy(critical=["case_checks"], max_latency_increase=0.5, max_cost_increase=None, max_error_rate=None)


def latency_outcome(base, cand):
    return next(o for o in check_gate(compare(base, cand), POLICY).outcomes if o.rule == "latency")


@pytest.mark.slow  # three rounds with both versions, about 20 s with the load
def test_equal_quality_under_cpu_load_never_fails_the_latency_rule(tmp_path):
    write_project(tmp_path, cases=40, versions={"1.0.0": {"seed": 0}, "1.1.0": {"seed": 1}})
    for _round in range(3):
        base = evaluate(tmp_path, "sim@1.0.0", concurrency=8)
        with cpu_load():
            cand = evaluate(tmp_path, "sim@1.1.0", concurrency=2)  # and a queue behind the concurrency bound
        outcome = latency_outcome(base, cand)
        assert outcome.verdict == "passed", outcome.message()
        assert not cand.frame["cached"].any() and outcome.n == 40


def test_a_really_slower_model_fails_the_latency_rule_and_equal_ones_pass(tmp_path):
    write_project(
        tmp_path,
        cases=30,
        versions={
            "1.0.0": {"latency": 0.01},
            "1.1.0": {"latency": 0.01, "seed": 1},
            "2.0.0": {"latency": 0.03, "seed": 2},
        },
    )
    base = evaluate(tmp_path, "sim@1.0.0", concurrency=4)
    same = evaluate(tmp_path, "sim@1.1.0", concurrency=1)  # queued: the wait is not service time
    slow = evaluate(tmp_path, "sim@2.0.0", concurrency=4)
    assert latency_outcome(base, same).verdict == "passed"
    outcome = latency_outcome(base, slow)
    assert outcome.verdict == "regressed" and outcome.diff > 1.0, outcome.message()
    # quality is what the model was built with: 70% right, independently per version
    assert 0.4 < compare(base, same).table.loc["case_checks", "baseline"] < 0.95


def test_a_millisecond_model_twice_as_slow_by_a_few_ms_passes_under_the_absolute_floor(tmp_path):
    """1 ms -> 6 ms is +500% but 5 ms: scheduling noise on a busy machine; the 10 ms floor keeps it from failing.

    The runner's own per-call time (2-3 ms under CI load) adds to both sides, so the gap is wide enough that the relative
    rise stays far above the 50% limit and the absolute one far below the floor."""
    write_project(tmp_path, cases=30, versions={"1.0.0": {"latency": 0.001}, "2.0.0": {"latency": 0.006, "seed": 2}})
    base = evaluate(tmp_path, "sim@1.0.0", concurrency=4)
    slow = evaluate(tmp_path, "sim@2.0.0", concurrency=4)
    floored = latency_outcome(base, slow)
    assert floored.verdict == "passed" and floored.diff > 0.5, floored.message()
    strict = POLICY.model_copy(update={"min_latency_increase_s": 0.0})
    outcome = next(o for o in check_gate(compare(base, slow), strict).outcomes if o.rule == "latency")
    assert outcome.verdict == "regressed", outcome.message()
