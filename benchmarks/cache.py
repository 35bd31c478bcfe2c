"""Cache: re-running an unchanged experiment (the demo's support@1.1.0 on the local model, MLflow logging on)
must make zero model calls and take at most 5% of the first run's time. The first run is the baseline.

    .venv/bin/python benchmarks/cache.py [--ref support@1.1.0] [--dataset support]
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
import warnings
from pathlib import Path

from workbench.experiment import evaluate
from workbench.settings import Settings
from workbench.tracking import find_runs

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ref", default="support@1.1.0")
    parser.add_argument("--dataset", default="support")
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    warnings.filterwarnings("ignore")
    home = Path(tempfile.mkdtemp(prefix="wb-cache-bench-"))  # an empty cache and MLflow store
    settings = Settings(root=ROOT, home=home, tracking_uri=f"sqlite:///{home / 'mlflow.db'}")
    find_runs(settings)  # create the MLflow store's tables before timing anything
    timings, calls = [], []
    for _ in range(2):
        start = time.perf_counter()
        result = evaluate(args.ref, args.dataset, settings=settings, progress=False)
        timings.append(time.perf_counter() - start)
        calls.append(result.model_calls)
    first, second = timings
    print(f"first run:  {first:7.2f} s, {calls[0]} model calls")
    print(f"second run: {second:7.2f} s, {calls[1]} model calls")
    print(f"ratio: {second / first:.1%} of the first run (goal <= 5%, zero calls)")


if __name__ == "__main__":
    main()
