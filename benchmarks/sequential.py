"""Sequential comparison against the fixed one on simulated pairs: decided, recall, false alarms, cases used.

Pairs of versions of known quality: each case's answer is right with a version's probability; in the
"correlated" scenarios the two versions share the case's difficulty (as two prompts of one model do), so
they agree on most cases. The fixed design evaluates a fixed number of cases with both versions and applies the
gate's rule (`compare._verdicts`: a significant McNemar drop whose one-sided bound reaches -min_effect); the
sequential design (`workbench compare --sequential`, `stats.sequential.Design`) starts with `--start` cases,
adds `--batch` new cases per look and stops at the first verdict or at `--max-cases` (the budget). Model calls
are cases x 2 (both versions); "saved" is against the fixed design at the budget.

    .venv/bin/python benchmarks/sequential.py      # --sims 2000 --start 100 --batch 50 --max-cases 400 --min-effect 0.1
"""

from __future__ import annotations

import argparse
import os
import time
from datetime import UTC, datetime

import numpy as np

from workbench.stats.power import mcnemar_pvalue, worst_diff
from workbench.stats.sequential import (
    IMPROVED,
    INCONCLUSIVE,
    NO_REGRESSION,
    REGRESSED,
    Design,
    first_stop,
    paired_looks,
)

SCENARIOS = [  # name, baseline pass rate, drop, shared difficulty (0: independent answers)
    (f"{name}, p {p}", p, drop, shared)
    for p in (0.7, 0.9)
    for name, drop, shared in [
        ("equal, independent", 0.0, 0.0),
        ("equal, correlated", 0.0, 0.8),
        ("equal, identical", 0.0, 1.0),
        ("drop 0.20", 0.20, 0.0),
        ("drop 0.10", 0.10, 0.0),
        ("drop 0.10, correlated", 0.10, 0.8),
        ("drop 0.05", 0.05, 0.0),
    ]
]


def simulate(rng: np.random.Generator, sims: int, cases: int, p_base: float, p_cand: float, shared: float):
    """Pass/fail of both versions, (sims, cases) each: a case's uniform difficulty is shared with probability `shared`."""
    u_base = rng.random((sims, cases))
    u_cand = np.where(rng.random((sims, cases)) < shared, u_base, rng.random((sims, cases)))
    return (u_base < p_base).astype(float), (u_cand < p_cand).astype(float)


def fixed_regressed(base: np.ndarray, cand: np.ndarray, alpha: float, min_effect: float, family: int = 1):
    """The fixed gate's verdict on every case given (Bonferroni over `family`, the first step of Holm's)."""
    worse, better = ((base == 1) & (cand == 0)).sum(-1), ((base == 0) & (cand == 1)).sum(-1)
    diff = cand - base
    level = alpha / family
    bound = worst_diff(diff.mean(-1), diff.std(-1, ddof=1), diff.shape[-1], level, pass_fail=True)
    return (mcnemar_pvalue(worse, better) < level) & (worse > better) & (bound <= -min_effect)


def sequential(base: np.ndarray, cand: np.ndarray, design: Design) -> tuple[np.ndarray, np.ndarray]:
    """Each simulated pair's verdict and the cases it used."""
    index, verdict = first_stop(paired_looks(cand - base, design)["verdict"])
    return verdict, design.looks[index]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sims", type=int, default=2000)
    parser.add_argument("--start", type=int, default=100)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--max-cases", type=int, default=400)
    parser.add_argument("--alpha", type=float, default=0.05)
    parser.add_argument("--min-effect", type=float, default=0.10)
    args = parser.parse_args()
    rng = np.random.default_rng(11)
    design = Design(args.start, args.batch, args.max_cases, args.alpha, args.min_effect)
    started = time.perf_counter()
    print(
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, load average {os.getloadavg()[0]:.2f}; {args.sims} simulated pairs "
        f"per scenario; start {args.start}, batches of {args.batch}, budget {args.max_cases} cases; alpha "
        f"{args.alpha}, min_effect {args.min_effect}"
    )
    top, low = args.max_cases, args.start
    print(
        f"| scenario | fixed at {top}: regressed | fixed at {low}: regressed | sequential: decided | regressed "
        f"| passed (no regression, improved) | inconclusive | mean cases | calls saved vs fixed at {top} |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for name, p, drop, shared in SCENARIOS:
        base, cand = simulate(rng, args.sims, top, p, p - drop, shared)
        verdict, used = sequential(base, cand, design)
        regressed = (verdict == REGRESSED).mean()
        print(
            f"| {name} | {fixed_regressed(base, cand, args.alpha, args.min_effect).mean():.1%} "
            f"| {fixed_regressed(base[:, :low], cand[:, :low], args.alpha, args.min_effect).mean():.1%} "
            f"| {1 - (verdict == INCONCLUSIVE).mean():.1%} | {regressed:.1%} | {np.isin(verdict, [NO_REGRESSION, IMPROVED]).mean():.1%} "
            f"| {(verdict == INCONCLUSIVE).mean():.1%} | {used.mean():.0f} | {1 - used.mean() / top:.0%} |"
        )
    print(f"\n{time.perf_counter() - started:.1f} s, load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
