"""One evaluation end to end: resolve, run, log to MLflow, lock the configuration's hash."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import pandas as pd

from .budget import Budget
from .calibration import calibrate
from .compare import Comparison
from .datasets import Dataset, dataset_of, load_dataset
from .errors import WorkbenchError
from .gate import GatePolicy, GateResult, check_gate
from .prompts import lock_hash, production
from .results import RunResult, merge_runs
from .run_context import RunContext
from .scorers import Scorer
from .settings import Settings
from .traces import DEFAULT_TRACES
from .tracking import load_run, log_comparison, log_run


def evaluate(
    prompt_ref: str,
    dataset: str | Dataset,
    scorers: list[Scorer | str | dict] | None = None,
    settings: Settings | None = None,
    concurrency: int | None = None,
    log: bool = True,
    repeats: int = 1,
    seed_offset: int = 0,
    traces: int | None = DEFAULT_TRACES,
    budget: Budget | None = None,
    progress: bool = True,
    cases: list[str] | None = None,
    on_call: Callable[[Mapping[str, Any]], None] | None = None,
) -> RunResult:
    """Run `name@version` over a dataset (a reference, or a `Dataset` already loaded: it is not read again) with
    the given scorers (the defaults when None); `cases`: only these case ids (a shard, a sequential comparison's
    batch); `on_call`: called with each call's record row as it is made.

    `repeats` > 1 runs each case that many times with different seeds, bypassing the cache.
    `traces` is how many cases get an MLflow trace (None: all of them). A `budget` stops the run before
    it spends more; the partial result is kept, logged and marked as stopped. `on_call(row)` sees each call's
    record row as it is made (`metrics.RunMetrics.recorder` feeds Prometheus from it).
    """
    settings = settings or Settings.load()
    dataset = dataset_of(dataset, settings.datasets_dir)
    if cases is not None:
        wanted = set(cases)
        keep = [i for i, case in enumerate(dataset.cases) if case.id in wanted]
        dataset = replace(  # the subset's own hash (`digest=None`: not the whole dataset's, if it was computed)
            dataset,
            cases=[dataset.cases[i] for i in keep],
            lines=[dataset.lines[i] for i in keep if dataset.lines],
            digest=None,
        )
    started = time.time()
    with RunContext.build(
        prompt_ref, settings, scorers, concurrency=concurrency, budget=budget, on_call=on_call
    ) as context:
        result = context.run(dataset, repeats=repeats, seed_offset=seed_offset, progress=progress)
    result.started_at, result.ended_at = started, time.time()  # the MLflow run spans the evaluation
    if log:  # mlflow itself is imported by tracking's functions: only runs that log pay for it
        log_run(result, context.prompt, dataset, settings, traces=traces)
    lock_hash(context.prompt, settings.prompts_dir)
    return result


def result_for(ref: str, dataset_ref: str, settings: Settings, **run_options) -> RunResult:
    """`run:<id>` loads a logged run, `path.parquet` a saved one; `name@version` evaluates it
    (answers come from the cache when nothing changed)."""
    if ref.endswith(".parquet"):
        return _same_dataset(RunResult.load(ref), dataset_ref, ref)
    if ref.startswith("run:"):
        return _same_dataset(load_run(ref.removeprefix("run:"), settings), dataset_ref, ref)
    return evaluate(ref, dataset_ref, settings=settings, **run_options)


def _same_dataset(result: RunResult, dataset_ref: str, source: str) -> RunResult:
    """A saved or logged run must be of the dataset asked for (`name`, or exactly `name@version`); an empty
    reference asks for none (commands that read a run for what it is: review, export)."""
    if not dataset_ref:
        return result
    name, _, version = dataset_ref.partition("@")
    if result.dataset_ref.partition("@")[0] != name or (version and result.dataset_ref != dataset_ref):
        raise WorkbenchError(
            f"{source} ran on {result.dataset_ref}, not {dataset_ref}",
            field="--dataset",
            fix=f"pass --dataset {result.dataset_ref}, or compare runs of the dataset you name",
        )
    return result


def baseline_or_production(baseline: str | None, candidate: str, settings: Settings) -> str:
    """The baseline given, or the production version of the candidate's family (prompts/production.yaml)."""
    if baseline is not None:
        return baseline
    name = candidate.partition("@")[0]
    found = production(name, settings.prompts_dir)
    if found is None:
        raise WorkbenchError(
            f"no production version of '{name}' in {settings.prompts_dir}/production.yaml; "
            f"name a baseline or run: workbench prompts promote {name}@<version>"
        )
    return found


