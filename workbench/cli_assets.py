"""The project's own files and runs on the command line: `workbench prompts`, `datasets` and `runs`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .cli_args import Command, fraction, non_negative, positive, project_settings
from .errors import WorkbenchError


def add_commands(commands: argparse._SubParsersAction, command: Command) -> None:
    """Register `prompts`, `runs` and `datasets` on the main parser's subcommands."""
    prompts = commands.add_parser("prompts", help="pinned configurations").add_subparsers(title="prompts commands")
    lint = command("lint", _prompts_lint, "check configuration files; exit 2 on any problem", prompts)
    lint.add_argument("paths", nargs="*", help="files or folders (default: prompts/)")
    command("list", _prompts_list, "list configurations, versions and hashes", prompts)
    show = command("show", _prompts_show, "print one configuration version", prompts)
    show.add_argument("ref", help="name@version")
    diff = command("diff", _prompts_diff, "diff two configuration versions", prompts)
    diff.add_argument("a")
    diff.add_argument("b")
    promote = command("promote", _prompts_promote, "mark a version as production (the default baseline)", prompts)
    promote.add_argument("ref", help="name@version")
    promote.add_argument("--tracking-uri", help="also set the registry's production alias on this MLflow server")

    runs = commands.add_parser("runs", help="logged runs").add_subparsers(title="runs commands")
    runs_list = command("list", _runs_list, "find runs by configuration and dataset hash", runs)
    runs_list.add_argument("--prompt", help="name or name@version")
    runs_list.add_argument("--dataset-hash", help="a dataset hash or its prefix")
    runs_list.add_argument("--limit", type=positive, default=20)
    runs_list.add_argument("--tracking-uri")

    datasets = commands.add_parser("datasets", help="golden datasets").add_subparsers(title="datasets commands")
    validate = command(
        "validate", _datasets_validate, "validate dataset files, optionally against a configuration", datasets
    )
    validate.add_argument(
        "refs", nargs="*", help="name or name@version (default: all; with --prompt, the ones named after it)"
    )
    validate.add_argument(
        "--prompt",
        help="also check the variables this configuration needs; without REFs, on the datasets named after it "
        "(NAME and NAME-*, as support and support-mini go with support@1.1.0)",
    )
    dshow = command("show", _datasets_show, "print a dataset's version, hash and cases", datasets)
    dshow.add_argument("ref")
    dshow.add_argument("--limit", type=non_negative, default=10)
    add = command("add", _datasets_add, "write a new dataset version with the cases of a JSONL file appended", datasets)
    add.add_argument("ref")
    add.add_argument("file", type=Path)
    add.add_argument("--source", help="provenance recorded on each new case (a run id, a reviewer)")
    add.add_argument(
        "--prompt",
        action="append",
        dest="prompts",
        metavar="REF",
        help="check the new cases against this configuration's variables (repeatable; default: the "
        "variables every existing case has)",
    )
    merge = command(
        "merge", _runs_merge, "merge the shards of a run (`workbench run --shard i/n --save`) and log one run", runs
    )
    merge.add_argument("paths", nargs="+", type=Path, metavar="SHARD", help="every shard's Parquet file, once")
    merge.add_argument("--save", type=Path, help="also write the merged run to this Parquet file")
    merge.add_argument("--no-log", action="store_true", help="do not log to MLflow")
    merge.add_argument("--tracking-uri")
    merge.add_argument("--max-error-rate", type=fraction, default=1.0, metavar="R", help="as for run")
    log = command("log", _runs_log, "log a saved run (Parquet under .workbench/runs/) whose logging failed", runs)
    log.add_argument("path", type=Path)
    log.add_argument("--tracking-uri")


def _prompts_lint(args) -> int:
    from .prompts import check
    from .prompts.store import PRODUCTION_FILE, read_lock

    settings = project_settings(args)
    paths = [Path(p) for p in args.paths] or [settings.prompts_dir]
    files = sorted(
        {
            f
            for p in paths
            for f in ([p] if p.is_file() else p.rglob("*.yaml"))
            if f.name != PRODUCTION_FILE and not any(part.startswith(".") for part in f.relative_to(p).parts)
        }
    )
    if not files:
        raise WorkbenchError(f"no configuration files under {', '.join(map(str, paths))}")
    problems = []
    for path in files:
        lock = read_lock(path.parent.parent) if path.parent.parent.joinpath("lock.json").exists() else {}
        problems += check(path, lock.get(f"{path.parent.name}@{path.stem}"))[1]
    for problem in problems:
        print(problem)
    print(f"{len(files)} file(s), {len(problems)} problem(s)", file=sys.stderr)
    return 2 if problems else 0


def _prompts_list(args) -> int:
    from .prompts import names, resolve, versions

    root = project_settings(args).prompts_dir
    for name in names(root):
        for version in versions(name, root):
            prompt = resolve(f"{name}@{version}", root)
            model = prompt.spec.model
            print(f"{prompt.ref:<28} {prompt.hash[:12]}  {model.provider}:{model.name}  {prompt.spec.description[:60]}")
    return 0


