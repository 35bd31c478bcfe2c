"""The statistics commands of `workbench`: `plan` (cases and repeats a comparison needs), `compare --sequential`
(cases in batches, both versions, stopping at the first certain verdict) and `ab` (an A/B test on logged traffic)."""

from __future__ import annotations

import argparse
import random
import sys
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import WorkbenchError
from .settings import Settings

if TYPE_CHECKING:
    import pandas as pd

Command = Callable[..., argparse.ArgumentParser]
DEFAULT_BATCH = 10


def add_commands(commands: argparse._SubParsersAction, command: Command) -> None:
    """Register `plan`, and `--sequential` / `--batch` on `compare`."""
    plan = command(
        "plan",
        _plan,
        "from a pilot run (or two), the cases (and repeats) a comparison needs to detect a "
        "given drop with a given power",
        commands,
    )
    plan.add_argument(
        "refs",
        nargs="+",
        metavar="REF",
        help="[BASELINE] CANDIDATE, or one run: name@version, run:<id> or a saved .parquet",
    )
    plan.add_argument("--dataset", required=True, help="the pilot dataset: name or name@version")
    plan.add_argument("--effect", type=float, help="the drop to detect (default: the policy's min_effect, else 0.05)")
    plan.add_argument("--power", type=float, help="default: the policy's (0.8)")
    plan.add_argument(
        "--policy", type=Path, help="gate policy YAML for alpha and the critical family (default: gate.yaml)"
    )
    plan.add_argument("--scorer", action="append", dest="scorers", help="scorer name or module:factory (repeatable)")
    plan.add_argument(
        "--repeats", type=int, default=1, help="repeats of the pilot runs (more than 1: plans repeats too)"
    )
    plan.add_argument("--plot", type=Path, help="write the power curves to this PNG")
    plan.add_argument("--log", action="store_true", help="log the pilot runs to MLflow")
    plan.add_argument("--tracking-uri", help="MLflow tracking URI")
    plan.add_argument("--quiet", action="store_true", help="no progress bar")
    ab = command(
        "ab",
        _ab,
        "A/B test of two variants on logged traffic: each KPI's test, interval and MDE, the "
        "scorecard's decision, and the daily sequential read-out",
        commands,
    )
    ab.add_argument("traffic", type=Path, help="a traffic JSONL whose rows carry `variant` and the KPIs")
    ab.add_argument("--control", default="A")
    ab.add_argument("--treatment", default="B")
    ab.add_argument("--alpha", type=float, default=0.05)
    compare = commands.choices["compare"]
    compare.add_argument(
        "--sequential",
        action="store_true",
        help="evaluate cases in batches (both versions) and stop at the first certain verdict "
        "(anytime-valid test; fewer model calls; the batches are not logged to MLflow)",
    )
    compare.add_argument(
        "--batch", type=int, default=DEFAULT_BATCH, help=f"cases per batch with --sequential (default {DEFAULT_BATCH})"
    )
    whole = compare.get_default("handler")
    compare.set_defaults(handler=lambda args: _compare_sequential(args) if args.sequential else whole(args))


def _settings(args) -> Settings:
    return Settings.load(
        root=args.root, tracking_uri=getattr(args, "tracking_uri", None), cache=not getattr(args, "no_cache", False)
    )


def _policy(args, settings: Settings):
    from .gate import GatePolicy

    path = args.policy or (settings.root / "gate.yaml" if (settings.root / "gate.yaml").exists() else None)
    return GatePolicy.load(path)


