"""The feedback loop on real runs and real files."""

from __future__ import annotations

import json

import pytest

from workbench.datasets import load_dataset
from workbench.errors import WorkbenchError
from workbench.experiment import evaluate
from workbench.feedback import aggregate, harvest, load_annotations, select_cases
from workbench.results import RunResult


def test_annotations_from_jsonl_and_csv_aggregate_per_version(tmp_path):
    (tmp_path / "a.jsonl").write_text(
        "".join(
            json.dumps(r) + "\n"
            for r in [
                {"case_id": "c1", "reviewer": "ana", "thumb": "down", "prompt_ref": "s@1.0.0"},
                {"case_id": "c1", "reviewer": "ana", "thumb": "up", "prompt_ref": "s@1.0.0"},  # supersedes
                {"case_id": "c2", "reviewer": "bo", "rating": 2, "prompt_ref": "s@1.0.0"},
            ]
        )
    )
    (tmp_path / "b.csv").write_text(
        "case_id,reviewer,thumb,rating,prompt_ref\nc1,cy,down,1,s@1.1.0\nc2,cy,up,5,s@1.1.0\n"
    )
    table = aggregate(load_annotations([tmp_path / "a.jsonl", tmp_path / "b.csv"]))
    assert table.loc["s@1.0.0", "reviews"] == 2 and table.loc["s@1.0.0", "thumbs_up_rate"] == 1.0
    assert table.loc["s@1.1.0", "mean_rating"] == 3.0 and table.loc["s@1.1.0", "thumbs_up_rate"] == 0.5
    (tmp_path / "bad.csv").write_text("case,who\nc1,x\n")
    with pytest.raises(WorkbenchError, match="bad.csv: columns: need case_id, reviewer"):
        load_annotations([tmp_path / "bad.csv"])


def test_bad_annotation_rows_name_file_line_and_field(tmp_path):
    (tmp_path / "a.jsonl").write_bytes(
        b"\n".join(
            [
                json.dumps({"case_id": "c1", "reviewer": "ana", "thumb": "up"}).encode(),
                json.dumps({"case_id": "c2", "reviewer": "ana", "thumb": "sideways"}).encode(),
                json.dumps({"case_id": "c3", "reviewer": "ana", "rating": 9}).encode(),
                json.dumps({"case_id": "c4", "reviewer": "ana"}).encode(),
                b'{"case_id": "c5", "reviewer": "ana", "comment": "na\xefve"}',  # latin-1
            ]
        )
    )
    with pytest.raises(WorkbenchError) as info:
        load_annotations([tmp_path / "a.jsonl"])
    path = tmp_path / "a.jsonl"
    assert str(info.value).splitlines() == [
        f"{path}:2: thumb: 'sideways' is not one of up, down (or None)",
        f"{path}:3: rating: 9 must be a whole number from 1 to 5",
        f"{path}:4: record: empty; give a thumb, a rating, a comment or a correction",
        f"{path}:5: encoding: byte 0xef at byte 52 of the line is not UTF-8; save the file as UTF-8",
    ]
    (tmp_path / "b.csv").write_bytes(b"case_id,reviewer,rating,comment\nc1,ana,2.0,ok\nc2,ana,two,\nc3,ana,,caf\xe9\n")
    with pytest.raises(WorkbenchError, match=r"b\.csv:4: encoding: byte 0xe9 is not UTF-8"):
        load_annotations([tmp_path / "b.csv"])
    (tmp_path / "b.csv").write_text("case_id,reviewer,rating,comment\nc1,ana,2.0,ok\nc2,ana,two,\n")
    with pytest.raises(WorkbenchError, match=r"b\.csv:3: rating: 'two' must be a whole number from 1 to 5"):
        load_annotations([tmp_path / "b.csv"])


def test_failed_and_low_rated_cases_become_a_new_version(project, tmp_path):
    result = evaluate("tiny@1.0.0", "tiny", settings=project, progress=False, traces=0)
    (tmp_path / "f.jsonl").write_text(
        json.dumps({"case_id": "capital", "reviewer": "ana", "rating": 1, "run_id": result.run_id}) + "\n"
    )
    annotations = load_annotations([tmp_path / "f.jsonl"])
    reasons = select_cases(result, annotations)
    failing = set(result.frame.loc[result.frame["passed"].eq(False).fillna(False), "case_id"])
    assert set(reasons) == failing | {"capital"} and "feedback" in reasons["capital"]
    source = load_dataset("tiny", project.datasets_dir)
    with pytest.raises(WorkbenchError, match="nothing to add to tiny@1: every selected case is already there"):
        harvest(result, source, reasons, annotations)  # copies of tiny@1's own cases would only double them
    write_dataset(project, "hard", [{"id": "old", "inputs": {"question": "Who wrote Hamlet?"}}])
    hard = load_dataset("hard", project.datasets_dir)
    done = harvest(result, source, reasons, annotations, into=hard, reviewer="ana")
    new = done.dataset
    assert new.ref == "hard@2" and len(new) == 1 + len(reasons) and not done.skipped
    added = new.cases[1:]
    assert [c.id for c in added] == [f"{case_id}-{result.run_id[:8]}" for case_id in reasons]
    assert added[0].metadata["provenance"]["run_id"] == result.run_id and added[0].metadata["kept_because"]
    capital = next(c for c in added if c.metadata["source_case"] == "capital")
    assert capital.metadata["feedback"][0]["rating"] == 1 and capital.expected == "Paris"
    assert load_dataset("tiny@1", project.datasets_dir).hash == source.hash  # the old version is untouched
    with pytest.raises(WorkbenchError, match="is already in hard@2"):
        harvest(result, source, reasons, annotations, into=new)  # the same run twice adds nothing


def write_dataset(project, name, cases):
    folder = project.datasets_dir / name
    folder.mkdir(parents=True)
    (folder / "1.jsonl").write_text("".join(json.dumps(c) + "\n" for c in cases))


def test_cli_harvest_from_a_saved_run(project, tmp_path, capsys):
    from workbench.cli import main

    saved = tmp_path / "run.parquet"
    assert (
        main(
            [
                "--root",
                str(project.root),
                "run",
                "tiny@1.0.0",
                "--dataset",
                "tiny",
                "--no-log",
                "--quiet",
                "--save",
                str(saved),
            ]
        )
        == 0
    )
    capsys.readouterr()
    (tmp_path / "f.csv").write_text("case_id,reviewer,thumb,prompt_ref,correction\nsum,ana,down,tiny@1.0.0,Four.\n")
    code = main(
        [
            "--root",
            str(project.root),
            "feedback",
            "harvest",
            str(saved),
            "--dataset",
            "tiny@1",
            "--annotations",
            str(tmp_path / "f.csv"),
            "--reviewer",
            "ana",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0 and out.startswith(f"wrote {project.datasets_dir / 'tiny' / '2.jsonl'}: tiny@2")
    sums = [c for c in load_dataset("tiny@2", project.datasets_dir).cases if c.metadata.get("source_case") == "sum"]
    assert [c.expected for c in sums] == [
        "Four."
    ]  # the corrected case; failed cases without one are skipped, and said so
    run = RunResult.load(saved)
    failing = set(run.frame.loc[run.frame["passed"].eq(False).fillna(False), "case_id"]) - {"sum"}
    assert all(f"{c} (as '{c}' in tiny@1)" in out for c in failing)  # failed, but already in tiny@1 as they are
    assert ("skipped" in out) == bool(failing)
    assert main(["feedback", "summary", str(tmp_path / "f.csv")]) == 0
    assert "tiny@1.0.0" in capsys.readouterr().out
