"""The operations commands of `workbench`: cost estimates, guardrails, judge calibration, drift, shadow replay."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .cli_args import Command, fraction, grade, number, positive, positive_number, project_settings
from .errors import WorkbenchError
from .files import read_text
from .metrics import add_options, published


def add_commands(commands: argparse._SubParsersAction, command: Command) -> None:
    """Register the operations commands on the main parser's subcommands."""
    cost = commands.add_parser("cost", help="cost estimates").add_subparsers(title="cost commands")
    estimate = command(
        "estimate",
        _cost_estimate,
        "tokens per request measured on a dataset; cost per request, day and month, across versions and models",
        cost,
    )
    estimate.add_argument("refs", nargs="+", metavar="REF", help="name@version (one or more)")
    estimate.add_argument("--dataset", required=True)
    estimate.add_argument("--requests-per-day", type=positive_number, required=True)
    estimate.add_argument(
        "--price-as",
        action="append",
        default=[],
        metavar="MODEL",
        help="also price the measured tokens as this model of the pricing table (repeatable)",
    )

    guardrails = commands.add_parser("guardrails", help="guardrails").add_subparsers(title="guardrails commands")
    check = command(
        "check", _guardrails_check, "check a text against a guardrail policy; exit 1 when blocked", guardrails
    )
    check.add_argument("text", nargs="?", help="the text (or --file)")
    check.add_argument("--file", type=Path)
    check.add_argument(
        "--policy", type=Path, help="a guardrail policy YAML (default: the configuration's, or defaults)"
    )
    check.add_argument("--prompt", help="name@version whose guardrails and output schema apply")
    check.add_argument("--side", choices=["input", "output"], default="output")

    calibrate = command("calibrate", _calibrate, "agreement of a judge (any scorer) with human labels", commands)
    calibrate.add_argument("scorer", help="scorer name or module:function, e.g. llm_judge")
    calibrate.add_argument(
        "labels", type=Path, nargs="?", help="labeled JSONL, e.g. datasets/judge-labels/labels.jsonl"
    )
    calibrate.add_argument(
        "--reviewed",
        metavar="RUN",
        help="instead, the review labels of a run (run:<id> or a saved "
        ".parquet), written as a labeled set under .workbench/review/labels/",
    )
    calibrate.add_argument("--args", default="{}", help="scorer arguments as JSON")
    calibrate.add_argument("--pass-at", type=grade, default=4, help="human grades at or above this pass (1-5 labels)")
    calibrate.add_argument("--threshold", type=number, default=0.5, help="a numeric score passes at this value")
    calibrate.add_argument("--log", action="store_true", help="log the calibration to MLflow")

    drift = command(
        "drift", _drift, "input and output drift between two windows of logged traffic; exit 1 on drift", commands
    )
    drift.add_argument("traffic", type=Path)
    drift.add_argument("--reference", required=True, metavar="START:END", help="ISO dates, end excluded")
    drift.add_argument("--current", required=True, metavar="START:END")
    drift.add_argument("--alpha", type=fraction, default=0.05)
    drift.add_argument("--out", type=Path, help="write drift- and quality-over-time plots (PNG) here")

    replay = command(
        "replay", _replay, "shadow replay: a candidate over logged traffic, against production's answers", commands
    )
    replay.add_argument("candidate", help="name@version")
    replay.add_argument("traffic", type=Path)
    replay.add_argument("--window", metavar="START:END", help="only requests in this window")
    replay.add_argument("--limit", type=positive, help="the first N requests")
    replay.add_argument("--sample", type=positive, help="a seeded random N requests")
    replay.add_argument("--scorer", action="append", dest="scorers", help="reference-free scorers (repeatable)")
    replay.add_argument("--log", action="store_true", help="log the candidate's run to MLflow")
    add_options(replay)
    feedback = commands.add_parser("feedback", help="the feedback loop").add_subparsers(title="feedback commands")
    summary = command(
        "summary", _feedback_summary, "annotations (JSONL or CSV) aggregated per configuration version", feedback
    )
    summary.add_argument("files", nargs="+", type=Path)
    harvest = command(
        "harvest",
        _feedback_harvest,
        "failed, guardrail-triggering or low-rated cases of a run become "
        "a new dataset version; cases the dataset already holds are skipped",
        feedback,
    )
    harvest.add_argument("run", help="run:<id> or a saved .parquet")
    harvest.add_argument("--dataset", required=True, help="the dataset version the run used, e.g. support@1")
    harvest.add_argument(
        "--into", help="the dataset that gets the cases (default: the newest version of --dataset's name)"
    )
    harvest.add_argument(
        "--annotations",
        nargs="*",
        type=Path,
        default=[],
        help="feedback files (JSONL or CSV; "
        "default: the run's own feedback store, where the FeedbackCollector and the ReviewQueue write)",
    )
    harvest.add_argument(
        "--which",
        default="low",
        help="reviews that select a case: low (thumbs down or rated at most "
        "--max-rating), down, up, rated<=N, reviewed (labelled pass/fail or rated), corrected, all "
        "(default: low)",
    )
    harvest.add_argument("--max-rating", type=grade, default=2, help="ratings at or below this count as low")
    harvest.add_argument(
        "--failed",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="take cases with an error or a failed check (default: yes)",
    )
    harvest.add_argument(
        "--guardrails",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="take cases that triggered a guardrail (default: yes)",
    )
    harvest.add_argument("--reviewer", help="who decided, recorded in the provenance")
    for sub in (estimate, check, calibrate, drift, replay, summary, harvest):
        sub.add_argument("--tracking-uri", help="MLflow tracking URI")