def _plan(args) -> int:
    from .experiment import result_for
    from .stats.planning import plan

    if len(args.refs) > 2:
        raise WorkbenchError("plan takes one pilot run or two ([BASELINE] CANDIDATE)")
    settings = _settings(args)
    policy = _policy(args, settings)
    options = {"scorers": args.scorers, "log": args.log, "repeats": args.repeats, "progress": not args.quiet}
    runs = [
        result_for(ref, args.dataset, settings, **options, seed_offset=args.repeats * i if args.repeats > 1 else 0)
        for i, ref in enumerate(args.refs)
    ]
    effect = args.effect or policy.min_effect or 0.05
    try:
        result = plan(
            runs[0],
            runs[1] if len(runs) > 1 else None,
            effect=effect,
            power=args.power or policy.power,
            alpha=policy.alpha,
            family=policy.critical,
        )
    except ValueError as exc:
        raise WorkbenchError(f"--effect: {exc}") from None
    print(result.report())
    if args.plot:
        from .stats_plots import power_curve

        args.plot.parent.mkdir(parents=True, exist_ok=True)
        power_curve(result).savefig(args.plot, dpi=100)
        print(f"power curves written to {args.plot}", file=sys.stderr)
    return 0


def _ab(args) -> int:
    from .drift.traffic import load_traffic
    from .stats.ab import analyse, sequential_readout

    traffic = load_traffic(args.traffic)
    result = analyse(traffic, args.control, args.treatment, alpha=args.alpha)
    print(result.report(), end="\n\n")
    readout = sequential_readout(traffic, args.control, args.treatment, alpha=args.alpha)
    days = readout.pivot(index="period", columns="kpi", values="verdict")
    days.index = [str(p)[:10] for p in days.index]
    print("sequential read-out (anytime-valid, per day):\n" + days.to_string())
    return 0


@dataclass
class SequentialComparison:
    """What `compare --sequential` did: the comparison of the cases it evaluated, the gate, each look."""

    comparison: Any
    gate: Any
    looks: pd.DataFrame  # one row per batch x critical scorer
    cases_total: int
    model_calls: int = 0
    stopped_early: bool = False
    history: list[dict[str, Any]] = field(default_factory=list)

    def report(self) -> str:
        used = int(self.looks["cases"].max()) if len(self.looks) else 0
        head = (
            f"sequential: {used} of {self.cases_total} cases evaluated with both versions"
            f"{' (stopped early: the verdict was certain)' if self.stopped_early else ''}; "
            f"{self.model_calls} model calls"
        )
        table = self.looks.to_string(index=False, float_format=lambda x: f"{x:+.3f}")
        return f"{head}\n{table}"