def _prompts_show(args) -> int:
    from .prompts import resolve

    prompt = resolve(args.ref, project_settings(args).prompts_dir)
    print(f"# {prompt.ref}  hash {prompt.hash}\n# {prompt.path}")
    print(prompt.path.read_text(), end="")
    return 0


def _prompts_diff(args) -> int:
    from .prompts import diff, resolve

    root = project_settings(args).prompts_dir
    print(diff(resolve(args.a, root), resolve(args.b, root)) or "no difference", end="")
    return 0


def _datasets_validate(args) -> int:
    from .datasets import load_dataset, names
    from .prompts import resolve

    settings = project_settings(args)
    prompt = resolve(args.prompt, settings.prompts_dir) if args.prompt else None
    refs = args.refs or names(settings.datasets_dir)
    if prompt and not args.refs:  # another configuration's dataset lacks this one's variables by design
        refs = [ref for ref in refs if ref == prompt.name or ref.startswith(f"{prompt.name}-")]
        if not refs:
            known = ", ".join(names(settings.datasets_dir)) or "none"
            raise WorkbenchError(
                f"--prompt {prompt.ref}: no dataset is named after it ({prompt.name} or {prompt.name}-*); "
                f"datasets: {known}",
                fix=f"name the datasets to check: workbench datasets validate DATASET... --prompt {prompt.ref}",
            )
    failed = 0
    for ref in refs:
        try:
            dataset = load_dataset(ref, settings.datasets_dir)
            if prompt:
                dataset.check_variables(prompt.variables)
        except WorkbenchError as exc:
            print(exc)
            failed += 1
            continue
        print(f"{dataset.ref}: {len(dataset)} cases, hash {dataset.hash[:12]}: ok")
    return 2 if failed else 0


def _datasets_show(args) -> int:
    from .datasets import load_dataset

    dataset = load_dataset(args.ref, project_settings(args).datasets_dir)
    print(f"{dataset.ref}  {len(dataset)} cases  hash {dataset.hash}  {dataset.path}")
    for case in dataset.cases[: args.limit]:
        inputs = "; ".join(f"{k}={str(v)[:60]!r}" for k, v in case.inputs.items())
        print(f"  {case.id:<28} [{','.join(case.tags)}] {inputs}")
    if len(dataset) > args.limit:
        print(f"  ... {len(dataset) - args.limit} more")
    return 0


def _datasets_add(args) -> int:
    from .datasets import add_cases, load_dataset, parse
    from .prompts import resolve

    settings = project_settings(args)
    dataset = load_dataset(args.ref, settings.datasets_dir)
    variables = None
    if args.prompts:
        variables = sorted({v for ref in args.prompts for v in resolve(ref, settings.prompts_dir).variables})
    cases, _, problems = parse(args.file)
    if problems:
        raise WorkbenchError(
            "\n".join(problems[:20]) + (f"\n... and {len(problems) - 20} more" if len(problems) > 20 else "")
        )
    new = add_cases(dataset, cases, provenance={"source": args.source or str(args.file)}, variables=variables)  # type: ignore[arg-type]
    print(f"wrote {new.path}: {new.ref}, {len(new)} cases (+{len(cases)}), hash {new.hash[:12]}")
    return 0


def _prompts_promote(args) -> int:
    from .prompts import promote, resolve

    settings = project_settings(args)
    prompt = resolve(args.ref, settings.prompts_dir)
    promote(prompt, settings.prompts_dir)
    if args.tracking_uri or settings.tracking_uri:
        from .prompt_registry import sync_production_alias

        sync_production_alias(prompt.name, settings)  # production.yaml is the truth; the alias follows it
    print(f"{prompt.ref} is production ({settings.prompts_dir / 'production.yaml'}, registry alias 'production')")
    return 0


def _runs_list(args) -> int:
    import pandas as pd

    from .names import split_ref
    from .tracking import find_runs

    if args.prompt:
        split_ref(args.prompt, "configuration", "--prompt")
    if args.dataset_hash and not args.dataset_hash.isalnum():
        raise WorkbenchError(f"'{args.dataset_hash}' is not a hash", field="--dataset-hash", fix="give hex digits")
    runs = find_runs(project_settings(args), prompt=args.prompt, dataset_hash=args.dataset_hash, max_results=args.limit)
    if runs.empty:
        print("no runs")
        return 0
    runs = runs.assign(prompt_hash=runs["prompt_hash"].str[:12], dataset_hash=runs["dataset_hash"].str[:12])
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(runs.to_string(index=False))
    return 0


def _runs_merge(args) -> int:
    from .health import check_run
    from .shards import merge_files

    settings = project_settings(args)
    result = merge_files(args.paths, settings, log=not args.no_log, traces=0)  # a saved run keeps no calls to trace
    if args.save:
        result.save(args.save)
    print(result.report())
    check_run(result, args.max_error_rate)
    return 0


def _runs_log(args) -> int:
    from .tracking import log_saved

    print(f"logged {args.path} as MLflow run {log_saved(args.path, project_settings(args))}")
    return 0
