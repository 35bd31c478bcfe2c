"""Sharded runs on one machine: the demo's support@1.1.0 over `support` on the local model, in one process (the
baseline, measured in the same run) and as N shards in N worker processes (`shards.run_local`, what
`workbench run --workers N` calls: one model copy per process, each pinned to a core), and the same N shards on a
Dask LocalCluster (`shards.run_on_dask`). No response cache (every call goes to the model), nothing logged; wall
time of each, whole runs (process start and model loads included), and the merged answers checked equal to the
one-process run's.

    .venv/bin/python benchmarks/shards.py [--ref support@1.1.0] [--dataset support] [--workers 2] [--no-dask]
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
import time
import warnings
from pathlib import Path

from workbench.experiment import evaluate
from workbench.results import RunResult
from workbench.settings import Settings
from workbench.shards import run_local, run_on_dask

ROOT = Path(__file__).resolve().parent.parent


def timed(label: str, run) -> tuple[float, RunResult]:
    load = os.getloadavg()[0]
    start = time.perf_counter()
    result = run()
    seconds = time.perf_counter() - start
    print(f"{label:<34} {seconds:7.2f} s  {len(result.record)} calls  load before {load:.2f}", flush=True)
    return seconds, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ref", default="support@1.1.0")
    parser.add_argument("--dataset", default="support")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--no-dask", action="store_true")
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    warnings.filterwarnings("ignore")
    home = Path(tempfile.mkdtemp(prefix="wb-shards-bench-"))
    settings = Settings(root=ROOT, home=home, tracking_uri=f"sqlite:///{home / 'mlflow.db'}", cache=False)
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; {os.cpu_count()} cores")

    one, whole = timed("one process", lambda: evaluate(args.ref, args.dataset, settings=settings, log=False))
    n = args.workers
    local, merged = timed(
        f"{n} worker processes (--workers {n})", lambda: run_local(args.ref, args.dataset, n, settings)
    )
    rows = [("one process", one), (f"--workers {n}", local)]
    results = [merged]
    if not args.no_dask:
        import distributed  # optional: the Dask fan-out

        def on_dask() -> RunResult:
            with distributed.LocalCluster(n_workers=n, threads_per_worker=1, dashboard_address=None) as cluster:
                with distributed.Client(cluster) as client:
                    return run_on_dask(client, args.ref, args.dataset, n, settings, log=False, progress=False)

        dask, on_cluster = timed(f"Dask LocalCluster, {n} workers", on_dask)
        rows.append((f"Dask, {n} shards", dask))
        results.append(on_cluster)
    print(f"one process: {whole.record['error'].notna().sum()} errors")
    for (label, _), result in zip(rows[1:], results):
        differ = (result.record["output"] != whole.record["output"]) & whole.record["error"].isna()
        errors = result.record["error"].dropna()
        print(
            f"{label}: {int(differ.sum())} answers differ from the one-process run's; {len(errors)} errors "
            f"{errors.str[:80].value_counts().to_dict()}"
        )
    for label, seconds in rows:
        print(f"{label:<20} {seconds:7.2f} s  speed-up {one / seconds:.2f}x")
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
