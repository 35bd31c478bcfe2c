"""The `workbench` command line, and the one place where exceptions become exit codes.

Exit codes: 0 pass, 1 regression (only from a gate verdict), 2 bad input, 3 infrastructure failure,
130 interrupted. No traceback reaches the terminal: an unexpected exception is one line and a saved file.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import sys
import tempfile
import time
import traceback
import warnings
from pathlib import Path

from . import cli_assets, cli_ops, cli_review, cli_stats
from .cli_args import fraction, positive, project_settings, shard, workers
from .errors import Exit, Failure, WorkbenchError
from .metrics import add_options, published
from .settings import Settings, is_project

DEMO_BASELINE, DEMO_CANDIDATE = "support@1.0.0", "support@1.1.0"
# The demo's scorers: the case's facts (the gate's critical scorer), meaning and words of the reference answer
# (partial credit), conciseness (the model runs on to max_tokens), and the gate's guardrail. Exact match and
# containment of a whole reference sentence are 0 for this model on both versions (benchmarks/RESULTS.md).
DEMO_SCORERS = [
    "case_checks",
    "semantic_similarity",
    "token_recall",
    {"name": "length_bounds", "args": {"max_words": 50}},
    "forbidden_terms",
]


def main(argv: list[str] | None = None) -> int:
    with warnings.catch_warnings():
        warnings.showwarning = _warning_line
        return _main(argv)


def _warning_line(message: Warning | str, *_: object, **__: object) -> None:
    """A warning (a review not logged, a cache that failed) as one line, like an error: no source line."""
    print(f"warning: {message}", file=sys.stderr)


def _main(argv: list[str] | None) -> int:
    args = None
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if not hasattr(args, "handler"):
            parser.print_help(sys.stderr)
            return Exit.BAD_INPUT
        return int(args.handler(args) or 0)
    except Failure as exc:  # bad input (2) or an infrastructure failure (3), as one line
        print(f"error: {exc}", file=sys.stderr)
        return int(exc.code)
    except KeyboardInterrupt:
        signal.signal(signal.SIGINT, lambda *_: os._exit(Exit.INTERRUPTED))  # a second Ctrl-C stops the clean-up
        print("interrupted", file=sys.stderr)
        return Exit.INTERRUPTED
    except BrokenPipeError:  # `workbench runs list | head`: the reader left
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return Exit.OK
    except Exception as exc:
        saved = save_traceback(args)
        print(
            f"error: {type(exc).__name__}: {(str(exc).splitlines() or [''])[0][:300]} "
            f"(an unexpected failure; the traceback is in {saved})",
            file=sys.stderr,
        )
        return Exit.INFRASTRUCTURE


def save_traceback(args: argparse.Namespace | None) -> Path:
    """The current exception's traceback in `<home>/logs/`, or a temporary folder if the project is unusable."""
    name = f"error-{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}-{os.getpid()}.txt"
    text = f"workbench {' '.join(sys.argv[1:])}\n\n{traceback.format_exc()}"
    folders = []
    try:
        settings = Settings.load(root=getattr(args, "root", None))
        if is_project(settings.root):  # a project: its own logs folder
            folders.append(settings.home / "logs")
    except Exception:  # the project itself is what is broken
        pass
    folders.append(Path(tempfile.gettempdir()) / "workbench-logs")
    for folder in folders:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            (folder / name).write_text(text, encoding="utf-8")
            return folder / name
        except OSError:
            continue
    return Path(os.devnull)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="workbench", description="Evaluate pinned LLM configurations on golden datasets."
    )
    parser.add_argument("--root", help="project folder holding prompts/ and datasets/ (default: the current folder)")
    commands = parser.add_subparsers(title="commands")

    def command(name: str, handler, help: str, parent=commands) -> argparse.ArgumentParser:
        sub = parent.add_parser(name, help=help, description=help)
        sub.set_defaults(handler=handler)
        return sub

    start = command("init", _init, "write a working example project here (or into FOLDER); never overwrites a file")
    start.add_argument("folder", nargs="?", type=Path, default=Path("."), help="the project folder (default: here)")
    start.add_argument(
        "--example", default="support", help="the content: minimal, support (the default; includes rag) or rag"
    )
    start.add_argument("--force", action="store_true", help="replace files the example would write")
    cli_assets.add_commands(commands, command)  # prompts, runs, datasets: first in --help, as before
    for name, handler, help in [
        ("run", _run, "evaluate a configuration version on a dataset"),
        ("compare", _compare, "compare two versions (or runs) on a dataset and apply the gate; exit 1 on a regression"),
        ("demo", _demo, "evaluate and compare the demo configurations on the local model"),
    ]:
        sub = command(name, handler, help)
        if name == "run":
            sub.add_argument("ref", help="name@version")
            sub.add_argument(
                "--save", type=Path, help="also write the results to this Parquet file (for offline comparison)"
            )
            fan_out = sub.add_mutually_exclusive_group()
            fan_out.add_argument(
                "--shard",
                type=shard,
                metavar="I/N",
                help="run only shard I of N (cases split by a hash of their id), log nothing, --save it; "
                "merge the N files with `workbench runs merge`",
            )
            fan_out.add_argument(
                "--workers",
                type=workers,
                default=1,
                metavar="N|auto",
                help="run N shards at once in N worker processes (one model copy each) and log them as one run; "
                "auto: one per core, as memory allows",
            )
            add_options(sub)
        if name == "compare":
            sub.add_argument(
                "refs",
                nargs="+",
                metavar="REF",
                help="[BASELINE] CANDIDATE: name@version, run:<id> or a saved .parquet; "
                "the baseline defaults to production",
            )
            sub.add_argument("--policy", type=Path, help="gate policy YAML (default: gate.yaml in the project, if any)")
        if name in ("run", "compare"):
            sub.add_argument("--dataset", required=True, help="name or name@version")
            sub.add_argument(
                "--scorer",
                action="append",
                dest="scorers",
                help="scorer name or module:factory (repeatable; default: the built-ins)",
            )
            sub.add_argument(
                "--repeats",
                type=positive,
                default=1,
                help="run each case N times with different seeds, bypassing the cache",
            )
        sub.add_argument(
            "--tracking-uri", help="MLflow tracking URI (default: MLFLOW_TRACKING_URI or a local SQLite store)"
        )
        sub.add_argument(
            "--no-cache", action="store_true", help="call the model even when an identical request is cached"
        )
        sub.add_argument("--no-log", action="store_true", help="do not log to MLflow")
        sub.add_argument(
            "--traces",
            type=_traces,
            default=25,
            metavar="N|all",
            help="how many cases get an MLflow trace, failures first (default 25; 'all' for every case)",
        )
        sub.add_argument(
            "--concurrency", type=positive, help="concurrent model calls (default: from the configuration)"
        )
        sub.add_argument("--quiet", action="store_true", help="no progress bar")
        sub.add_argument(
            "--max-error-rate",
            type=fraction,
            default=1.0,
            metavar="R",
            help="exit 3 when more than this share of calls fail (default 1: only when all fail)",
        )

    ci = command(
        "ci",
        _ci,
        "execute the gate notebooks (papermill), write HTML reports (nbconvert), log them to MLflow; "
        "exit 1 on a regression, 3 on a notebook error",
    )
    ci.add_argument(
        "-p",
        "--parameter",
        nargs=2,
        action="append",
        dest="parameters",
        metavar=("KEY", "VALUE"),
        help="a notebook parameter (repeatable), over ci.yaml; VALUE is read as YAML (null, 3, text)",
    )
    ci.add_argument("--config", type=Path, help="CI configuration (default: ci.yaml in the project)")
    ci.add_argument(
        "--notebook", action="append", dest="notebooks", help="run only this entry of ci.yaml (name or path)"
    )
    ci.add_argument(
        "--output", type=Path, help="folder for executed notebooks and reports (default: from ci.yaml, reports/)"
    )
    ci.add_argument("--show-code", action="store_true", help="include the code cells in the reports")
    ci.add_argument(
        "--report-url",
        type=_report_url,
        help="where reviewers find the reports (e.g. the CI job's artifacts page), linked from summary.md",
    )
    ci.add_argument("--tracking-uri", help="MLflow tracking URI (default: MLFLOW_TRACKING_URI or a local SQLite store)")
    ci.add_argument("--no-log", action="store_true", help="log nothing to MLflow (the notebooks' runs nor the reports)")
    for module in (cli_ops, cli_stats, cli_review):
        module.add_commands(commands, command)
    return parser


