"""Runner overhead: cases per second with an instant model, three cheap scorers and MLflow logging on,
against mlflow.genai.evaluate on the same cases and scorers, measured in the same run.

    .venv/bin/python benchmarks/runner_overhead.py [--cases 2000] [--mlflow-cases 200] [--rounds 5]

Each round also times a fixed pure-Python loop (the reference): this machine kind's host is shared, and its
speed swings by up to 2x within minutes at a load average under 1. Each measured run starts after a full garbage
collection: without it, a full collection of what earlier rounds left (0.36-0.44 s over 800,000 objects) fell
into a third of the measured runs; a run still pays for every collection its own objects cause.
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import statistics
import time
import warnings

from _project import INSTANT_MODEL, InstantChatModel, make_project

SCORERS = ["exact_match", "contains", "case_checks"]


def reference_s() -> float:
    """Seconds a fixed pure-Python loop takes: how fast the machine is at the time (a busy host slows it)."""
    start, total = time.perf_counter(), 0
    for i in range(3_000_000):
        total += i * i
    return time.perf_counter() - start


def ours(cases: int, traces: int) -> tuple[float, float, float]:
    """Cases per second until the results, the run and its traces are in the MLflow store; and the seconds of
    that spent in the calls (the evaluation) and in logging."""
    from workbench.experiment import evaluate

    settings = make_project(INSTANT_MODEL, cases)
    make_project(INSTANT_MODEL, 20, name="warmup", root=settings.root)
    # Warm-up: imports, the MLflow store's tables, the experiment; then a run whose cases are not cached.
    evaluate("warmup@1.0.0", "warmup", scorers=SCORERS, settings=settings, progress=False, traces=0)
    gc.collect()
    start = time.perf_counter()
    result = evaluate("bench@1.0.0", "bench", scorers=SCORERS, settings=settings, progress=False, traces=traces)
    elapsed = time.perf_counter() - start
    assert result.totals()["errors"] == 0 and result.run_id and result.model_calls == cases
    return cases / elapsed, result.duration_s, elapsed - result.duration_s


def mlflow_genai(cases: int) -> float:
    import mlflow
    from mlflow.genai.scorers import scorer

    settings = make_project(INSTANT_MODEL, 1)
    mlflow.set_tracking_uri(f"sqlite:///{settings.home}/mlflow.db")
    settings.home.mkdir(parents=True, exist_ok=True)
    mlflow.set_experiment(
        experiment_id=mlflow.create_experiment(
            "genai-baseline", artifact_location=(settings.home / "artifacts").as_uri()
        )
    )  # not ./mlruns
    model = InstantChatModel()

    def predict(question: str) -> str:
        return model.invoke([("system", "Answer briefly."), ("user", question)]).content

    @scorer
    def exact_match(outputs, expectations) -> bool:
        return outputs.strip().casefold() == expectations["expected"].casefold()

    @scorer
    def contains(outputs, expectations) -> bool:
        return expectations["expected"].casefold() in outputs.casefold()

    @scorer
    def case_checks(outputs, expectations) -> bool:
        return all(t.casefold() in outputs.casefold() for t in expectations["must_contain"])

    data = [
        {
            "inputs": {"question": f"Question number {i}: what is the capital of France?"},
            "expectations": {"expected": "Paris", "must_contain": ["Paris"]},
        }
        for i in range(cases)
    ]
    gc.collect()
    start = time.perf_counter()
    mlflow.genai.evaluate(data=data, predict_fn=predict, scorers=[exact_match, contains, case_checks])
    return cases / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=2000)
    parser.add_argument("--mlflow-cases", type=int, default=200, help="rows for mlflow.genai.evaluate (it is slow)")
    parser.add_argument("--rounds", type=int, default=5, help="runs of each workbench measurement (median shown)")
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    warnings.filterwarnings("ignore")
    os.environ.setdefault("TQDM_DISABLE", "1")
    load = os.getloadavg()[0]
    logged, untraced, reference = [], [], []
    for _ in range(args.rounds):  # alternated, so a slow spell of the machine touches both
        reference.append(reference_s())
        logged.append(ours(args.cases, traces=25))
        untraced.append(ours(args.cases, traces=0))
        (rate, calls, log), (bare, _, bare_log) = logged[-1], untraced[-1]
        print(
            f"  round: {rate:6.0f} cases/s with 25 traces (calls {calls:.2f} s, logging {log:.2f} s), "
            f"{bare:6.0f} without (logging {bare_log:.2f} s); reference loop {reference[-1]:.2f} s",
            flush=True,
        )
    theirs = mlflow_genai(args.mlflow_cases)
    rates, bare_rates = [r[0] for r in logged], [r[0] for r in untraced]
    rate = statistics.median(rates)
    print(
        f"workbench runner:      {args.cases} cases, {rate:8.1f} cases/s, run logged with 25 traces "
        f"(median of {args.rounds}, {min(rates):.0f}-{max(rates):.0f}; goal >= 1000)"
    )
    print(
        f"workbench runner:      {args.cases} cases, {statistics.median(bare_rates):8.1f} cases/s, no traces "
        f"(median of {args.rounds}, {min(bare_rates):.0f}-{max(bare_rates):.0f})"
    )
    print(f"mlflow.genai.evaluate: {args.mlflow_cases} cases, {theirs:8.1f} cases/s (traces every row)")
    print(f"ratio: {rate / theirs:.1f}x mlflow.genai.evaluate  load {load:.2f} -> {os.getloadavg()[0]:.2f}")
    print(
        f"reference loop: median {statistics.median(reference):.2f} s ({min(reference):.2f}-{max(reference):.2f}): "
        "rounds compare only at similar values"
    )


if __name__ == "__main__":
    main()
