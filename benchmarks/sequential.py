"""Sequential comparison: model calls saved against the full dataset, at equal error rates, on simulated pairs.

Pairs of versions of known quality: each case's answer is right with a version's probability; in the
"correlated" scenarios the two versions share the case's difficulty (as two prompts of one model do), so
they agree on most cases. The fixed design evaluates every case of the dataset with both versions and
applies the gate's McNemar test; the sequential design (`workbench compare --sequential`) evaluates batches
of cases with both versions and stops at the first certain verdict of the anytime-valid test. Model calls
are cases x 2 (both versions).

    .venv/bin/python benchmarks/sequential.py            # --sims 2000 --cases 400 --batch 20
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from workbench.stats.power import mcnemar_mde, mcnemar_pvalue, worst_diff
from workbench.stats.sequential import NO_REGRESSION, REGRESSED, first_stop, paired_looks

SCENARIOS = [  # name, baseline pass rate, candidate pass rate, shared difficulty (0: independent answers)
    ("clear regression (-20 points)", 0.80, 0.60, 0.0),
    ("clear regression, correlated (-15 points)", 0.80, 0.65, 0.8),
    ("no change, correlated", 0.75, 0.75, 0.9),
    ("no change, identical answers", 0.75, 0.75, 1.0),
    ("no change, independent answers", 0.75, 0.75, 0.0),
    ("small regression (-5 points), correlated", 0.75, 0.70, 0.8),
]


def simulate(rng: np.random.Generator, sims: int, cases: int, p_base: float, p_cand: float, shared: float):
    """Pass/fail of both versions, (sims, cases) each: a case's uniform difficulty is shared with probability `shared`."""
    u_base = rng.random((sims, cases))
    u_cand = np.where(rng.random((sims, cases)) < shared, u_base, rng.random((sims, cases)))
    return (u_base < p_base).astype(float), (u_cand < p_cand).astype(float)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sims", type=int, default=2000)
    parser.add_argument("--cases", type=int, default=400)
    parser.add_argument("--batch", type=int, default=20)
    parser.add_argument("--alpha", type=float, default=0.05)
    parser.add_argument("--min-effect", type=float, default=0.05)
    args = parser.parse_args()
    rng = np.random.default_rng(11)
    looks = np.arange(args.batch, args.cases + 1, args.batch)
    started = time.perf_counter()
    print(
        f"{args.sims} simulated pairs per scenario, {args.cases} cases, batches of {args.batch}, alpha {args.alpha}, "
        f"min_effect {args.min_effect}"
    )
    print(
        "| scenario | fixed: regressed | fixed: MDE | sequential: regressed | sequential: no regression "
        "| sequential: inconclusive at the end | model calls (mean) | saved |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name, p_base, p_cand, shared in SCENARIOS:
        base, cand = simulate(rng, args.sims, args.cases, p_base, p_cand, shared)
        worse, better = ((base == 1) & (cand == 0)).sum(1), ((base == 0) & (cand == 1)).sum(1)
        diff = cand - base  # the gate's rule (compare._verdicts): a significant drop whose bound reaches -min_effect
        bound = worst_diff(diff.mean(1), diff.std(1, ddof=1), args.cases, args.alpha, pass_fail=True)
        fixed = (mcnemar_pvalue(worse, better) < args.alpha) & (worse > better) & (bound <= -args.min_effect)
        result = paired_looks(cand - base, looks, args.alpha, args.min_effect)
        index, verdict = first_stop(result["verdict"])
        used = looks[index]
        calls = 2 * used.mean()
        mde = mcnemar_mde(args.cases, float((worse + better).mean()) / args.cases, p_base, args.alpha)
        print(
            f"| {name} | {fixed.mean():.1%} | {mde:.3f} | {(verdict == REGRESSED).mean():.1%} | {(verdict == NO_REGRESSION).mean():.1%} "
            f"| {np.isin(verdict, ['continue']).mean():.1%} | {calls:.0f} of {2 * args.cases} | {1 - calls / (2 * args.cases):.0%} |"
        )
    print(f"\n{time.perf_counter() - started:.1f} s, load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
