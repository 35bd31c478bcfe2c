"""Metrics overhead: cases per second of a run that feeds Prometheus metrics (the runner's `on_call` hook, the
registry served over HTTP) against the same run without metrics, measured in the same process, alternating.

    .venv/bin/python benchmarks/metrics_overhead.py [--cases 2000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import logging
import os
import time
import warnings

from _project import INSTANT_MODEL, make_project

SCORERS = ["exact_match", "contains", "case_checks"]


def rate(settings, metrics) -> float:
    from workbench.experiment import evaluate

    settings.cache_path.unlink(missing_ok=True)  # every round calls the model: nothing cached
    start = time.perf_counter()
    result = evaluate(
        "bench@1.0.0",
        "bench",
        scorers=SCORERS,
        settings=settings,
        log=False,
        progress=False,
        on_call=metrics.recorder("bench@1.0.0") if metrics else None,
    )
    elapsed = time.perf_counter() - start
    assert result.totals()["errors"] == 0
    return len(result.record) / elapsed


def main() -> None:
    from workbench.metrics import RunMetrics

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    warnings.filterwarnings("ignore")
    os.environ.setdefault("TQDM_DISABLE", "1")
    settings = make_project(INSTANT_MODEL, args.cases)
    rate(settings, None)  # warm-up: imports, scorers
    plain, measured = [], []
    for _ in range(args.rounds):
        plain.append(rate(settings, None))
        metrics = RunMetrics()
        metrics.serve(0)  # port 0: any free port; served as during `workbench run --metrics-port`
        measured.append(rate(settings, metrics))
        metrics.stop()
    best_plain, best_metrics = max(plain), max(measured)
    print(f"cases {args.cases}, best of {args.rounds} rounds, load average {os.getloadavg()[0]:.2f}")
    print(f"without metrics: {best_plain:,.0f} cases/s")
    print(f"with metrics:    {best_metrics:,.0f} cases/s  ({best_metrics / best_plain:.1%} of the run without)")


if __name__ == "__main__":
    main()
