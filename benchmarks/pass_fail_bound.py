"""The gate's "ruled out" on pass/fail scores: how often the one-sided 95% bound clears -min_effect when the
candidate really is down by exactly min_effect (the bound's error rate; nominal 5%), for the score bound the gate
uses (`power.paired_rate_bound`, Nam-Tango) against the Student-t bound on the -1/0/1 differences with a 3 / n
variance floor that it replaced (the baseline, computed here). Pairs as in `benchmarks/sequential.py`: with
"shared" difficulty the two versions agree on most cases, so few cases are discordant.

    .venv/bin/python benchmarks/pass_fail_bound.py      # --sims 20000
"""

from __future__ import annotations

import argparse
import os
import time
from datetime import UTC, datetime

import numpy as np
from scipy import stats

from workbench.stats.power import worst_diff


def t_bound(d: np.ndarray, level: float) -> np.ndarray:
    """The replaced bound: Student's t on the paired differences, their variance at least 3 / n."""
    n = d.shape[-1]
    variance = np.maximum(d.var(-1, ddof=1), 3 / n)
    return d.mean(-1) - stats.t.ppf(1 - level, n - 1) * np.sqrt(variance / n)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sims", type=int, default=20_000)
    parser.add_argument("--level", type=float, default=0.05)
    args = parser.parse_args()
    rng, started = np.random.default_rng(1), time.perf_counter()
    print(f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, load average {os.getloadavg()[0]:.2f}; {args.sims} pairs per row")
    print(
        "| cases | pass rate | shared difficulty | drop = min_effect | t bound (replaced): passes | score bound: passes |"
    )
    print("|---|---|---|---|---|---|")
    for n in (40, 100, 400):
        for p in (0.7, 0.9):
            for shared in (0.0, 0.8):
                for drop in (0.05, 0.10):
                    u_base = rng.random((args.sims, n))
                    u_cand = np.where(rng.random((args.sims, n)) < shared, u_base, rng.random((args.sims, n)))
                    d = (u_cand < p - drop).astype(float) - (u_base < p).astype(float)
                    score = worst_diff(d.mean(-1), d.std(-1, ddof=1), n, args.level, pass_fail=True)
                    print(
                        f"| {n} | {p} | {shared} | {drop} | {np.mean(t_bound(d, args.level) > -drop):.1%} "
                        f"| {np.mean(score > -drop):.1%} |"
                    )
    print(f"\n{time.perf_counter() - started:.1f} s, load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
