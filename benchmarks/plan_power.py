"""Does `workbench plan` deliver the power it promises? Pilots of two equal versions (answers right with
probability p, independently per version), a plan for a drop of `effect`, then pairs at the planned number of
cases whose candidate is `effect` worse, each through the gate's own `compare` (min_effect = effect): the share
that regresses is the delivered power (80% promised). Equal pairs at the same n give the false alarms.

    .venv/bin/python benchmarks/plan_power.py            # --pilots 5 --pairs 300 --pilot-cases 100
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import pandas as pd

from workbench.compare import compare
from workbench.record import COLUMNS
from workbench.results import RunResult
from workbench.stats.planning import plan


def pass_fail_run(passed: np.ndarray) -> RunResult:
    """A run of one pass/fail scorer `ok`, one call per case."""
    n = len(passed)
    frame = pd.DataFrame({"case_id": [f"c{i}" for i in range(n)], "repeat": 0, "scorer": "ok"}, columns=COLUMNS)
    frame["value"], frame["passed"], frame["cached"] = passed.astype(float), passed, False
    frame = frame.astype({"value": "float64", "passed": "boolean", "cached": "bool"})
    return RunResult("p@1.0.0", "hash", "d@1", "h" * 64, frame, scorers=[{"name": "ok", "args": {}}])


def verdict(rng: np.random.Generator, n: int, p: float, drop: float, effect: float) -> str:
    base, cand = rng.random(n) < p, rng.random(n) < p - drop
    return str(compare(pass_fail_run(base), pass_fail_run(cand), min_effect=effect).table.loc["ok", "verdict"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pilots", type=int, default=5)
    parser.add_argument("--pairs", type=int, default=300)
    parser.add_argument("--pilot-cases", type=int, default=100)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    started = time.perf_counter()
    print("| p | effect | planned cases (median, range) | power delivered (pooled; lowest pilot) | false alarms at n |")
    print("|---|---|---|---|---|")
    for p in (0.7, 0.9):
        for effect in (0.1, 0.2):
            planned, caught, alarms = [], [], []
            for _ in range(args.pilots):
                pilots = [pass_fail_run(rng.random(args.pilot_cases) < p) for _ in range(2)]
                n = int(plan(*pilots, effect=effect).table.loc["ok", "cases_r1"])
                planned.append(n)
                caught.append(np.mean([verdict(rng, n, p, effect, effect) == "regressed" for _ in range(args.pairs)]))
                alarms.append(np.mean([verdict(rng, n, p, 0.0, effect) == "regressed" for _ in range(args.pairs)]))
            print(
                f"| {p} | {effect} | {int(np.median(planned))} ({min(planned)}-{max(planned)}) "
                f"| {np.mean(caught):.1%}; {min(caught):.1%} | {np.mean(alarms):.1%} |",
                flush=True,
            )
    print(f"\n{time.perf_counter() - started:.0f} s, load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