def compare_refs(
    baseline: str | None,
    candidate: str,
    dataset_ref: str,
    policy: GatePolicy | None = None,
    settings: Settings | None = None,
    repeats: int = 1,
    scorers: list | None = None,
    log: bool = True,
    traces: int | None = DEFAULT_TRACES,
    progress: bool = True,
) -> tuple[Comparison, GateResult]:
    """Compare two configuration versions (or logged runs) on one dataset and apply the gate.

    Without a baseline, the production version of the candidate's family is the baseline. With
    `repeats`, the candidate's seeds follow the baseline's, so a version compared with itself
    shows the model's own noise, never the same answers twice.
    """
    settings = settings or Settings.load()
    policy = policy or GatePolicy()
    baseline = baseline_or_production(baseline, candidate, settings)
    options = {"scorers": scorers, "log": log, "repeats": repeats, "traces": traces, "progress": progress}
    base = result_for(baseline, dataset_ref, settings, **options)
    cand = result_for(candidate, dataset_ref, settings, **options, seed_offset=repeats if repeats > 1 else 0)
    if base.dataset_hash != cand.dataset_hash:
        raise WorkbenchError(
            f"{baseline} ran on {base.dataset_ref} ({base.dataset_hash[:12]}) and {candidate} on "
            f"{cand.dataset_ref} ({cand.dataset_hash[:12]})",
            field="--dataset",
            fix="compare two runs of the same dataset version",
        )
    comparison = policy.compare(base, cand)
    gate = check_gate(comparison, policy, calibrate_judges(cand, policy, settings))
    if log:
        log_comparison(comparison, gate, settings)
    return comparison, gate


def calibrate_judges(run: RunResult, policy: GatePolicy, settings: Settings) -> dict[str, tuple[float, float, float]]:
    """Cohen's kappa and its 95% bootstrap interval (kappa, low, high) of each judge the policy names and the run
    used, on the policy's labeled set."""
    kappas = {}
    for spec in run.scorers:
        requirement = policy.judges.get(spec["name"])
        if requirement is not None:
            report = calibrate(
                spec,
                settings.root / requirement.labels,
                pass_at=requirement.pass_at,
                threshold=requirement.threshold,
                settings=settings,
            )
            m = report.metrics
            kappas[spec["name"]] = (float(m["kappa"]), float(m["kappa_low"]), float(m["kappa_high"]))
    return kappas


DEFAULT_START, DEFAULT_BATCH = 100, 50  # the budget: 4 x start unless given


@dataclass
class SequentialComparison:
    """What `compare --sequential` did: the comparison of the cases it evaluated, the gate, each look."""

    comparison: Any
    gate: Any
    looks: pd.DataFrame  # one row per look x critical scorer
    cases_total: int  # in the dataset
    budget: int = 0  # the most cases the design could evaluate (its max_cases, at most the dataset's)
    model_calls: int = 0
    stopped_early: bool = False
    repeats: int = 1  # per case and version

    def report(self) -> str:
        used = int(self.looks["cases"].max()) if len(self.looks) else 0
        head = (
            f"sequential: {used} of {self.budget} cases (the budget; the dataset has {self.cases_total}) evaluated "
            f"with both versions{' (stopped early: every critical scorer decided)' if self.stopped_early else ''}; "
            f"{self.model_calls} model calls{f' ({self.repeats} repeats per case)' if self.repeats > 1 else ''}"
        )
        table = self.looks.to_string(
            index=False, formatters={"p": "{:.2g}".format, "level": "{:.2g}".format}, float_format=lambda x: f"{x:+.3f}"
        )
        return f"{head}\n{table}"