def compare_sequential(
    baseline: str | None,
    candidate: str,
    dataset_ref: str,
    policy: Any,
    settings: Settings,
    batch: int = DEFAULT_BATCH,
    scorers: list | None = None,
    seed: int = 0,
    concurrency: int | None = None,
    progress: bool = False,
    on_look: Callable[[dict], None] | None = None,
) -> SequentialComparison:
    """Evaluate the dataset's cases in a seeded random order, `batch` at a time with both versions, and stop when
    every critical scorer is decided (or one regressed); the anytime-valid test keeps the false alarm rate at alpha."""
    import pandas as pd  # loaded by the commands that use it, so `workbench --help` starts fast

    from .datasets import load_dataset
    from .experiment import baseline_or_production, evaluate
    from .gate import check_gate
    from .stats.sequential import CONTINUE, REGRESSED, SequentialState

    if batch < 1:
        raise WorkbenchError(f"--batch: {batch} is not a batch size; give a positive number of cases")
    baseline = baseline_or_production(baseline, candidate, settings)
    for ref in (baseline, candidate):
        if ref.startswith("run:") or ref.endswith(".parquet"):
            raise WorkbenchError(
                f"--sequential: '{ref}' is a finished run; a sequential comparison evaluates "
                "configuration versions (name@version) batch by batch"
            )
    dataset = load_dataset(dataset_ref, settings.datasets_dir)
    order = [c.id for c in dataset.cases]
    random.Random(seed).shuffle(order)
    runs: dict[str, list] = {"baseline": [], "candidate": []}
    states: dict[str, SequentialState] = {}
    looks, stopped = [], False
    for start in range(0, len(order), batch):
        ids = order[start : start + batch]
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
                )
            )
        base, cand = (_merge(runs[side], dataset.hash) for side in ("baseline", "candidate"))
        b_scores, c_scores = base.case_scores(), cand.case_scores()
        critical = [s for s in cand.scorer_names if s in b_scores and (policy.critical is None or s in policy.critical)]
        family = max(len(critical), 1)
        for name in critical:
            effect = policy.min_effect_by_scorer.get(name, policy.min_effect)
            state = states.setdefault(name, SequentialState(policy.alpha / family, effect))
            pair = pd.concat([b_scores[name].reindex(ids), c_scores[name].reindex(ids)], axis=1)
            look = state.add((pair.iloc[:, 1] - pair.iloc[:, 0]).to_numpy())
            done = pd.concat([b_scores[name], c_scores[name]], axis=1, join="inner").dropna()
            look.update(
                scorer=name,
                cases=start + len(ids),
                baseline=float(done.iloc[:, 0].mean()),
                candidate=float(done.iloc[:, 1].mean()),
            )
            looks.append(look)
            if on_look:
                on_look(look)
        latest = {look["scorer"]: look for look in looks}
        verdicts = [latest[n]["verdict"] for n in critical]
        if start + batch < len(order) and critical and (REGRESSED in verdicts or CONTINUE not in verdicts):
            stopped = True
            break
    comparison = policy.compare(base, cand)
    latest = {look["scorer"]: look for look in looks}
    for name, look in latest.items():
        look["degraded"] = int(comparison.table.loc[name, "degraded"]) if name in comparison.table.index else None  # type: ignore[assignment]
    gate = check_gate(comparison, policy, sequential=latest)  # type: ignore[arg-type]
    frame = (
        pd.DataFrame(looks)[["cases", "scorer", "n", "estimate", "low", "high", "p", "verdict"]]
        if looks
        else pd.DataFrame(columns=["cases", "scorer", "n", "estimate", "low", "high", "p", "verdict"])
    )
    return SequentialComparison(comparison, gate, frame, len(order), base.model_calls + cand.model_calls, stopped)


def _merge(runs: list, dataset_hash: str):
    """Batches of one version as one run over the cases evaluated so far (on the whole dataset's hash)."""
    import pandas as pd  # as above

    first = runs[0]
    return replace(
        first,
        dataset_hash=dataset_hash,
        record=pd.concat([r.record for r in runs], ignore_index=True),
        model_calls=sum(r.model_calls for r in runs),
        duration_s=sum(r.duration_s for r in runs),
        calls={k: v for r in runs for k, v in r.calls.items()},
    )


def _compare_sequential(args) -> int:
    if len(args.refs) > 2:
        raise WorkbenchError("compare takes [BASELINE] CANDIDATE: at most two references")
    if args.repeats != 1:
        raise WorkbenchError("--sequential: --repeats is not supported; a sequential comparison asks each case once")
    baseline, candidate = (None, args.refs[0]) if len(args.refs) == 1 else args.refs
    settings = _settings(args)

    def show(look: dict) -> None:
        print(
            f"  {look['cases']:>5} cases  {look['scorer']:<16} diff {look['estimate']:+.3f}  anytime CI "
            f"[{look['low']:+.3f}, {look['high']:+.3f}]  {look['verdict']}",
            file=sys.stderr,
        )

    result = compare_sequential(
        baseline,
        candidate,
        args.dataset,
        _policy(args, settings),
        settings,
        batch=args.batch,
        scorers=args.scorers,
        concurrency=args.concurrency,
        progress=not args.quiet,
        on_look=show,
    )
    print(result.comparison.report(), end="\n\n")
    print(result.report(), end="\n\n")
    print(result.gate.report())
    return result.gate.exit_code


__all__ = ["SequentialComparison", "add_commands", "compare_sequential"]