def _span(text: str) -> tuple[str, str]:
    start, sep, end = text.partition(":")
    if not sep or not start or not end:
        raise WorkbenchError(f"'{text}' is not a window; write START:END, e.g. 2026-10-01:2026-10-06")
    return start, end


def finished_run(ref: str) -> str:
    """A finished run's reference: `run:<id>` (MLflow) or a saved `.parquet`."""
    if not (ref.startswith("run:") or ref.endswith(".parquet")):
        raise WorkbenchError(f"'{ref}' is not a run; give run:<id> or a saved .parquet")
    return ref


def _cost_estimate(args) -> int:
    import pandas as pd

    from .costs import estimate
    from .experiment import evaluate
    from .models import load_pricing

    settings = project_settings(args)
    results = [evaluate(ref, args.dataset, settings=settings, log=False, progress=False) for ref in args.refs]
    table = estimate(results, args.requests_per_day, load_pricing(settings.pricing_path), args.price_as)
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(table.to_string(index=False, float_format=lambda x: f"{x:,.4f}"))
    return 0


def _guardrails_check(args) -> int:
    from .guardrails import GuardrailPolicy, apply_input_guardrails, apply_output_guardrails
    from .prompts import resolve

    settings = project_settings(args)
    text = read_text(args.file, "the text") if args.file else args.text
    if text is None:
        raise WorkbenchError("give the text to check, or --file PATH")
    prompt = resolve(args.prompt, settings.prompts_dir) if args.prompt else None
    if args.policy:
        policy = GuardrailPolicy.load(args.policy)
    else:
        policy = (prompt.spec.guardrails if prompt else None) or GuardrailPolicy()
    if args.side == "input":
        outcome = apply_input_guardrails({"text": text}, policy, settings)
        shown = outcome.inputs["text"]
    else:
        outcome = apply_output_guardrails(text, policy, prompt.spec.output_schema if prompt else None, settings)  # type: ignore[assignment]
        shown = outcome.text  # type: ignore[attr-defined]
    print(
        json.dumps(
            {"blocked": outcome.blocked, "triggered": outcome.triggered, "text": shown}, ensure_ascii=False, indent=2
        )
    )
    return 1 if outcome.blocked else 0


