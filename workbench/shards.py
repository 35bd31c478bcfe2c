"""Sharded runs: a dataset's cases split into `n` disjoint shards by a hash of each case id, each shard run by
the ordinary engine (`experiment.evaluate`, nothing logged) and saved as a Parquet run, then merged into one
run and logged once (`tracking.log_run`).

The same shard and merge functions serve every fan-out: CI jobs (a matrix of `workbench run --shard i/n
--save ...` and one `workbench runs merge`, see `.github/workflows/sharded-eval.yml`), worker processes on
one machine (`run_local`, `workbench run --workers N`: one model copy per process) and a Dask cluster
(`run_on_dask`).
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd

from .datasets import Dataset, dataset_of, load_dataset
from .errors import InfrastructureError, WorkbenchError
from .experiment import evaluate
from .models import model_path
from .prompts import resolve
from .results import RunResult, merge_runs
from .settings import Settings
from .traces import DEFAULT_TRACES
from .tracking import log_run

#: A shard's params: which shard it is (`i/n`) and the hash of the whole dataset it is a part of.
SHARD, WHOLE_HASH = "shard", "shard.dataset_hash"
#: A merged run's param: how many shards it was run in.
SHARDS = "shards"
NO_SHARDS = "no shards to merge"
#: Memory a worker process takes besides a local model's weights: Python, the stack, the scorers, llama.cpp's
#: context (the demo's workers peaked at 0.50 GB resident with SmolLM2 loaded; see benchmarks/RESULTS.md).
WORKER_MEMORY = 640 * 2**20


@dataclass(frozen=True)
class Shard:
    """Shard `index` of `count` (1-based, as `--shard 2/4`): the cases whose id hashes to it."""

    index: int
    count: int

    def __post_init__(self) -> None:
        if not 1 <= self.index <= self.count:
            raise ValueError(f"shard {self.index}/{self.count} does not exist; give i/n with 1 <= i <= n")

    @classmethod
    def parse(cls, text: str) -> Shard:
        """`i/n`, e.g. `2/4`; a ValueError says what is wrong."""
        index, slash, count = text.partition("/")
        if not slash or not index.strip().isdigit() or not count.strip().isdigit():
            raise ValueError(f"'{text}' is not i/n (e.g. 2/4: the second of four shards)")
        return cls(int(index), int(count))

    def holds(self, case_id: str) -> bool:
        return shard_of(case_id, self.count) == self.index

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def shard_of(case_id: str, count: int) -> int:
    """The shard (1..count) of a case: from the sha256 of its id, so the same on every machine and Python, and
    independent of the order of the dataset."""
    return int.from_bytes(hashlib.sha256(case_id.encode()).digest()[:8], "big") % count + 1


def run_shard(
    ref: str, dataset: str | Dataset, shard: Shard, settings: Settings | None = None, **options: Any
) -> RunResult:
    """Run the cases of one shard with `evaluate` (`options`: its run options), logging nothing; `dataset`: a
    reference, or a `Dataset` already loaded (not read again). The result records the shard and the whole
    dataset's hash in its params, for `merge`."""
    settings = settings or Settings.load()
    dataset = dataset_of(dataset, settings.datasets_dir)
    ids = [case.id for case in dataset.cases if shard.holds(case.id)]
    result = evaluate(ref, dataset, settings=settings, cases=ids, log=False, **options)
    result.params = {**result.params, SHARD: str(shard), WHOLE_HASH: dataset.hash}
    return result


def merge(shards: Sequence[RunResult], sources: Sequence[str], dataset: Dataset) -> RunResult:
    """One run from the shards of one run: the same configuration (by hash), dataset version (by hash), scorers,
    repeats and setup; every shard 1..n once; every case of `dataset` in exactly one shard, the shard its id
    hashes to. `sources` name the shards in errors (file names). The record is in the dataset's order."""
    if not shards:
        raise WorkbenchError(NO_SHARDS, fix="name the shard files: workbench runs merge shard-*.parquet")
    parts = [(_shard(result, source), result, source) for result, source in zip(shards, sources)]
    first_shard, first, first_source = parts[0]
    seen: dict[int, str] = {}
    for shard, result, source in parts:
        _same_run(result, source, first, first_source)
        if shard.count != first_shard.count:
            raise WorkbenchError(
                f"{source} is shard {shard} but {first_source} is shard {first_shard}",
                fix="merge the shards of one split: every file run with the same n in --shard i/n",
            )
        if shard.index in seen:
            raise WorkbenchError(
                f"{seen[shard.index]} and {source} are both shard {shard}",
                fix="merge each shard once: leave one of the two files out",
            )
        seen[shard.index] = source
    missing = [f"{i}/{first_shard.count}" for i in range(1, first_shard.count + 1) if i not in seen]
    if missing:
        raise WorkbenchError(
            f"shard(s) {', '.join(missing)} of {first.prompt_ref} on {first.dataset_ref} are missing",
            fix=f"run each with: workbench run {first.prompt_ref} --dataset {first.dataset_ref} "
            f"--shard {missing[0]} --save shard-{missing[0].partition('/')[0]}.parquet; then merge all "
            f"{first_shard.count}",
        )
    if first.dataset_ref != dataset.ref or first.params[WHOLE_HASH] != dataset.hash:
        raise WorkbenchError(
            f"the shards ran on {first.dataset_ref} ({first.params[WHOLE_HASH][:12]}); "
            f"{dataset.ref} is now {dataset.hash[:12]}",
            file=dataset.path,
            fix=f"restore {dataset.ref} as it was when the shards ran, or run the shards again",
        )
    order = {case.id: i for i, case in enumerate(dataset.cases)}
    owner = {case.id: shard_of(case.id, first_shard.count) for case in dataset.cases}
    for shard, result, source in parts:
        _check_cases(shard, result, source, dataset.ref, owner)
    return _concatenate([result for _, result, _ in parts], first_shard.count, dataset, order)


