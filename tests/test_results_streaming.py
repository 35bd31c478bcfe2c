"""A run streamed to disk: the record in Parquet row groups, a bounded window of calls, a dataset read as it is
used; everything read back equals the in-memory run's."""

from __future__ import annotations

import asyncio
import json
import threading

import pandas as pd
import pytest

from workbench import record as record_module
from workbench import runner as runner_module
from workbench.datasets import CaseFile, add_cases, load_dataset
from workbench.errors import WorkbenchError
from workbench.experiment import evaluate
from workbench.record import RecordWriter, record_frame
from workbench.results import RunResult
from workbench.runner import ScoringThread, score_case
from workbench.scorers import Sample, scorer
from workbench.settings import Settings

from .simulated import write_project

SCORERS = ["exact_match", "contains", "case_checks"]


@pytest.fixture
def sim(tmp_path) -> Settings:
    write_project(tmp_path, cases=57, versions={"1.0.0": {"latency": 0.0, "concurrency": 8}})
    return Settings.load(root=tmp_path)


def _run(settings: Settings, **options) -> RunResult:
    return evaluate("sim@1.0.0", "sim", scorers=SCORERS, settings=settings, log=False, progress=False, **options)


def test_a_streamed_run_reads_back_as_the_in_memory_run(sim, monkeypatch, tmp_path):
    in_memory = _run(sim)
    assert in_memory.spool is None  # 57 rows fit in one group: nothing touched the disk
    monkeypatch.setattr(record_module, "GROUP_ROWS", 10)
    monkeypatch.setattr(runner_module, "WINDOW", 7)  # fewer calls in flight than the dataset has
    streamed = _run(sim)
    assert streamed.spool is not None and streamed.spool.path.exists()
    assert streamed.__dict__["record"] is None  # statistics below read columns, not the record
    pd.testing.assert_frame_equal(streamed.summary(), in_memory.summary())
    assert streamed.metrics().keys() == in_memory.metrics().keys()
    for name in ("cases", "calls", "errors", "input_tokens", "output_tokens"):  # the second run's answers are cached
        assert streamed.totals()[name] == in_memory.totals()[name]
    pd.testing.assert_frame_equal(streamed.case_scores(), in_memory.case_scores())
    assert streamed.row_count() == 57 and streamed.head(12)["case_id"].tolist() == [f"case-{i:03d}" for i in range(12)]
    assert streamed.__dict__["record"] is None
    columns = ["case_id", "repeat", "output", "error", "input_tokens", "blocked", "inputs", "scores"]
    pd.testing.assert_frame_equal(streamed.record[columns], in_memory.record[columns])  # dataset order kept
    assert streamed.record.dtypes.to_dict() == in_memory.record.dtypes.to_dict()
    saved = RunResult.load(streamed.save(tmp_path / "run.parquet"))
    pd.testing.assert_frame_equal(saved.record[columns], in_memory.record[columns])
    assert saved.prompt_ref == "sim@1.0.0" and saved.duration_s == streamed.duration_s
    rows = streamed.calls_of([("case-003", 0), ("case-041", 0)])
    assert list(rows.index) == [("case-003", 0), ("case-041", 0)] and rows["output"].notna().all()


def test_the_spool_file_goes_with_the_last_result_that_uses_it(sim, monkeypatch):
    monkeypatch.setattr(record_module, "GROUP_ROWS", 10)
    result = _run(sim)
    path = result.spool.path
    del result
    import gc

    gc.collect()
    assert not path.exists()


def test_the_writer_widens_its_schema_when_later_rows_bring_new_keys(tmp_path):
    rows = [{"case_id": f"c{i}", "repeat": 0, "inputs": {"q": f"x{i}"}, "output": None, "scores": []} for i in range(3)]
    rows += [
        {
            "case_id": "c3",
            "repeat": 0,
            "inputs": {"q": "y", "extra": [1, 2]},
            "output": "a",
            "input_tokens": 4,
            "chunks": [{"id": "s#0", "text": "t", "metadata": {"page": 1}}],
            "scores": [{"scorer": "s", "value": 1.0, "passed": True, "label": None, "reason": "r", "error": None}],
        }
    ]
    writer = RecordWriter(tmp_path, group_rows=2)
    writer.extend(rows)
    frame, spool = writer.close()
    assert frame is None and spool is not None
    result = RunResult("p@1", "h", "d@1", "h", spool=spool)
    expected = record_frame(rows)
    assert result.record["case_id"].tolist() == expected["case_id"].tolist()
    assert result.record.loc[3, "inputs"] == {"q": "y", "extra": [1, 2]}
    assert result.record.loc[0, "inputs"] == {"q": "x0", "extra": None}  # Parquet structs share their keys
    assert result.record.loc[3, "chunks"] == [{"id": "s#0", "text": "t", "metadata": {"page": 1}}]
    assert result.record.loc[3, "scores"][0]["passed"] is True and result.record.loc[0, "scores"] == []
    assert result.record["input_tokens"].tolist() == [pd.NA, pd.NA, pd.NA, 4]