def _calibrate(args) -> int:
    from .calibration import calibrate

    try:
        scorer_args = json.loads(args.args)
    except json.JSONDecodeError as exc:
        raise WorkbenchError(
            f'--args: not JSON ({exc.msg}); write e.g. \'{{"judge": "rubric-judge@1.0.0"}}\''
        ) from None
    if (args.labels is None) == (args.reviewed is None):
        raise WorkbenchError("calibrate: give a labeled JSONL file or --reviewed RUN (one of them)")
    labels = args.labels
    if args.reviewed:
        from .experiment import result_for
        from .review import write_labels

        settings = project_settings(args)
        labels = write_labels(result_for(finished_run(args.reviewed), "", settings), settings)
        print(f"labels from the review of {args.reviewed}: {labels}", file=sys.stderr)
    report = calibrate(
        {"name": args.scorer, "args": scorer_args},
        labels,
        pass_at=args.pass_at,
        threshold=args.threshold,
        settings=project_settings(args),
    )
    print(report.report())
    if args.log:
        print(f"logged to MLflow run {report.log_to_mlflow(project_settings(args))}")
    return 0


def _drift(args) -> int:
    from .drift import (
        drift_over_time,
        drift_report,
        load_traffic,
        plot_drift_over_time,
        plot_quality,
        quality_over_time,
        window,
    )

    traffic = load_traffic(args.traffic)
    reference, current = window(traffic, *_span(args.reference)), window(traffic, *_span(args.current))
    report = drift_report(reference, current, alpha=args.alpha)
    print(report.report())
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        mark = _span(args.current)[0]
        plot_drift_over_time(drift_over_time(traffic, reference), mark=mark).savefig(args.out / "drift_over_time.png")
        plot_quality(quality_over_time(traffic), mark=mark).savefig(args.out / "quality_over_time.png")
        print(f"plots written to {args.out}/", file=sys.stderr)
    return 1 if len(report.drifted()) else 0


def _replay(args) -> int:
    from .drift import load_traffic, window
    from .names import split_ref
    from .replay import replay

    split_ref(args.candidate, "configuration")  # before the traffic file is read
    traffic = load_traffic(args.traffic)
    if args.window:
        traffic = window(traffic, *_span(args.window))
    with published(args.metrics_port, args.metrics_file, args.pushgateway) as metrics:
        result = replay(
            args.candidate,
            traffic,
            scorers=args.scorers,
            limit=args.limit,
            sample=args.sample,
            settings=project_settings(args),
            log=args.log,
            progress=False,
            on_call=metrics.recorder(args.candidate, "shadow"),
        )
        metrics.observe_traffic(result.traffic)  # production's answers to the same requests, under its own version
    print(result.report())
    return metrics.exit_code()


def _feedback_summary(args) -> int:
    from .feedback import aggregate, load_annotations

    print(aggregate(load_annotations(args.files)).to_string(float_format=lambda x: f"{x:.3f}"))
    return 0


def _feedback_harvest(args) -> int:
    from .datasets import load_dataset
    from .experiment import result_for
    from .feedback import feedback_path, harvest, load_annotations, select_cases
    from .names import split_ref

    settings = project_settings(args)
    for option, ref in (("--dataset", args.dataset), ("--into", args.into)):
        if ref is not None:
            split_ref(ref, "dataset", option)  # checked before any run or file is read
    run = result_for(finished_run(args.run), args.dataset, settings)
    source = load_dataset(args.dataset, settings.datasets_dir)
    into = load_dataset(args.into, settings.datasets_dir) if args.into else None
    store = feedback_path(run, settings)
    files = args.annotations or ([store] if store.exists() else [])
    annotations = load_annotations(files) if files else None
    reasons = select_cases(
        run, annotations, failed=args.failed, guardrails=args.guardrails, which=args.which, max_rating=args.max_rating
    )
    print(harvest(run, source, reasons, annotations, into=into, reviewer=args.reviewer).report())
    return 0