def merge_files(
    paths: Sequence[str | Path], settings: Settings, log: bool = False, traces: int | None = DEFAULT_TRACES
) -> RunResult:
    """`merge` of saved shard files, against the dataset version they name, as it is in the project now; logged
    as one run when `log` (`log_merged`)."""
    if not paths:
        raise WorkbenchError(NO_SHARDS, fix="name the shard files: workbench runs merge shard-*.parquet")
    shards = [RunResult.load(path) for path in paths]
    dataset = load_dataset(shards[0].dataset_ref, settings.datasets_dir)
    merged = merge(shards, [str(p) for p in paths], dataset)
    if log:
        log_merged(merged, settings, traces, dataset)
    return merged


def log_merged(
    result: RunResult, settings: Settings, traces: int | None = DEFAULT_TRACES, dataset: Dataset | None = None
) -> str:
    """Log a merged run as one MLflow run (`tracking.log_run`); its configuration must still have the hash the
    shards ran with. `dataset`: the one `merge` checked the shards against (loaded again when None). Returns
    the run id (also set on `result`)."""
    prompt = resolve(result.prompt_ref, settings.prompts_dir)
    if prompt.hash != result.prompt_hash:
        raise WorkbenchError(
            f"the configuration {prompt.ref} changed since the shards ran "
            f"(hash {result.prompt_hash[:12]}, now {prompt.hash[:12]})",
            file=prompt.path,
            fix=f"restore {prompt.ref} as it was, or run the shards again",
        )
    if dataset is None:
        dataset = load_dataset(result.dataset_ref, settings.datasets_dir)
    return log_run(result, prompt, dataset, settings, traces=traces)


def auto_workers(ref: str, settings: Settings) -> int:
    """`--workers auto`: one worker per core this process may use, no more than the available memory holds
    (each worker loads its own copy of a local model: its weights plus `WORKER_MEMORY`)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    model = resolve(ref, settings.prompts_dir).spec.model
    each = WORKER_MEMORY + (model_path(model.name).stat().st_size if model.provider == "local" else 0)
    available = _available_memory()
    return max(1, min(cores, available // each if available else cores))


def _available_memory() -> int | None:
    """MemAvailable of /proc/meminfo, in bytes (None where there is none)."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def run_local(
    ref: str, dataset: str | Dataset, workers: int, settings: Settings | None = None, **options: Any
) -> RunResult:
    """`workers` shards run at once in as many worker processes (each loads its own copy of the model), then
    merged. The dataset is validated once, here (or by the caller who passes a `Dataset`), and sent to the
    workers as it is. Each worker is pinned to its own share of the cores (`_cores_of`), so a local model's
    threads (one per core a process may use) do not fight over them. `duration_s` of the result is the wall
    time of the run."""
    settings = settings or Settings.load()
    dataset = dataset_of(dataset, settings.datasets_dir)
    started = time.perf_counter()
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = [
            pool.submit(_pinned_shard, ref, dataset, Shard(i, workers), settings, options, _cores_of(i, workers))
            for i in range(1, workers + 1)
        ]
        try:
            results = [future.result() for future in futures]
        except BrokenProcessPool as exc:
            raise InfrastructureError(
                f"a worker process died while running {ref} on {dataset.ref} ({exc})",
                fix="look for a lack of memory (dmesg), or run with fewer --workers",
            ) from None
        except BaseException:
            pool.shutdown(cancel_futures=True)
            raise
    merged = merge(results, [f"worker shard {i}/{workers}" for i in range(1, workers + 1)], dataset)
    merged.duration_s = time.perf_counter() - started
    return merged


def run_on_dask(
    client: Any,
    ref: str,
    dataset_ref: str,
    shards: int,
    settings: Settings | None = None,
    log: bool = True,
    traces: int | None = DEFAULT_TRACES,
    **options: Any,
) -> RunResult:
    """`shards` shards submitted to a `distributed.Client`, merged, and logged once (unless `log` is False).

    Every worker must see the project at `settings.root` (a shared or identical checkout) and the model the
    configuration names; the response cache is each worker's `<home>/cache.sqlite`. `options`: run options of
    `evaluate` (scorers, repeats, concurrency, ...)."""
    settings = settings or Settings.load()
    dataset = load_dataset(dataset_ref, settings.datasets_dir)
    started = time.perf_counter()
    futures = [
        client.submit(run_shard, ref, dataset.ref, Shard(i, shards), settings, pure=False, **options)
        for i in range(1, shards + 1)
    ]
    results = client.gather(futures)
    merged = merge(results, [f"dask shard {i}/{shards}" for i in range(1, shards + 1)], dataset)
    merged.duration_s = time.perf_counter() - started
    if log:
        log_merged(merged, settings, traces, dataset)
    return merged


