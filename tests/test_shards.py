"""Sharded runs: shards are disjoint, cover every case and do not depend on order; shards run by the ordinary engine
and merged equal the unsharded run and log one MLflow run; a merge of the wrong files is exit 2 naming the file and
the fix; worker processes and a Dask LocalCluster fan the same shards out."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import pandas as pd
import pytest

from workbench import shards
from workbench.cli import main
from workbench.datasets import load_dataset
from workbench.errors import WorkbenchError
from workbench.experiment import evaluate
from workbench.results import RunResult
from workbench.settings import Settings
from workbench.shards import Shard, auto_workers, merge, merge_files, run_on_dask, run_shard, shard_of
from workbench.tracking import find_runs, load_run

from .conftest import write_project
from .simulated import PROMPT, SimulatedChatModel

CASES = 40


def simulated_project(root: Path, cases: int = CASES) -> Settings:
    """sim@1.0.0 (right 90% of the time) and sim@1.1.0 (30%): a deterministic simulated model whose answer depends
    only on the question, so any split of the cases gives the same answers; dataset `sim`."""
    for version, seed, accuracy in (("1.0.0", 1, 0.9), ("1.1.0", 2, 0.3)):
        (root / "prompts" / "sim").mkdir(parents=True, exist_ok=True)
        (root / "prompts" / "sim" / f"{version}.yaml").write_text(
            PROMPT.format(name="sim", seed=seed, accuracy=accuracy, latency=0.001, concurrency=8)
        )
    (root / "datasets" / "sim").mkdir(parents=True, exist_ok=True)
    rows = [
        {"id": f"case-{i}", "inputs": {"question": f"What is {i} + 1?", "answer": str(i + 1)}, "expected": str(i + 1)}
        for i in range(cases)
    ]
    (root / "datasets" / "sim" / "1.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return Settings.load(root=root, cache=False)


def unsharded(settings: Settings, ref: str = "sim@1.0.0") -> RunResult:
    return evaluate(ref, "sim", settings=settings, log=False, progress=False)


def assert_same_run(merged: RunResult, whole: RunResult) -> None:
    """The same cases in the same order, the same answers, the same scores."""
    columns = ["case_id", "repeat", "output", "error", "input_tokens", "output_tokens", "cached"]
    pd.testing.assert_frame_equal(merged.record[columns], whole.record[columns], check_dtype=False)  # Parquet: str
    pd.testing.assert_frame_equal(merged.case_scores(), whole.case_scores())
    assert (merged.dataset_ref, merged.dataset_hash) == (whole.dataset_ref, whole.dataset_hash)
    assert (merged.prompt_ref, merged.prompt_hash, merged.scorers) == (
        whole.prompt_ref,
        whole.prompt_hash,
        whole.scorers,
    )
    assert merged.model_calls == whole.model_calls == len(whole.record)


def test_shards_are_disjoint_cover_every_case_and_ignore_order():
    ids = [f"case-{i}" for i in range(1000)] + ["ü-ñ", "a/b", ""]
    for count in (1, 2, 3, 7):
        owners = {i: [s for s in range(1, count + 1) if Shard(s, count).holds(i)] for i in ids}
        assert all(len(found) == 1 for found in owners.values())
        sizes = [sum(found == [s] for found in owners.values()) for s in range(1, count + 1)]
        assert min(sizes) > len(ids) / count * 0.8  # roughly even
    # golden values: the split is part of the saved form, the same on every machine and Python version
    assert [shard_of(f"case-{i}", 4) for i in range(8)] == [4, 3, 4, 4, 4, 1, 2, 3]


def test_a_shard_holds_the_same_cases_whatever_the_order_of_the_dataset(tmp_path):
    settings = simulated_project(tmp_path, cases=12)
    first = run_shard("sim@1.0.0", "sim", Shard(2, 3), settings, progress=False)
    data = tmp_path / "datasets" / "sim" / "1.jsonl"
    lines = data.read_text().splitlines(keepends=True)
    random.Random(0).shuffle(lines)
    data.write_text("".join(lines))
    again = run_shard("sim@1.0.0", "sim", Shard(2, 3), settings, progress=False)
    assert sorted(again.record["case_id"]) == sorted(first.record["case_id"]) and len(first.record)
    assert again.params["shard.dataset_hash"] != first.params["shard.dataset_hash"]  # the order is in the hash


def test_shard_spec_is_checked():
    assert Shard.parse("2/4") == Shard(2, 4) and str(Shard(2, 4)) == "2/4"
    for bad in ("3/2", "0/2", "1", "a/b", "1/0", "-1/2", "1/2/3"):
        with pytest.raises(ValueError):
            Shard.parse(bad)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--shard", "3/2"], "shard 3/2 does not exist"),
        (["--shard", "x"], "'x' is not i/n"),
        (["--shard", "1/2"], "add --save shard-1.parquet"),
        (["--shard", "1/2", "--workers", "2", "--save", "s.parquet"], "not allowed with argument"),
        (["--workers", "0"], "0 is below 1"),
    ],
)
def test_bad_shard_options_exit_2_with_the_fix(tmp_path, capsys, args, message):
    simulated_project(tmp_path)
    try:
        code = main(["--root", str(tmp_path), "run", "sim@1.0.0", "--dataset", "sim", *args])
    except SystemExit as exc:  # argparse's own exit; the console script returns it
        code = exc.code
    assert code == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "s.parquet").exists() and not (tmp_path / ".workbench" / "mlflow.db").exists()


def run_shards(root: Path, count: int, ref: str = "sim@1.0.0", prefix: str = "shard") -> list[Path]:
    paths = []
    for i in range(1, count + 1):
        path = root / f"{prefix}-{i}.parquet"
        argv = ["--root", str(root), "run", ref, "--dataset", "sim", "--shard", f"{i}/{count}"]
        assert main([*argv, "--save", str(path), "--no-cache", "--quiet"]) == 0
        paths.append(path)
    return paths


def test_merged_shards_equal_the_unsharded_run_and_log_one_mlflow_run(tmp_path, capsys):
    settings = simulated_project(tmp_path)
    paths = run_shards(tmp_path, 3)
    assert not (tmp_path / ".workbench" / "mlflow.db").exists()  # a shard logs nothing
    parts = [RunResult.load(p) for p in paths]
    assert sorted(c for p in parts for c in p.record["case_id"]) == sorted(f"case-{i}" for i in range(CASES))
    assert all(len(p.record) < CASES for p in parts)

    merged_file = tmp_path / "merged.parquet"
    assert main(["--root", str(tmp_path), "runs", "merge", *map(str, reversed(paths)), "--save", str(merged_file)]) == 0
    assert "cases 40" in capsys.readouterr().out
    whole = unsharded(settings)
    merged = RunResult.load(merged_file)
    assert_same_run(merged, whole)
    assert merged.params["shards"] == 3 and merged.run_id

    runs = find_runs(settings)
    assert len(runs) == 1 and runs["run_id"][0] == merged.run_id and runs["status"][0] == "complete"
    logged = load_run(merged.run_id, settings)
    assert_same_run(logged, whole)


def test_a_merge_of_the_wrong_files_is_exit_2_naming_the_file_and_the_fix(tmp_path, capsys):
    settings = simulated_project(tmp_path)
    paths = run_shards(tmp_path, 3)
    other = run_shards(tmp_path, 3, ref="sim@1.1.0", prefix="other")
    two = run_shards(tmp_path, 2, prefix="halves")

    def merged(*files: Path) -> str:
        assert main(["--root", str(tmp_path), "runs", "merge", *map(str, files), "--no-log"]) == 2
        return capsys.readouterr().err

    assert "shard(s) 3/3 of sim@1.0.0 on sim@1 are missing" in merged(paths[0], paths[1])
    assert "--shard 3/3 --save shard-3.parquet" in merged(paths[0], paths[1])
    assert f"{paths[0]} and {paths[0]} are both shard 1/3" in merged(paths[0], *paths)
    err = merged(paths[0], paths[1], other[2])
    assert str(other[2]) in err and "configuration sim@1.1.0" in err and "run " in err
    assert f"{two[0]} is shard 1/2 but {paths[0]} is shard 1/3" in merged(paths[0], two[0])
    whole = tmp_path / "whole.parquet"
    unsharded(settings).save(whole)
    assert f"{whole} is a run of sim@1.0.0 on sim@1, not a shard of one" in merged(whole)
    assert "not a saved workbench run" in merged(tmp_path / "datasets" / "sim" / "1.jsonl")

    # an edited shard: a case of another shard copied into it is an overlap
    tampered = RunResult.load(paths[0])
    tampered.record = pd.concat([tampered.record, RunResult.load(paths[1]).record.iloc[:1]], ignore_index=True)
    tampered.save(tmp_path / "tampered.parquet")
    err = merged(tmp_path / "tampered.parquet", paths[1], paths[2])
    assert "belong to other shards than 1/3: the shards overlap" in err and "tampered.parquet" in err
    # a shard missing one of its cases
    short = RunResult.load(paths[1])
    short.record = short.record.iloc[1:].reset_index(drop=True)
    short.save(tmp_path / "short.parquet")
    assert "1 case(s) of shard 2/3 are missing" in merged(paths[0], tmp_path / "short.parquet", paths[2])

    # the dataset changed after the shards ran
    data = tmp_path / "datasets" / "sim" / "1.jsonl"
    data.write_text(data.read_text().replace('"expected": "1"', '"expected": "one"'))
    err = merged(*paths)
    assert str(data) in err and "the shards ran on sim@1" in err and "run the shards again" in err
    assert not (tmp_path / ".workbench" / "mlflow.db").exists()


def test_merge_checks_every_case_of_the_dataset(tmp_path):
    """`merge` itself (what every fan-out calls): an empty list, and shards that each hold all their cases."""
    settings = simulated_project(tmp_path, cases=5)
    dataset = load_dataset("sim", settings.datasets_dir)
    with pytest.raises(WorkbenchError, match="no shards to merge"):
        merge([], [], dataset)
    with pytest.raises(WorkbenchError, match="no shards to merge"):
        merge_files([], settings)
    parts = [run_shard("sim@1.0.0", "sim", Shard(i, 8), settings, progress=False) for i in range(1, 9)]
    assert any(len(p.record) == 0 for p in parts)  # 5 cases in 8 shards: some are empty, and still merge
    assert_same_run(merge(parts, [f"s{i}" for i in range(8)], dataset), unsharded(settings))


def test_a_validated_dataset_is_passed_down_and_never_read_again(tmp_path):
    """The dataset is validated once, by its caller: the shards, the merge and the log take the `Dataset`, so with
    its file gone (a second validation would fail: no dataset named 'sim') they still run, merge and log."""
    settings = simulated_project(tmp_path, cases=12)
    whole = unsharded(settings)
    dataset = load_dataset("sim", settings.datasets_dir)
    dataset.path.unlink()
    with pytest.raises(WorkbenchError, match="no dataset named .sim."):
        load_dataset("sim", settings.datasets_dir)
    parts = [run_shard("sim@1.0.0", dataset, Shard(i, 2), settings, progress=False) for i in (1, 2)]
    merged = merge(parts, ["shard 1/2", "shard 2/2"], dataset)
    assert_same_run(merged, whole)
    run_id = shards.log_merged(merged, settings, 0, dataset)
    assert list(find_runs(settings)["run_id"]) == [run_id]


@pytest.mark.slow  # spawned processes import the stack: about 30 s on two busy cores
def test_workers_get_the_dataset_their_parent_validated(tmp_path):
    """`--workers N` validated the dataset 2 + 2N times; now once, in the parent: the workers run with its file gone."""
    settings = simulated_project(tmp_path, cases=12)
    whole = unsharded(settings)
    dataset = load_dataset("sim", settings.datasets_dir)
    dataset.path.unlink()
    assert_same_run(shards.run_local("sim@1.0.0", dataset, 2, settings), whole)


@pytest.mark.slow  # spawned processes import the stack: about 30 s on two busy cores
def test_workers_run_shards_in_processes_and_log_one_run(tmp_path, capsys):
    settings = simulated_project(tmp_path)
    saved = tmp_path / "workers.parquet"
    argv = ["--root", str(tmp_path), "run", "sim@1.0.0", "--dataset", "sim", "--workers", "2", "--no-cache"]
    assert main([*argv, "--quiet", "--save", str(saved), "--metrics-file", str(tmp_path / "m.prom")]) == 0
    merged = RunResult.load(saved)
    assert_same_run(merged, unsharded(settings))
    assert merged.params["shards"] == 2
    runs = find_runs(settings)
    assert list(runs["run_id"]) == [merged.run_id]
    assert (
        f'workbench_requests_total{{configuration="sim",source="evaluation",version="1.0.0"}} {CASES}.0'
        in (tmp_path / "m.prom").read_text()
    )


@pytest.mark.slow  # a LocalCluster of two processes: about 45 s on two busy cores
def test_dask_local_cluster_runs_the_shards_and_logs_one_run(tmp_path):
    distributed = pytest.importorskip("distributed")
    settings = simulated_project(tmp_path)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        with distributed.Client(cluster) as client:
            merged = run_on_dask(client, "sim@1.0.0", "sim", 3, settings, progress=False)
            workers = {w["id"] for w in client.scheduler_info()["workers"].values()}
    assert len(workers) == 2
    assert_same_run(merged, unsharded(settings))
    runs = find_runs(settings)
    assert list(runs["run_id"]) == [merged.run_id]
    assert_same_run(load_run(merged.run_id, settings), merged)


def test_auto_workers_are_the_cores_as_memory_allows(tmp_path, monkeypatch):
    write_project(tmp_path)
    settings = simulated_project(tmp_path)
    cores = len(os.sched_getaffinity(0))
    assert auto_workers("tiny@1.0.0", settings) == auto_workers("sim@1.0.0", settings) == cores  # 24 GB here
    weights = shards.model_path("smollm2-135m").stat().st_size
    monkeypatch.setattr(shards, "_available_memory", lambda: shards.WORKER_MEMORY + weights + 1)
    assert auto_workers("tiny@1.0.0", settings) == 1  # room for one copy of the model
    monkeypatch.setattr(shards, "_available_memory", lambda: 2 * shards.WORKER_MEMORY + 1)
    assert auto_workers("sim@1.0.0", settings) == min(2, cores)  # a remote model: no weights to load
    monkeypatch.setattr(shards, "_available_memory", lambda: None)
    assert auto_workers("tiny@1.0.0", settings) == cores


@pytest.mark.slow
def test_workers_on_the_local_model_answer_as_one_process(tmp_path):
    """Worker processes, each with its own copy of SmolLM2 pinned to a core, answer as one process does."""
    write_project(tmp_path)
    settings = Settings.load(root=tmp_path, cache=False)
    saved = tmp_path / "workers.parquet"
    argv = ["--root", str(tmp_path), "run", "tiny@1.0.0", "--dataset", "tiny", "--workers", "auto", "--no-cache"]
    assert main([*argv, "--no-log", "--quiet", "--save", str(saved)]) == 0
    merged = RunResult.load(saved)
    assert merged.params["shards"] == auto_workers("tiny@1.0.0", settings) >= 2  # this machine has two cores
    assert_same_run(merged, evaluate("tiny@1.0.0", "tiny", settings=settings, log=False))


class DyingChatModel(SimulatedChatModel):
    """A model whose process dies when asked (as a worker killed for lack of memory does)."""

    async def _agenerate(self, *args, **kwargs):
        os._exit(9)


@pytest.mark.slow  # spawned processes import the stack
def test_a_worker_that_dies_is_exit_3_and_logs_nothing(tmp_path, capsys):
    simulated_project(tmp_path)
    prompt = tmp_path / "prompts" / "sim" / "1.0.0.yaml"
    prompt.write_text(prompt.read_text().replace("tests.simulated.SimulatedChatModel", f"{__name__}.DyingChatModel"))
    argv = ["--root", str(tmp_path), "run", "sim@1.0.0", "--dataset", "sim", "--workers", "2", "--quiet"]
    assert main(argv) == 3
    err = capsys.readouterr().err
    assert "a worker process died while running sim@1.0.0 on sim@1" in err and "fewer --workers" in err
    assert not (tmp_path / ".workbench" / "mlflow.db").exists()