def _report_url(text: str) -> str:
    if not re.fullmatch(r"https?://[^\s()<>]+", text):
        raise argparse.ArgumentTypeError("give an http(s) URL without spaces, parentheses or angle brackets")
    return text


def _traces(text: str) -> int | None:
    if text == "all":
        return None
    if not text.isdigit():
        raise argparse.ArgumentTypeError("give a number of cases or 'all'")
    return int(text)


def _check_refs(args: argparse.Namespace, refs: list[str]) -> None:
    """Names, configurations and the dataset's file first, before the heavy imports of a run: a typo or a bad
    configuration fails in a fraction of a second."""
    from .datasets import dataset_file
    from .names import check_name, split_ref
    from .prompts import resolve

    split_ref(args.dataset, "dataset", "--dataset")
    for ref in refs:
        if ref.startswith("run:"):
            check_name(ref.removeprefix("run:"), "run")
        elif not ref.endswith(".parquet"):
            split_ref(ref, "configuration")
    settings = project_settings(args)
    configurations = [ref for ref in refs if not ref.startswith("run:") and not ref.endswith(".parquet")]
    for ref in configurations:
        resolve(ref, settings.prompts_dir)
    if configurations or len(refs) == 1:  # something will run (one reference: against production)
        dataset_file(args.dataset, settings.datasets_dir)


