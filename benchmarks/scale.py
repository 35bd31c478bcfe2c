"""Scale: `evaluate` over 10k / 100k / 1M cases with an instant model, three cheap scorers and MLflow logging on.
Each size runs in its own process, so its peak RSS is its own; per-case times are shown as ratios of the
smallest size's, measured in the same run.

    .venv/bin/python benchmarks/scale.py [--sizes 10000 100000 1000000]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import subprocess
import sys
import time
import warnings
from pathlib import Path

from _project import INSTANT_MODEL, make_project

SCORERS = ["exact_match", "contains", "case_checks"]
GOAL_RSS = 2 * 1024**3


def one(cases: int) -> dict:
    """One size, in this process: wall time, peak RSS, and what reached MLflow."""
    import mlflow
    import psutil

    from workbench.experiment import evaluate
    from workbench.mlflow_store import client as store_client

    settings = make_project(INSTANT_MODEL, 0)
    make_project(INSTANT_MODEL, 20, name="warmup", root=settings.root)
    # Warm-up: imports, the MLflow store's tables, the experiment; then the timed run, whose cases are not cached.
    evaluate("warmup@1.0.0", "warmup", scorers=SCORERS, settings=settings, progress=False, traces=0)
    _write_cases(settings, cases)
    before = psutil.Process().memory_info().rss
    start = time.perf_counter()
    result = evaluate("bench@1.0.0", "bench", scorers=SCORERS, settings=settings, progress=False, traces=25)
    elapsed = time.perf_counter() - start
    mlflow.flush_trace_async_logging()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    client = store_client(settings)  # the project's store: the workbench leaves MLflow's global URI alone
    run = client.get_run(result.run_id)
    artifacts = {a.path: a.file_size for a in client.list_artifacts(result.run_id)}
    table = json.loads(Path(client.download_artifacts(result.run_id, "cases.json", str(settings.home))).read_text())
    assert result.totals()["errors"] == 0 and result.row_count() == cases
    return {
        "cases": cases,
        "seconds": elapsed,
        "run_seconds": result.duration_s,
        "rss_before": before,
        "peak_rss": peak,
        "table_rows": len(table["data"]),
        "table_bytes": artifacts.get("cases.json", 0),
        "parquet_bytes": artifacts.get("results.parquet", 0),
        "metrics": len(run.data.metrics),
        "traces": int(run.data.tags.get("workbench.traces", 0)),
        "table_tag": run.data.tags.get("workbench.table_rows", ""),
    }


def after_run(cases: int) -> dict:
    """Only what follows the model calls, at full size: the record written through `RecordWriter` as the runner
    writes it (rows shaped as the instant model's), then `tracking.log_run` (statistics, Parquet, the capped
    table, traces) on the streamed result. For when the whole run takes too long on a busy machine."""
    import psutil

    from workbench.datasets import load_dataset
    from workbench.prompts import resolve
    from workbench.record import RecordWriter
    from workbench.results import RunResult
    from workbench.tracking import log_run

    settings = make_project(INSTANT_MODEL, 0)
    _write_cases(settings, cases)
    before = psutil.Process().memory_info().rss
    start = time.perf_counter()
    dataset = load_dataset("bench", settings.datasets_dir)
    prompt = resolve("bench@1.0.0", settings.prompts_dir)
    loaded = time.perf_counter()
    writer, calls = RecordWriter(), {}
    for i, case in enumerate(dataset.cases):
        answer = "Paris is the capital of France."
        scores = [
            {"scorer": name, "value": 1.0, "passed": True, "label": None, "reason": None, "error": None}
            for name in SCORERS
        ]
        writer.add(
            {"case_id": case.id, "repeat": 0, "inputs": case.inputs, "output": answer, "error": None,
             "latency_s": 0.0001, "input_tokens": 12, "output_tokens": 6, "cost": 0.0, "cached": False,
             "model": "_project.InstantChatModel", "tags": "", "chunks": None, "guardrails": None,
             "blocked": False, "scores": scores}
        )  # fmt: skip
        if i < 1000:
            calls[(case.id, 0)] = {"messages": prompt.render(case.inputs), "inputs": case.inputs, "started_ns": 0}
    record, spool = writer.close()
    written = time.perf_counter()
    result = RunResult(
        prompt.ref, prompt.hash, dataset.ref, dataset.hash, record, [{"name": n} for n in SCORERS],
        model_calls=cases, calls=calls, spool=spool,
    )  # fmt: skip
    run_id = log_run(result, prompt, dataset, settings, traces=25)
    logged = time.perf_counter()
    return {
        "cases": cases,
        "rss_before": before,
        "peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "load_dataset_s": loaded - start,
        "write_record_s": written - loaded,
        "log_run_s": logged - written,
        "run_id": run_id,
    }


def _write_cases(settings, cases: int) -> None:
    with (settings.datasets_dir / "bench" / "1.jsonl").open("w") as out:  # written line by line, never held
        for i in range(cases):
            row = {
                "id": f"case-{i}",
                "inputs": {"question": f"bench question {i}: what is the capital of France?"},
                "expected": "Paris",
                "checks": {"must_contain": ["Paris"]},
            }
            out.write(json.dumps(row) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # a child process: one size, JSON out
    parser.add_argument("--after-run", type=int, metavar="CASES", help="measure only what follows the model calls")
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    warnings.filterwarnings("ignore")
    os.environ.setdefault("TQDM_DISABLE", "1")
    if args.one:
        print(json.dumps(one(args.one)))
        return
    if args.after_run:
        load = os.getloadavg()[0]
        row = after_run(args.after_run)
        print(
            f"{row['cases']:,} cases, after the model calls only: dataset loaded in {row['load_dataset_s']:.1f} s, "
            f"record written in {row['write_record_s']:.1f} s, log_run {row['log_run_s']:.1f} s; peak RSS "
            f"{row['peak_rss'] / 2**20:.0f} MiB (after imports {row['rss_before'] / 2**20:.0f} MiB)  "
            f"load {load:.1f} -> {os.getloadavg()[0]:.1f}"
        )
        return
    rows = []
    for size in args.sizes:
        load = os.getloadavg()
        out = subprocess.run(
            [sys.executable, __file__, "--one", str(size)], capture_output=True, text=True, check=True
        ).stdout
        row = {**json.loads(out.strip().splitlines()[-1]), "load": (load, os.getloadavg())}
        rows.append(row)
        base = rows[0]["seconds"] / rows[0]["cases"]
        per_case = row["seconds"] / row["cases"]
        print(
            f"{row['cases']:>9,} cases  {row['seconds']:8.1f} s  ({row['cases'] / row['seconds']:6.0f} cases/s, "
            f"{per_case / base:4.2f}x the {rows[0]['cases']:,}-case per-case time)  "
            f"peak RSS {row['peak_rss'] / 2**20:6.0f} MiB ({'<' if row['peak_rss'] < GOAL_RSS else '>='} 2 GiB)  "
            f"MLflow: {row['metrics']} metrics, cases.json {row['table_rows']:,} rows / "
            f"{row['table_bytes'] / 2**20:.1f} MiB, results.parquet {row['parquet_bytes'] / 2**20:.1f} MiB, "
            f"{row['traces']} traces  load {row['load'][0][0]:.1f} -> {row['load'][1][0]:.1f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
