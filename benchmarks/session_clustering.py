"""Sessions as the unit of a comparison (#21): how often `compare` calls two equally good versions different
when every turn of a multi-turn session is scored, pooling the turns as independent cases (the baseline:
what evaluation tools do today) against pairing by session, each session's score the mean of its turns (its
turns recorded as rows of one case, as repeats are, so `RunResult.case_scores` averages them).

Simulated pairs of known quality: a session has a difficulty shared by both versions, and each version a
path of its own through it (`--path-sd`) that persists over the session's turns, so turns are correlated
within a session and across versions only through the difficulty. Both versions draw from one distribution:
every "regressed" or "improved" is a false alarm (nominal: at most 5% two-sided). With `--drop`, the candidate
is down by that much on every turn, to show the session design still finds a real change.

    .venv/bin/python benchmarks/session_clustering.py      # --pairs 500 --sessions 40 --turns 5
"""

from __future__ import annotations

import argparse
import os
import time
from datetime import UTC, datetime

import numpy as np
import pandas as pd
from scipy import stats

from workbench.compare import compare
from workbench.record import COLUMNS
from workbench.results import RunResult

CHANGED = ("regressed", "improved", "negligible")


def turns(rng: np.random.Generator, sessions: int, n_turns: int, path_sd: float, drop: float) -> np.ndarray:
    """(2, sessions, turns) pass/fail: baseline and candidate on the same sessions."""
    difficulty = rng.normal(0.5, 1.0, sessions)
    paths = rng.normal(0.0, path_sd, (2, sessions))
    rate = stats.norm.cdf(difficulty + paths)
    rate[1] = np.clip(rate[1] - drop, 0, 1)
    return rng.random((2, sessions, n_turns)) < rate[..., None]


def run_of(passed: np.ndarray, ref: str, by_session: bool) -> RunResult:
    """A run whose cases are sessions (turns as rows of one case) or turns (each its own case)."""
    sessions, n_turns = passed.shape
    rows = [
        {
            "case_id": f"s{s}" if by_session else f"s{s}t{t}",
            "repeat": t if by_session else 0,
            "scorer": "goal",
            "value": float(passed[s, t]),
            "passed": bool(passed[s, t]),
            "error": None,
            "latency_s": 1.0,
            "cost": 0.0,
            "cached": False,
            "input_tokens": 1,
            "output_tokens": 1,
            "output": "x",
        }
        for s in range(sessions)
        for t in range(n_turns)
    ]
    frame = pd.DataFrame(rows, columns=COLUMNS).astype({"value": "float64", "passed": "boolean", "cached": "bool"})
    repeats = n_turns if by_session else 1
    return RunResult(ref, "h", "d@1", "d", frame, scorers=[{"name": "goal", "args": {}}], repeats=repeats)


def verdict(pair: np.ndarray, by_session: bool, min_effect: float) -> str:
    base, cand = run_of(pair[0], "a@1.0.0", by_session), run_of(pair[1], "a@1.1.0", by_session)
    return str(compare(base, cand, min_effect=min_effect).table.loc["goal", "verdict"])


def rates(pairs: list[np.ndarray], min_effect: float) -> dict[str, dict[str, float]]:
    """Per design: the share of pairs with each verdict."""
    out = {}
    for design, by_session in (("pooled turns", False), ("sessions", True)):
        verdicts = pd.Series([verdict(p, by_session, min_effect) for p in pairs])
        out[design] = verdicts.value_counts(normalize=True).to_dict()
    return out


def false_alarms(shares: dict[str, float]) -> float:
    return sum(shares.get(v, 0.0) for v in CHANGED)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pairs", type=int, default=500)
    parser.add_argument("--sessions", type=int, default=40)
    parser.add_argument("--turns", type=int, default=5)
    parser.add_argument("--min-effect", type=float, default=0.10)
    args = parser.parse_args()
    rng, started = np.random.default_rng(21), time.perf_counter()
    print(
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, load average {os.getloadavg()[0]:.2f}; {args.pairs} pairs per row, "
        f"{args.sessions} sessions x {args.turns} turns, min_effect {args.min_effect}"
    )
    print("| path sd | drop | pooled turns: changed | sessions: changed | sessions: regressed |")
    print("|---|---|---|---|---|")
    for path_sd in (0.0, 0.5, 1.0):
        for drop in (0.0, 0.2):
            pairs = [turns(rng, args.sessions, args.turns, path_sd, drop) for _ in range(args.pairs)]
            shares = rates(pairs, args.min_effect)
            print(
                f"| {path_sd} | {drop} | {false_alarms(shares['pooled turns']):.1%} "
                f"| {false_alarms(shares['sessions']):.1%} | {shares['sessions'].get('regressed', 0.0):.1%} |"
            )
    print(f"\n{time.perf_counter() - started:.1f} s, load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
