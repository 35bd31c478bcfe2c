"""What logging a run to MLflow costs, and what attaching every score to its trace adds: scores added to the
trace before it ends (ours) against `mlflow.log_feedback` per score after the traces are exported (MLflow's
public way), measured in the same run on a local SQLite store.

    .venv/bin/python benchmarks/mlflow_logging.py [--cases 100] [--traces 25] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

from _project import INSTANT_MODEL, make_project

SCORERS: list = ["exact_match", "contains", "case_checks"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100)
    parser.add_argument("--traces", type=int, default=25)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    import mlflow
    from mlflow.entities import AssessmentSource

    from workbench import traces
    from workbench.datasets import load_dataset
    from workbench.experiment import evaluate
    from workbench.mlflow_store import client, scope
    from workbench.prompts import resolve
    from workbench.tracking import log_run

    settings = make_project(INSTANT_MODEL, args.cases)
    result = evaluate("bench@1.0.0", "bench", scorers=SCORERS, settings=settings, progress=False, log=False)
    prompt, dataset = resolve("bench@1.0.0", settings.prompts_dir), load_dataset("bench", settings.datasets_dir)
    log_run(result, prompt, dataset, settings, traces=0)  # warm-up: imports, tables, experiment, prompt

    def ours() -> None:
        log_run(result, prompt, dataset, settings, traces=args.traces)
        mlflow.flush_trace_async_logging()

    def without() -> str:
        real, traces._assess = traces._assess, lambda trace_id, scores: None
        try:
            run_id = log_run(result, prompt, dataset, settings, traces=args.traces)
        finally:
            traces._assess = real
        mlflow.flush_trace_async_logging()
        return run_id

    def public_api() -> None:
        run_id = without()
        store = client(settings)
        experiment = store.get_run(run_id).info.experiment_id
        found = store.search_traces(locations=[experiment], run_id=run_id, max_results=1000)
        record = result.record.set_index(["case_id", "repeat"])
        with scope(settings):
            for trace in found:
                key = (trace.info.tags["workbench.case_id"], int(trace.info.tags["workbench.repeat"]))
                for score in record.loc[key, "scores"]:
                    mlflow.log_feedback(
                        trace_id=trace.info.trace_id,
                        name=score["scorer"],
                        value=traces.assessment_value(score),
                        rationale=score["reason"] or None,
                        source=AssessmentSource(source_type="CODE", source_id=f"workbench:{score['scorer']}"),
                    )

    timings: dict[str, list[float]] = {"no assessments": [], "ours": [], "log_feedback per score": []}
    for _ in range(args.repeats):  # interleaved, so load changes hit every variant alike
        for name, job in (("no assessments", without), ("ours", ours), ("log_feedback per score", public_api)):
            start = time.perf_counter()
            job()
            timings[name].append(time.perf_counter() - start)
    base = statistics.median(timings["no assessments"])
    print(f"{args.cases} cases, {args.traces} traces x {len(SCORERS)} scorers; load average {os.getloadavg()}")
    print("| logging a run (traces exported) | median s | vs no assessments |\n|---|---|---|")
    for name, values in timings.items():
        median = statistics.median(values)
        print(f"| {name} | {median:.2f} | {median / base:.2f}x |")


if __name__ == "__main__":
    main()
