"""The statistics commands of `workbench`: `plan` (cases and repeats a comparison needs), `compare --sequential`
(a group-sequential design: start cases, then batches of new ones until a verdict or the budget) and `ab` (an A/B test on logged traffic)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .cli_args import Command, project_settings
from .errors import WorkbenchError
from .settings import Settings


def add_commands(commands: argparse._SubParsersAction, command: Command) -> None:
    """Register `plan`, and `--sequential` / `--start` / `--batch` / `--max-cases` / `--max-calls` on `compare`."""
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
        help="group-sequential: evaluate --start cases with both versions, then --batch new ones per look, until "
        "a verdict or --max-cases (fewer model calls, the fixed test's power at the budget; not logged to MLflow)",
    )
    compare.add_argument(
        "--start", type=int, default=None, help="cases of the first look with --sequential (default 100)"
    )
    compare.add_argument("--batch", type=int, default=None, help="new cases per look with --sequential (default 50)")
    compare.add_argument(
        "--max-cases",
        type=int,
        default=None,
        help="the budget of cases with --sequential (default 4 x --start; at most the dataset's)",
    )
    compare.add_argument(
        "--max-calls",
        type=int,
        default=None,
        help="the budget as model calls with --sequential, instead of --max-cases (a case costs 2 x --repeats)",
    )
    whole = compare.get_default("handler")
    compare.set_defaults(handler=lambda args: _compare_sequential(args) if args.sequential else _whole(args, whole))


def _whole(args, whole) -> int:
    given = [
        f
        for f, v in (
            ("--start", args.start),
            ("--batch", args.batch),
            ("--max-cases", args.max_cases),
            ("--max-calls", args.max_calls),
        )
        if v is not None
    ]
    if given:
        raise WorkbenchError(f"{', '.join(given)}: only with --sequential (a fixed comparison uses every case)")
    return whole(args)


def _policy(args, settings: Settings):
    from .gate import GatePolicy

    path = args.policy or (settings.root / "gate.yaml" if (settings.root / "gate.yaml").exists() else None)
    return GatePolicy.load(path)


def _plan(args) -> int:
    from .experiment import result_for
    from .stats.planning import plan

    if len(args.refs) > 2:
        raise WorkbenchError("plan takes one pilot run or two ([BASELINE] CANDIDATE)")
    settings = project_settings(args, project=False)  # saved pilot runs need no prompts/ or datasets/
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


def _compare_sequential(args) -> int:
    if len(args.refs) > 2:
        raise WorkbenchError("compare takes [BASELINE] CANDIDATE: at most two references")
    baseline, candidate = (None, args.refs[0]) if len(args.refs) == 1 else args.refs
    settings = project_settings(args)

    def show(look: dict) -> None:
        print(
            f"  {look['cases']:>5} cases  {look['scorer']:<16} diff {look['estimate']:+.3f}  p {look['p']:.2g} "
            f"(level {look['level']:.2g})  bound {look['bound']:+.3f}  {look['verdict']}",
            file=sys.stderr,
        )

    from .experiment import compare_sequential  # loaded by the command that uses it

    result = compare_sequential(
        baseline,
        candidate,
        args.dataset,
        _policy(args, settings),
        settings,
        **{
            k: v
            for k, v in (
                ("batch", args.batch),
                ("start", args.start),
                ("max_cases", args.max_cases),
                ("max_calls", args.max_calls),
            )
            if v is not None
        },
        repeats=args.repeats,
        scorers=args.scorers,
        concurrency=args.concurrency,
        progress=not args.quiet,
        on_look=show,
    )
    print(result.comparison.report(), end="\n\n")
    print(result.report(), end="\n\n")
    print(result.gate.report())
    return result.gate.exit_code


__all__ = ["add_commands"]