def test_a_result_needs_a_record_or_a_spool():
    with pytest.raises(TypeError, match="needs a record"):
        RunResult("p@1", "h", "d@1", "h")


def test_plain_scorers_run_off_the_event_loop_in_shared_hops():
    threads, samples = set(), []

    @scorer(name="test_where")
    def where():
        def score(sample):
            threads.add(threading.get_ident())
            samples.append(sample)
            return True

        return score

    async def main() -> tuple[int, list]:
        scoring = ScoringThread()
        cases = [Sample(f"answer {i}", None, []) for i in range(40)]  # type: ignore[arg-type]
        rows = await asyncio.gather(*(score_case([where()], s, None, scoring) for s in cases))
        return threading.get_ident(), rows

    loop_thread, rows = asyncio.run(main())
    assert loop_thread not in threads
    assert len(samples) == 40 and all(r[0]["passed"] is True for r in rows)


def test_a_large_dataset_is_read_as_it_is_used(sim, monkeypatch):
    small = load_dataset("sim", sim.datasets_dir)
    monkeypatch.setattr("workbench.datasets.LAZY_BYTES", 0)
    large = load_dataset("sim", sim.datasets_dir)
    assert isinstance(large.cases, CaseFile) and len(large) == len(small)
    assert large.hash == small.hash and list(large.cases) == list(small.cases)
    assert large.cases[5] == small.cases[5] and large.cases[-2:] == small.cases[-2:]
    assert list(large.lines) == list(small.lines)
    assert large.select(["case-007", "nope"]) == {"case-007": small.cases[7]}
    large.check_variables(["question", "answer"])
    with pytest.raises(WorkbenchError, match=r"1\.jsonl:1: inputs: case 'case-000' lacks variable\(s\) topic"):
        large.check_variables(["question", "topic"])
    newer = add_cases(large, [{"id": "new", "inputs": {"question": "q", "answer": "a"}}])
    assert len(newer) == 58 and newer.cases[0] == small.cases[0]


def test_a_large_dataset_reports_every_bad_line(sim, monkeypatch):
    path = sim.datasets_dir / "sim" / "1.jsonl"
    lines = path.read_text().splitlines()
    lines[3] = "{not json"
    lines[9] = json.dumps({"id": "case-000", "inputs": {"question": "q", "answer": "a"}})
    path.write_text("\n".join(lines) + "\n")
    monkeypatch.setattr("workbench.datasets.LAZY_BYTES", 0)
    with pytest.raises(WorkbenchError) as error:
        load_dataset("sim", sim.datasets_dir)
    assert f"{path}:4: json:" in str(error.value) and f"{path}:10: id: duplicate id 'case-000'" in str(error.value)


def test_a_run_over_a_large_dataset_streams_both_ends(sim, monkeypatch):
    in_memory = _run(sim)
    monkeypatch.setattr("workbench.datasets.LAZY_BYTES", 0)
    monkeypatch.setattr(record_module, "GROUP_ROWS", 16)
    monkeypatch.setattr(runner_module, "WINDOW", 5)
    streamed = _run(sim)
    assert streamed.dataset_hash == in_memory.dataset_hash
    pd.testing.assert_frame_equal(streamed.summary(), in_memory.summary())


def test_the_record_is_declared_once_and_every_derived_form_agrees():
    """A column added in one place only fails here: `Call` (what writers build), the dtypes, the Parquet schema
    and the tidy view all come from `RECORD_COLUMNS` and `SCORE_RECORD`."""
    import pyarrow as pa

    from workbench.record import COLUMNS, RECORD, RECORD_COLUMNS, SCORE_RECORD, Call, arrow_types, tidy_dtypes

    assert list(Call.__annotations__) == list(RECORD_COLUMNS) == list(RECORD)
    free_form = {n for n, c in RECORD_COLUMNS.items() if c.arrow is None}
    assert set(arrow_types()) == set(RECORD_COLUMNS) - free_form == set(RECORD) - {"inputs", "chunks"}
    assert [f.name for f in arrow_types()["scores"].value_type] == list(SCORE_RECORD)
    # the tidy view: every record column but the score list, and every score part
    assert set(COLUMNS) == (set(RECORD_COLUMNS) - {"scores"}) | set(SCORE_RECORD)
    assert set(tidy_dtypes()) <= set(COLUMNS) and tidy_dtypes()["passed"] == "boolean"
    # a row of each declared default writes and reads back with the declared types
    writer = RecordWriter(group_rows=1)
    writer.add({"case_id": "c", "output": "x", "scores": [dict.fromkeys(SCORE_RECORD) | {"scorer": "s", "value": 1.0}]})
    frame, spool = writer.close()
    assert frame is None and spool is not None
    table = spool.read()
    assert table.schema.field("repeat").type == pa.int64() and table.column("blocked").to_pylist() == [False]
