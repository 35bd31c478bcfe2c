"""Sequential comparison against the fixed one on simulated pairs: decided, recall, false alarms, cases used.

Pairs of versions of known quality: each case's answer is right with a version's probability; in the
"correlated" scenarios the two versions share the case's difficulty (as two prompts of one model do), so
they agree on most cases. The fixed design evaluates a fixed number of cases with both versions and applies the
gate's rule (`compare._verdicts`: a significant McNemar drop whose one-sided bound reaches -min_effect); the
sequential design (`workbench compare --sequential`, `stats.sequential.Design`) starts with `--start` cases,
adds `--batch` new cases per look and stops at the first verdict or at `--max-cases` (the budget). Model calls
are cases x 2 (both versions); "saved" is against the fixed design at the budget.

    .venv/bin/python benchmarks/sequential.py      # --sims 2000 --start 100 --batch 50 --max-cases 400 --min-effect 0.1
    .venv/bin/python benchmarks/sequential.py --family 3   # three independent critical scorers, the first dropped

With `--family K`, each pair has K critical scorers with independent answers (the first carries the drop, the
others are equal), and the comparison stops as `compare --sequential` does (`family_stop`): at the first
regression of any scorer, or once every scorer has passed; "regressed" is family-wise.
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
    """The fixed gate's "regressed" on the cases given (Bonferroni over `family`, Holm's first step; the bound at alpha)."""
    worse, better = ((base == 1) & (cand == 0)).sum(-1), ((base == 0) & (cand == 1)).sum(-1)
    diff = cand - base
    level = alpha / family
    bound = worst_diff(diff.mean(-1), diff.std(-1, ddof=1), diff.shape[-1], alpha, pass_fail=True)  # the gate's
    return (mcnemar_pvalue(worse, better) < level) & (worse > better) & (bound <= -min_effect)


def sequential(base: np.ndarray, cand: np.ndarray, design: Design) -> tuple[np.ndarray, np.ndarray]:
    """Each simulated pair's verdict and the cases it used."""
    index, verdict = first_stop(paired_looks(cand - base, design)["verdict"])
    return verdict, design.looks[index]


def family_stop(verdicts: list[np.ndarray], design: Design) -> tuple[np.ndarray, np.ndarray]:
    """The gate's verdict and cases per pair over several critical scorers, as `compare --sequential` stops: at
    the first look where any scorer has regressed (regressed) or every one has passed; at the budget, any scorer
    still undecided makes it inconclusive. `verdicts`: each scorer's per-look verdicts, (pairs, looks)."""
    stops = [first_stop(v) for v in verdicts]  # a scorer's verdict stands from its first decided look on
    looks = np.arange(len(design.looks))
    regressed = np.any([(v == REGRESSED)[:, None] & (looks >= i[:, None]) for i, v in stops], axis=0)
    passed = np.all([np.isin(v, [NO_REGRESSION, IMPROVED])[:, None] & (looks >= i[:, None]) for i, v in stops], axis=0)
    done = regressed | passed
    index = np.where(done.any(axis=1), done.argmax(axis=1), len(looks) - 1)
    at = np.arange(len(index))
    verdict = np.where(regressed[at, index], REGRESSED, np.where(passed[at, index], NO_REGRESSION, INCONCLUSIVE))
    return verdict, design.looks[index]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sims", type=int, default=2000)
    parser.add_argument("--start", type=int, default=100)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--max-cases", type=int, default=400)
    parser.add_argument("--alpha", type=float, default=0.05)
    parser.add_argument("--min-effect", type=float, default=0.10)
    parser.add_argument("--family", type=int, default=1)
    args = parser.parse_args()
    rng = np.random.default_rng(11)
    design = Design(args.start, args.batch, args.max_cases, args.alpha, args.min_effect, args.family)
    started = time.perf_counter()
    print(
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, load average {os.getloadavg()[0]:.2f}; {args.sims} simulated pairs "
        f"per scenario; start {args.start}, batches of {args.batch}, budget {args.max_cases} cases; alpha "
        f"{args.alpha}, min_effect {args.min_effect}, {args.family} critical scorer(s)"
    )
    top, low = args.max_cases, args.start
    print(
        f"| scenario | fixed at {top}: regressed | fixed at {low}: regressed | sequential: decided | regressed "
        f"| passed (no regression, improved) | inconclusive | mean cases | calls saved vs fixed at {top} |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for name, p, drop, shared in SCENARIOS:
        looks, fixed_top, fixed_low = [], [], []
        for scorer in range(args.family):
            base, cand = simulate(rng, args.sims, top, p, p - (drop if scorer == 0 else 0.0), shared)
            looks.append(paired_looks(cand - base, design)["verdict"])
            fixed_top.append(fixed_regressed(base, cand, args.alpha, args.min_effect, args.family))
            fixed_low.append(fixed_regressed(base[:, :low], cand[:, :low], args.alpha, args.min_effect, args.family))
        verdict, used = family_stop(looks, design)
        undecided = (verdict == INCONCLUSIVE).mean()
        print(
            f"| {name} | {np.any(fixed_top, axis=0).mean():.1%} | {np.any(fixed_low, axis=0).mean():.1%} "
            f"| {1 - undecided:.1%} | {(verdict == REGRESSED).mean():.1%} | {(verdict == NO_REGRESSION).mean():.1%} "
            f"| {undecided:.1%} | {used.mean():.0f} | {1 - used.mean() / top:.0%} |"
        )
    print(f"\n{time.perf_counter() - started:.1f} s, load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