def _pinned_shard(
    ref: str, dataset: Dataset, shard: Shard, settings: Settings, options: dict, cores: list[int]
) -> RunResult:
    """`run_shard` in a worker process pinned to `cores` (when the platform can pin), on the parent's dataset."""
    if cores and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, cores)
    return run_shard(ref, dataset, shard, settings, progress=False, **options)


def _cores_of(index: int, workers: int) -> list[int]:
    """Worker `index`'s share of this process's cores: every `workers`-th from its own, at least one (workers
    beyond the cores share them one each)."""
    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    return cores[(index - 1) % len(cores) :: workers] if cores else []


def _shard(result: RunResult, source: str) -> Shard:
    text = result.params.get(SHARD)
    if not isinstance(text, str) or WHOLE_HASH not in result.params:
        raise WorkbenchError(
            f"{source} is a run of {result.prompt_ref} on {result.dataset_ref}, not a shard of one",
            fix="merge the files written by `workbench run ... --shard i/n --save FILE`",
        )
    try:
        return Shard.parse(text)
    except ValueError as exc:
        raise WorkbenchError(f"{source}: {exc}", field=SHARD, fix="merge unedited shard files") from None


def _identity(result: RunResult) -> dict[str, Any]:
    return {
        "configuration": f"{result.prompt_ref} ({result.prompt_hash[:12]})",
        "dataset": f"{result.dataset_ref} ({result.params[WHOLE_HASH][:12]})",
        "scorers": result.scorers,
        "repeats": result.repeats,
        "seed offset": result.seed_offset,
        "setup": {k: v for k, v in result.params.items() if k not in (SHARD, WHOLE_HASH)},
    }


def _same_run(result: RunResult, source: str, first: RunResult, first_source: str) -> None:
    mine, theirs = _identity(result), _identity(first)
    for what in mine:
        if mine[what] != theirs[what]:
            raise WorkbenchError(
                f"{source} ran with {what} {mine[what]}, {first_source} with {theirs[what]}",
                fix="merge the shards of one run: the same configuration version, dataset version and run "
                f"options for every shard (run {source} again)",
            )


def _check_cases(shard: Shard, result: RunResult, source: str, dataset_ref: str, owner: dict[str, int]) -> None:
    """The shard holds exactly its own cases (`owner`: the dataset's case ids and their shards): none of another
    shard or of no case of the dataset, none twice, none missing (unless a budget stopped it)."""
    record = result.record
    held = set(record["case_id"])
    unknown = sorted(held - owner.keys())
    if unknown:
        raise WorkbenchError(
            f"{source}: case(s) {', '.join(unknown[:5])} are not in {dataset_ref}",
            fix="merge shards run on this dataset version",
        )
    foreign = sorted(c for c in held if owner[c] != shard.index)
    if foreign:
        raise WorkbenchError(
            f"{source}: case(s) {', '.join(foreign[:5])} belong to other shards than {shard}: the shards overlap",
            fix="merge files written by `workbench run --shard i/n`, unedited",
        )
    twice = record[record.duplicated(["case_id", "repeat"])]
    if len(twice):
        raise WorkbenchError(
            f"{source}: case {twice['case_id'].iloc[0]} (repeat {twice['repeat'].iloc[0]}) is in it twice",
            fix="merge files written by `workbench run --shard i/n`, unedited",
        )
    absent = [case for case, index in owner.items() if index == shard.index and case not in held]
    if absent and not result.stopped:
        raise WorkbenchError(
            f"{source}: {len(absent)} case(s) of shard {shard} are missing ({', '.join(absent[:5])})",
            fix=f"run shard {shard} again",
        )


def _concatenate(results: list[RunResult], count: int, dataset: Dataset, order: dict[str, int]) -> RunResult:
    """`results.merge_runs`, in dataset order, timed as shards that ran side by side."""
    merged = merge_runs(results, dataset.hash)
    record = merged.record
    keys = pd.DataFrame({"position": record["case_id"].map(order), "repeat": record["repeat"]})
    record = record.loc[keys.sort_values(["position", "repeat"], kind="stable").index]
    stopped = [f"shard {r.params[SHARD]}: {r.stopped}" for r in results if r.stopped]
    return replace(
        merged,
        dataset_ref=dataset.ref,
        record=record.reset_index(drop=True),
        duration_s=max(r.duration_s for r in results),  # the shards ran side by side: the slowest one
        stopped="; ".join(stopped) or None,
        params={**{k: v for k, v in merged.params.items() if k not in (SHARD, WHOLE_HASH)}, SHARDS: count},
    )