def _run(args) -> int:
    _check_refs(args, [args.ref])
    if args.shard and not args.save:
        raise WorkbenchError(
            "a shard is not logged: it is saved for `workbench runs merge`",
            field="--shard",
            fix=f"add --save shard-{args.shard.index}.parquet",
        )
    from .datasets import load_dataset
    from .experiment import evaluate
    from .health import check_run
    from .shards import auto_workers, log_merged, run_local, run_shard

    settings = project_settings(args)
    if args.workers is None:
        args.workers = auto_workers(args.ref, settings)
    options = {"scorers": args.scorers, "concurrency": args.concurrency, "repeats": args.repeats}
    with published(args.metrics_port, args.metrics_file, args.pushgateway) as metrics:
        recorder = metrics.recorder(args.ref)
        if args.shard:
            result = run_shard(args.ref, args.dataset, args.shard, settings, progress=not args.quiet, **options)
        elif args.workers > 1:
            dataset = load_dataset(args.dataset, settings.datasets_dir)  # validated once: the workers get it
            result = run_local(args.ref, dataset, args.workers, settings, **options)
            for row in result.record.to_dict("records"):  # the workers' calls, counted once they are back
                recorder(row)
            if not args.no_log:
                log_merged(result, settings, args.traces, dataset)
        else:
            result = evaluate(
                args.ref,
                args.dataset,
                settings=settings,
                log=not args.no_log,
                traces=args.traces,
                progress=not args.quiet,
                on_call=recorder,
                **options,
            )
    if args.save:
        result.save(args.save)
    print(result.report())
    if args.shard:
        print(
            f"shard {args.shard}: {len(result.record)} call(s), saved to {args.save}; merge every shard with: "
            f"workbench runs merge FILE..."
        )
    check_run(result, args.max_error_rate)
    return metrics.exit_code()


def _compare(args) -> int:
    if len(args.refs) > 2:
        raise WorkbenchError("compare takes [BASELINE] CANDIDATE: at most two references")
    _check_refs(args, args.refs)
    from .experiment import compare_refs
    from .gate import GatePolicy
    from .health import check_run

    baseline, candidate = (None, args.refs[0]) if len(args.refs) == 1 else args.refs
    settings = project_settings(args)
    policy_path = args.policy or (settings.root / "gate.yaml" if (settings.root / "gate.yaml").exists() else None)
    comparison, gate = compare_refs(
        baseline,
        candidate,
        args.dataset,
        policy=GatePolicy.load(policy_path),
        settings=settings,
        repeats=args.repeats,
        scorers=args.scorers,
        log=not args.no_log,
        traces=args.traces,
        progress=not args.quiet,
    )
    for result in (comparison.baseline, comparison.candidate):
        print(result.report(), end="\n\n")
    for result in (comparison.baseline, comparison.candidate):
        check_run(result, args.max_error_rate)  # a verdict on failed calls would be noise
    print(comparison.report(), end="\n\n")
    print(gate.report())
    return gate.exit_code


def _init(args) -> int:
    from .templates.scaffold import init

    print(init(args.folder, example=args.example, force=args.force).report())
    return 0


def _demo(args) -> int:
    """The main job on the embedded defaults: both demo versions evaluated, compared and gated."""
    print(f"MLflow store: {project_settings(args).tracking_uri}")
    args.refs, args.dataset, args.policy, args.repeats, args.scorers = (
        [DEMO_BASELINE, DEMO_CANDIDATE],
        "support",
        None,
        1,
        DEMO_SCORERS,
    )
    _compare(args)  # the demo shows a regression on purpose: its verdict is not the exit code
    return 0


def _ci(args) -> int:
    from .ci import exit_code, run_ci

    settings = project_settings(args)
    shared = {
        "root": str(settings.root),  # the kernel runs in the project folder, but --root names it for sure
        **({"tracking_uri": args.tracking_uri} if args.tracking_uri else {}),
        **({"log": False} if args.no_log else {}),
    }
    overrides = {key: text for key, text in args.parameters or []}  # text, typed against each notebook's declaration
    runs = run_ci(
        settings,
        config_path=args.config,
        overrides=overrides,
        only=args.notebooks,
        output=args.output,
        log=not args.no_log,
        show_code=args.show_code,
        shared=shared,
        report_url=args.report_url,
    )
    for run in runs:
        print(run.line())
    if runs:
        print(f"summary: {Path(runs[0].report).parent / 'summary.md'} (and summary.json)")
    return exit_code(runs)


if __name__ == "__main__":
    sys.exit(main())
