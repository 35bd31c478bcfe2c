"""Runner overhead: cases per second with an instant model, three cheap scorers and MLflow logging on,
against mlflow.genai.evaluate on the same cases and scorers, measured in the same run.

    .venv/bin/python benchmarks/runner_overhead.py [--cases 2000] [--mlflow-cases 200] [--rounds 5]
    .venv/bin/python benchmarks/runner_overhead.py --against 39821e9 [--rounds 8]

`--against REV` is the same measurement of this tree and of the code at a git revision (exported to a
temporary folder), one process per tree per round, alternated: a figure recorded on another day met
another host speed, but two trees measured in the same minutes met the same one.

Each round also times a fixed pure-Python loop (the reference): this machine kind's host is shared, and its
speed swings by up to 2x within minutes at a load average under 1. Each measured run starts after a full garbage
collection: without it, a full collection of what earlier rounds left (0.36-0.44 s over 800,000 objects) fell
into a third of the measured runs; a run still pays for every collection its own objects cause.
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import warnings
from pathlib import Path

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
    import mlflow
    from _project import INSTANT_MODEL, make_project  # imports workbench: after --child chose which one

    from workbench.experiment import evaluate

    settings = make_project(INSTANT_MODEL, cases)
    make_project(INSTANT_MODEL, 20, name="warmup", root=settings.root)
    # Warm-up: imports, the MLflow store's tables, the experiment; then a run whose cases are not cached.
    evaluate("warmup@1.0.0", "warmup", scorers=SCORERS, settings=settings, progress=False, traces=0)
    gc.collect()
    start = time.perf_counter()
    result = evaluate("bench@1.0.0", "bench", scorers=SCORERS, settings=settings, progress=False, traces=traces)
    mlflow.flush_trace_async_logging()  # older code queued traces for a background export: count it too
    elapsed = time.perf_counter() - start
    assert result.totals()["errors"] == 0 and result.run_id and result.model_calls == cases
    return cases / elapsed, result.duration_s, elapsed - result.duration_s


def mlflow_genai(cases: int) -> float:
    import mlflow
    from _project import INSTANT_MODEL, InstantChatModel, make_project
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


def export_tree(repo: Path, rev: str, into: Path) -> Path:
    """The code of `repo` at git revision `rev`, written under `into` (a plain copy: no worktree to clean up)."""
    archive = into / "tree.tar"
    git = subprocess.run(["git", "-C", str(repo), "archive", "-o", str(archive), rev], capture_output=True, text=True)
    if git.returncode != 0:
        raise SystemExit(f"--against {rev}: {git.stderr.strip()}")
    with tarfile.open(archive) as tar:
        tar.extractall(into / "tree", filter="data")
    return into / "tree"


def one_round(root: Path, cases: int) -> dict[str, float]:
    """One round for the code under `root`, in a fresh process whose `workbench` is imported from there."""
    out = subprocess.run(
        [sys.executable, __file__, "--cases", str(cases), "--child", str(root)], capture_output=True, text=True
    )
    if out.returncode != 0:
        raise SystemExit(f"the round for {root} failed (exit {out.returncode}):\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.splitlines()[-1])


def against(rev: str, rounds: int, cases: int) -> None:
    """This tree and the code at `rev`, alternated round by round; medians and their ratio."""
    here = Path(__file__).resolve().parent.parent
    with tempfile.TemporaryDirectory() as tmp:
        trees = {"this tree": here, rev: export_tree(here, rev, Path(tmp))}
        figures: dict[str, list[dict[str, float]]] = {name: [] for name in trees}
        for i in range(rounds):
            for name in sorted(trees, reverse=bool(i % 2)):  # alternated, so a slow spell touches both
                figures[name].append(one_round(trees[name], cases))
                f = figures[name][-1]
                print(
                    f"  {name:>10}: {f['logged']:6.0f} cases/s with 25 traces, {f['bare']:6.0f} without; "
                    f"reference loop {f['reference']:.2f} s",
                    flush=True,
                )
    medians = {
        name: {key: statistics.median(f[key] for f in rows) for key in ("logged", "bare", "reference")}
        for name, rows in figures.items()
    }
    for name, m in medians.items():
        print(
            f"{name:>10}: {m['logged']:7.1f} cases/s with 25 traces, {m['bare']:7.1f} without "
            f"(median of {rounds}; reference loop {m['reference']:.2f} s)"
        )
    ours_m, theirs_m = medians["this tree"], medians[rev]
    print(
        f"ratio: {ours_m['logged'] / theirs_m['logged']:.2f}x {rev} with 25 traces, "
        f"{ours_m['bare'] / theirs_m['bare']:.2f}x without"
    )


def child(root: str, cases: int) -> None:
    """One round of this tree's measurement for the code under `root`, as a JSON line."""
    sys.path.insert(0, root)
    import workbench

    assert Path(workbench.__file__).is_relative_to(root), f"workbench imported from {workbench.__file__}"
    reference = reference_s()
    (logged, _, _), (bare, _, _) = ours(cases, traces=25), ours(cases, traces=0)
    print(json.dumps({"logged": logged, "bare": bare, "reference": reference}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=2000)
    parser.add_argument("--mlflow-cases", type=int, default=200, help="rows for mlflow.genai.evaluate (it is slow)")
    parser.add_argument("--rounds", type=int, default=5, help="runs of each workbench measurement (median shown)")
    parser.add_argument("--against", metavar="REV", help="measure against the code at this git revision instead")
    parser.add_argument("--child", metavar="ROOT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    warnings.filterwarnings("ignore")
    os.environ.setdefault("TQDM_DISABLE", "1")
    if args.child:
        return child(args.child, args.cases)
    if args.against:
        return against(args.against, args.rounds, args.cases)
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
