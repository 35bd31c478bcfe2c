"""The review and export commands of `workbench`: the human review queue and the fine-tuning export."""

from __future__ import annotations

import argparse
from pathlib import Path

from .cli_args import Command, project_settings
from .cli_ops import finished_run
from .errors import WorkbenchError
from .settings import Settings


def add_commands(commands: argparse._SubParsersAction, command: Command) -> None:
    """Register `review` and `export` on the main parser's subcommands."""
    review = commands.add_parser("review", help="the human review queue").add_subparsers(title="review commands")
    queue = command(
        "queue",
        _review_queue,
        "route a run's cases to people: judge errors and borderline grades, "
        "judge vs checks disagreement, guardrail triggers, low user feedback, a random audit sample",
        review,
    )
    queue.add_argument("run", help="run:<id> or a saved .parquet")
    queue.add_argument(
        "--rules",
        default=None,
        metavar="RULE,...",
        help="judge_error, judge_borderline, disagreement, guardrails, low_feedback (default: all)",
    )
    queue.add_argument("--audit", type=int, default=0, metavar="N", help="also N other cases drawn at random")
    queue.add_argument("--seed", type=int, default=0, help="seed of the audit sample")
    queue.add_argument(
        "--margin",
        type=float,
        default=None,
        help="a judge value this close to its pass line is borderline (default 0.25: one grade of 1-5)",
    )
    listing = command(
        "list", _review_list, "review queues of the project, or one run's queued cases and labels", review
    )
    listing.add_argument("run", nargs="?", help="run:<id> or a saved .parquet (default: every queue)")

    export = commands.add_parser("export", help="exports").add_subparsers(title="export commands")
    finetune = command(
        "finetune",
        _export_finetune,
        "curated cases of runs as chat JSONL (OpenAI fine-tuning format) "
        "and a Hugging Face dataset: PII redacted, deduplicated, a seeded train/validation split, "
        "a provenance manifest",
        export,
    )
    finetune.add_argument("runs", nargs="+", metavar="RUN", help="run:<id> or a saved .parquet (one or more)")
    finetune.add_argument("--out", type=Path, required=True, help="the folder to write (must not exist)")
    finetune.add_argument(
        "--take",
        default="corrected,reviewed",
        metavar="KIND,...",
        help="corrected, reviewed (passed by reviewers), passing (every scorer passed) (default: corrected,reviewed)",
    )
    finetune.add_argument("--validation", type=float, default=0.1, help="share held out for validation (default 0.1)")
    finetune.add_argument("--seed", type=int, default=0, help="seed of the split (default 0)")
    finetune.add_argument("--pass-at", type=int, default=4, help="a rating at or above this passes (default 4)")
    finetune.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    finetune.add_argument(
        "--pii-allow",
        action="append",
        default=[],
        metavar="VALUE",
        help="a value that is not personal data, left unredacted, e.g. the support address "
        "(repeatable; the configuration's guardrails.pii_allow always applies)",
    )
    for sub in (queue, listing, finetune):
        sub.add_argument("--tracking-uri", help="MLflow tracking URI (for run:<id>)")


def _run(ref: str, settings: Settings):
    from .experiment import result_for  # MLflow loads only when a command reads a logged run

    return result_for(finished_run(ref), "", settings)


def _split(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def _review_queue(args) -> int:
    from .review import MARGIN, RULES, queue  # the review stack (pandas, calibration) loads only when used

    settings = project_settings(args)
    if args.margin is not None and not 0 < args.margin < 1:
        raise WorkbenchError(f"--margin: {args.margin} is not between 0 and 1")
    rules = _split(args.rules) if args.rules is not None else RULES
    run = _run(args.run, settings)
    review, added = queue(
        run, settings, rules, audit=args.audit, seed=args.seed, margin=MARGIN if args.margin is None else args.margin
    )
    for item in added:
        print(f"{item.case_id}: {'; '.join(item.reasons)}")
    print(f"queued {len(added)} case(s) for review ({len(review.items())} in the queue): {review.path}")
    return 0


def _review_list(args) -> int:
    import pandas as pd

    from .review import ReviewQueue, queues  # the review stack (pandas, calibration) loads only when used

    settings = project_settings(args)
    table = ReviewQueue(_run(args.run, settings), settings).status() if args.run else queues(settings)
    if table.empty:
        print("no review queue yet; make one with: workbench review queue run:<id>")
        return 0
    with pd.option_context("display.width", 200, "display.max_columns", 20, "display.max_colwidth", 80):
        print(table.to_string(index=False))
    return 0


def _export_finetune(args) -> int:
    from .export import export_finetune  # the export stack (Hugging Face datasets) loads only when used

    settings = project_settings(args)
    runs = [_run(ref, settings) for ref in args.runs]
    result = export_finetune(
        runs,
        args.out,
        settings,
        take=_split(args.take),
        validation=args.validation,
        seed=args.seed,
        pass_at=args.pass_at,
        overwrite=args.overwrite,
        pii_allow=args.pii_allow,
    )
    print(result.report())
    return 0
