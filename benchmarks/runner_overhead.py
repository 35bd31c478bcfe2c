"""Runner overhead: cases per second with an instant model, three cheap scorers and MLflow logging on,
against mlflow.genai.evaluate on the same cases and scorers, measured in the same run.

    .venv/bin/python benchmarks/runner_overhead.py [--cases 2000] [--mlflow-cases 200]
"""

from __future__ import annotations

import argparse
import logging
import os
import time
import warnings

from _project import INSTANT_MODEL, InstantChatModel, make_project

SCORERS = ["exact_match", "contains", "case_checks"]


def ours(cases: int, traces: int | None) -> tuple[float, float]:
    """Cases per second until the results and the run are logged, and until the traces are exported too."""
    import mlflow

    from workbench.experiment import evaluate

    settings = make_project(INSTANT_MODEL, cases)
    make_project(INSTANT_MODEL, 20, name="warmup", root=settings.root)
    # Warm-up: imports, the MLflow store's tables, the experiment; then a run whose cases are not cached.
    evaluate("warmup@1.0.0", "warmup", scorers=SCORERS, settings=settings, progress=False, traces=0)
    start = time.perf_counter()
    result = evaluate("bench@1.0.0", "bench", scorers=SCORERS, settings=settings, progress=False, traces=traces)
    elapsed = time.perf_counter() - start
    mlflow.flush_trace_async_logging()  # traces export in MLflow's background queue; count that time too
    flushed = time.perf_counter() - start
    assert result.totals()["errors"] == 0 and result.run_id and result.model_calls == cases
    return cases / elapsed, cases / flushed


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
    start = time.perf_counter()
    mlflow.genai.evaluate(data=data, predict_fn=predict, scorers=[exact_match, contains, case_checks])
    return cases / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=2000)
    parser.add_argument("--mlflow-cases", type=int, default=200, help="rows for mlflow.genai.evaluate (it is slow)")
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    warnings.filterwarnings("ignore")
    os.environ.setdefault("TQDM_DISABLE", "1")
    ours_rate, exported = ours(args.cases, traces=25)
    untraced, _ = ours(args.cases, traces=0)
    theirs = mlflow_genai(args.mlflow_cases)
    print(
        f"workbench runner:      {args.cases} cases, {ours_rate:8.1f} cases/s, run logged, 25 traces queued (goal >= 1000)"
    )
    print(f"workbench runner:      {args.cases} cases, {exported:8.1f} cases/s, 25 traces exported too")
    print(f"workbench runner:      {args.cases} cases, {untraced:8.1f} cases/s, no traces")
    print(f"mlflow.genai.evaluate: {args.mlflow_cases} cases, {theirs:8.1f} cases/s (traces every row)")
    print(f"ratio: {ours_rate / theirs:.1f}x mlflow.genai.evaluate ({exported / theirs:.1f}x counting trace export)")


if __name__ == "__main__":
    main()
