"""The whole path on a simulated chat model of known quality: 500 pairs of runs through the real runner, compared
by `compare` and gated. Equal-quality pairs raise false alarms at most alpha of the time (plus the binomial
margin); a real drop is caught as often as McNemar's exact power says (within five points)."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.aio import run_sync
from workbench.compare import compare
from workbench.datasets import load_dataset
from workbench.models import ModelClient
from workbench.prompts import resolve
from workbench.runner import arun
from workbench.scorers import from_spec
from workbench.stats.power import mcnemar_power

from .simulated import write_project

pytestmark = pytest.mark.slow  # 1,000 runs of 40 cases and 1,000 comparisons: 2 minutes of CPU
PAIRS, CASES, ALPHA = 500, 40, 0.05


def verdicts(root, baseline: str, candidate: str) -> list[str]:
    scorer = [from_spec("case_checks")]
    dataset = load_dataset("sim", root / "datasets")
    prompts = {ref: resolve(ref, root / "prompts") for ref in (baseline, candidate)}

    async def pairs() -> list[str]:
        out = []
        for k in range(PAIRS):  # other seeds per pair: each version answers each case afresh
            runs = [
                await arun(
                    prompts[ref],
                    dataset,
                    scorer,
                    ModelClient(prompts[ref].spec, concurrency=64),
                    seed_offset=2 * k + side + 1,
                    progress=False,
                )
                for side, ref in enumerate((baseline, candidate))
            ]
            out.append(compare(*runs, alpha=ALPHA).table.loc["case_checks", "verdict"])
        return out

    return run_sync(pairs())


def test_equal_quality_false_alarms_and_power_on_a_simulated_model(tmp_path):
    write_project(
        tmp_path,
        cases=CASES,
        versions={
            "1.0.0": {"accuracy": 0.7, "latency": 0.0},
            "1.1.0": {"accuracy": 0.7, "latency": 0.0},
            "2.0.0": {"accuracy": 0.4, "latency": 0.0},
        },
    )
    same = np.array(verdicts(tmp_path, "sim@1.0.0", "sim@1.1.0"))
    alarms = (same != "no significant change").mean()
    assert alarms <= ALPHA + 2.33 * np.sqrt(ALPHA * (1 - ALPHA) / PAIRS)
    worse = np.array(verdicts(tmp_path, "sim@1.0.0", "sim@2.0.0"))
    discordance = 0.7 * 0.6 + 0.4 * 0.3
    assert (worse == "regressed").mean() == pytest.approx(mcnemar_power(CASES, discordance, 0.3, ALPHA), abs=0.05)