def compare_sequential(
    baseline: str | None,
    candidate: str,
    dataset_ref: str,
    policy: Any,
    settings: Settings,
    batch: int = DEFAULT_BATCH,
    start: int = DEFAULT_START,
    max_cases: int | None = None,
    scorers: list | None = None,
    seed: int = 0,
    concurrency: int | None = None,
    progress: bool = False,
    on_look: Callable[[dict], None] | None = None,
    repeats: int = 1,
    max_calls: int | None = None,
) -> SequentialComparison:
    """A group-sequential comparison (`stats.sequential.Design`): `start` cases of the dataset (in a seeded random
    order) with both versions, then `batch` new ones per look, until every critical scorer is decided (or one
    regressed) or the budget is spent; undecided is inconclusive. The budget: `max_cases` (default 4 x start;
    at most the dataset), or `max_calls` model calls (each case costs 2 x `repeats`: both versions, every
    repeat). With repeats, a case's score is the mean of its repeats, so the case stays the unit of every test."""
    from .stats.sequential import CONTINUE, REGRESSED, Design, SequentialState  # scipy, loaded when used

    if max_calls is not None:
        if max_cases is not None:
            raise WorkbenchError(
                "a budget of cases and one of calls", field="--max-calls", fix="give --max-cases or --max-calls"
            )
        if max_calls < 1:
            raise WorkbenchError(f"{max_calls} is not a number of calls; give a positive number", field="--max-calls")
        max_cases = max_calls // (2 * repeats)
        if max_cases < start:
            raise WorkbenchError(
                f"{max_calls} calls pay for {max_cases} cases (2 x {repeats} calls each), fewer than --start {start}",
                field="--max-calls",
                fix=f"give at least {2 * repeats * start} calls, or a smaller --start",
            )
    max_cases = 4 * start if max_cases is None else max_cases
    for name, value in (("--start", start), ("--batch", batch), ("--max-cases", max_cases), ("--repeats", repeats)):
        if value < 1:
            raise WorkbenchError(f"{value} is not a positive number", field=name, fix="give a positive number")
    if max_cases < start:
        raise WorkbenchError(
            f"{max_cases} is below --start {start}", field="--max-cases", fix="give a budget of at least the start"
        )
    baseline = baseline_or_production(baseline, candidate, settings)
    for ref in (baseline, candidate):
        if ref.startswith("run:") or ref.endswith(".parquet"):
            raise WorkbenchError(
                f"--sequential: '{ref}' is a finished run; a sequential comparison evaluates "
                "configuration versions (name@version) batch by batch"
            )
    dataset = load_dataset(dataset_ref, settings.datasets_dir)
    if not dataset.cases:
        raise WorkbenchError(f"--sequential: the dataset {dataset_ref} has no cases", field="--dataset")
    order = [c.id for c in dataset.cases]
    random.Random(seed).shuffle(order)
    budget = min(max_cases, len(order))
    ends = Design(start, batch, budget).looks.tolist()
    runs: dict[str, list] = {"baseline": [], "candidate": []}
    states: dict[str, SequentialState] = {}
    looks, stopped, done = [], False, 0
    for k, end in enumerate(ends):
        ids = order[done:end]
        for side, ref in (("baseline", baseline), ("candidate", candidate)):
            runs[side].append(
                evaluate(
                    ref,
                    dataset_ref,
                    scorers=scorers,
                    settings=settings,
                    log=False,
                    progress=progress,
                    concurrency=concurrency,
                    cases=ids,
                    repeats=repeats,
                    seed_offset=repeats if side == "candidate" and repeats > 1 else 0,  # as compare_refs does
                )
            )
        done = end
        base, cand = (merge_runs(runs[side], dataset.hash) for side in ("baseline", "candidate"))
        b_scores, c_scores = base.case_scores(), cand.case_scores()
        critical = [s for s in cand.scorer_names if s in b_scores and (policy.critical is None or s in policy.critical)]
        for name in critical:
            design = Design(
                start,
                batch,
                budget,
                policy.alpha,
                policy.min_effect_by_scorer.get(name, policy.min_effect),
                len(critical),
            )
            state = states.setdefault(name, SequentialState(design))
            if state.decided is not None:
                continue  # decided at an earlier look: its verdict stands
            look = dict(state.add(b_scores[name].reindex(ids).to_numpy(), c_scores[name].reindex(ids).to_numpy(), k))
            look.update(scorer=name, cases=end)
            looks.append(look)
            if on_look:
                on_look(look)
        verdicts = [states[n].look()["verdict"] for n in critical]
        if end < budget and critical and (REGRESSED in verdicts or CONTINUE not in verdicts):
            stopped = True
            break
    comparison = policy.compare(base, cand)
    latest = {name: dict(state.look()) for name, state in states.items()}
    for scorer, look in latest.items():
        look["degraded"] = int(comparison.table.loc[scorer, "degraded"]) if scorer in comparison.table.index else None
    gate = check_gate(comparison, policy, sequential=latest)
    columns = ["cases", "scorer", "n", "estimate", "bound", "p", "level", "verdict"]
    frame = pd.DataFrame(looks)[columns] if looks else pd.DataFrame(columns=columns)
    calls = base.model_calls + cand.model_calls
    return SequentialComparison(comparison, gate, frame, len(order), budget, calls, stopped, repeats)
