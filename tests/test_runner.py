"""The runner on the real local model: rows per case x scorer, errors recorded, the cache proven."""

from __future__ import annotations

import re
import subprocess
import sys

import pandas as pd

from workbench.aio import run_sync
from workbench.datasets import load_dataset
from workbench.experiment import evaluate
from workbench.models import LocalChatModel, ModelClient
from workbench.prompts import resolve
from workbench.results import RunResult
from workbench.runner import arun
from workbench.scorers import DEFAULT_SCORERS, from_spec, scorer

from .conftest import TINY_PROMPT, write_project


def test_run_makes_one_row_per_case_and_scorer(project):
    result = evaluate("tiny@1.0.0", "tiny", settings=project, log=False, progress=False)
    frame = result.frame
    assert len(frame) == 3 * len(DEFAULT_SCORERS)
    assert set(frame["scorer"]) == set(DEFAULT_SCORERS)
    assert frame["error"].isna().all() and frame["output"].str.len().gt(0).all()
    assert (frame["input_tokens"] > 0).all() and (frame["cost"] == 0).all()
    summary = result.summary()
    assert list(summary.index) == list(DEFAULT_SCORERS)
    assert summary.loc["forbidden_terms", "n"] == 3
    totals = result.totals()
    assert totals["cases"] == 3 and totals["errors"] == 0 and totals["model_calls"] == 3
    assert "tiny@1.0.0 on tiny@1" in result.report()


def test_second_identical_run_makes_zero_model_calls(project):
    """The cache, proven with the real model, across processes: the CLI's second run calls nothing."""
    first = evaluate("tiny@1.0.0", "tiny", settings=project, log=False, progress=False)
    assert first.model_calls == 3 and first.totals()["cached"] == 0
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "workbench.cli",
            "--root",
            str(project.root),
            "run",
            "tiny@1.0.0",
            "--dataset",
            "tiny",
            "--no-log",
            "--quiet",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert re.search(r"cached 3\s+model calls 0", out), out
    again = evaluate("tiny@1.0.0", "tiny", settings=project, log=False, progress=False)
    assert again.model_calls == 0
    pd.testing.assert_series_equal(again.frame["output"], first.frame["output"])
    fresh = evaluate(
        "tiny@1.0.0", "tiny", settings=type(project)(**{**project.__dict__, "cache": False}), log=False, progress=False
    )
    assert fresh.model_calls == 3


def test_model_errors_are_recorded_per_case_and_the_run_completes(tmp_path):
    broken = TINY_PROMPT.replace(
        "provider: local\n  name: smollm2-135m",
        "provider: openai\n  name: gpt-4o-mini\n  base_url: http://127.0.0.1:9/v1\n  max_retries: 0",
    )
    write_project(tmp_path, prompt=broken)
    from workbench.settings import Settings

    result = evaluate("tiny@1.0.0", "tiny", settings=Settings.load(root=tmp_path), log=False, progress=False)
    assert result.totals()["errors"] == 3 and result.totals()["error_rate"] == 1.0
    assert result.summary()["errors"].eq(3).all()
    assert result.frame["value"].isna().all()


def test_a_failing_scorer_marks_its_rows_only(project):
    @scorer(name="test_explodes")
    def explodes():
        def score(sample):
            raise ValueError("boom")

        return score

    prompt = resolve("tiny@1.0.0", project.prompts_dir)
    dataset = load_dataset("tiny", project.datasets_dir)
    scorers = [explodes(), from_spec("forbidden_terms")]
    result = run_sync(arun(prompt, dataset, scorers, ModelClient(prompt.spec), progress=False))
    bad = result.frame[result.frame["scorer"] == "test_explodes"]
    assert bad["error"].str.contains("scorer test_explodes: ValueError: boom").all()
    assert result.summary().loc["forbidden_terms", "errors"] == 0


def test_results_round_trip_through_parquet(project, tmp_path):
    result = evaluate("tiny@1.0.0", "tiny", settings=project, log=False, progress=False)
    loaded = RunResult.load(result.save(tmp_path / "r.parquet"))
    pd.testing.assert_frame_equal(loaded.frame, result.frame)
    assert (loaded.prompt_hash, loaded.dataset_hash, loaded.scorers) == (
        result.prompt_hash,
        result.dataset_hash,
        result.scorers,
    )


def test_run_records_the_hash_in_the_lock(project):
    evaluate("tiny@1.0.0", "tiny", settings=project, log=False, progress=False)
    lock = (project.prompts_dir / "lock.json").read_text()
    assert resolve("tiny@1.0.0", project.prompts_dir).hash in lock


def test_local_model_counts_only_real_generations():
    model = LocalChatModel(max_tokens=4, temperature=0)
    model.invoke([("user", "Hi")])
    assert model.calls == 1


def test_results_saved_before_newer_columns_still_load(project, tmp_path):
    result = evaluate("tiny@1.0.0", "tiny", settings=project, log=False, progress=False)
    saved = {k: v for k, v in result.__dict__.items() if k != "record" and not k.startswith("_")}
    old = RunResult(
        **saved, record=result.frame.drop(columns=["inputs", "guardrails", "blocked"])
    )  # the older, tidy form
    loaded = RunResult.load(old.save(tmp_path / "old.parquet"))
    assert list(loaded.frame.columns) == list(result.frame.columns)
    assert loaded.cases()["blocked"].eq(False).all() and len(loaded.summary()) == len(result.summary())


def test_a_failed_retrieval_is_the_case_error(project):
    """A retriever that fails (a Chroma server gone away) marks its cases; the run completes."""
    prompt_text = (project.prompts_dir / "tiny" / "1.0.0.yaml").read_text()
    (project.prompts_dir / "tiny" / "1.1.0.yaml").write_text(
        prompt_text.replace('content: "{question}"', 'content: "{context} {question}"') + "retrieval:\n  corpus: none\n"
    )
    prompt = resolve("tiny@1.1.0", project.prompts_dir)
    dataset = load_dataset("tiny", project.datasets_dir)

    class GoneAway:
        def retrieve(self, query):
            raise ConnectionError("chroma server at 127.0.0.1:9 refused the connection")

        def format(self, chunks):
            return ""

        def describe(self):
            return {"rag.collection": "c"}

    result = run_sync(
        arun(
            prompt, dataset, [from_spec("case_checks")], ModelClient(prompt.spec), retriever=GoneAway(), progress=False
        )
    )
    assert result.cases()["error"].str.startswith("retrieval: ConnectionError").all()
    assert result.model_calls == 0 and result.params == {"rag.collection": "c"}
