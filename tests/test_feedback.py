"""The feedback loop on real runs and real files."""

from __future__ import annotations

import json

import pytest

from workbench.datasets import load_dataset
from workbench.errors import WorkbenchError
from workbench.experiment import evaluate
from workbench.feedback import aggregate, harvest, load_annotations, select_cases


def test_annotations_from_jsonl_and_csv_aggregate_per_version(tmp_path):
    (tmp_path / "a.jsonl").write_text("".join(json.dumps(r) + "\n" for r in [
        {"case_id": "c1", "reviewer": "ana", "thumb": "down", "prompt_ref": "s@1.0.0"},
        {"case_id": "c1", "reviewer": "ana", "thumb": "up", "prompt_ref": "s@1.0.0"},  # supersedes
        {"case_id": "c2", "reviewer": "bo", "rating": 2, "prompt_ref": "s@1.0.0"}]))
    (tmp_path / "b.csv").write_text("case_id,reviewer,thumb,rating,prompt_ref\nc1,cy,down,1,s@1.1.0\nc2,cy,up,5,s@1.1.0\n")
    table = aggregate(load_annotations([tmp_path / "a.jsonl", tmp_path / "b.csv"]))
    assert table.loc["s@1.0.0", "reviews"] == 2 and table.loc["s@1.0.0", "thumbs_up_rate"] == 1.0
    assert table.loc["s@1.1.0", "mean_rating"] == 3.0 and table.loc["s@1.1.0", "thumbs_up_rate"] == 0.5
    (tmp_path / "bad.csv").write_text("case,who\nc1,x\n")
    with pytest.raises(WorkbenchError, match="bad.csv: columns: need case_id, reviewer"):
        load_annotations([tmp_path / "bad.csv"])


def test_failed_and_low_rated_cases_become_a_new_version(project, tmp_path):
    result = evaluate("tiny@1.0.0", "tiny", settings=project, progress=False, traces=0)
    (tmp_path / "f.jsonl").write_text(json.dumps({"case_id": "capital", "reviewer": "ana", "rating": 1,
                                                  "run_id": result.run_id}) + "\n")
    reasons = select_cases(result, load_annotations([tmp_path / "f.jsonl"]))
    failing = set(result.frame.loc[result.frame["passed"].eq(False).fillna(False), "case_id"])
    assert set(reasons) == failing | {"capital"} and "low-rated" in reasons["capital"]
    source = load_dataset("tiny", project.datasets_dir)
    new = harvest(result, source, source, reasons, reviewer="ana")
    assert new.ref == "tiny@2" and len(new) == 3 + len(reasons)
    added = new.cases[3:]
    assert all(c.id.endswith(result.run_id[:8]) for c in added)
    assert added[0].metadata["provenance"]["run_id"] == result.run_id and added[0].metadata["kept_because"]
    assert load_dataset("tiny@1", project.datasets_dir).hash == source.hash  # the old version is untouched


def test_cli_harvest_from_a_saved_run(project, tmp_path, capsys):
    from workbench.cli import main

    saved = tmp_path / "run.parquet"
    assert main(["--root", str(project.root), "run", "tiny@1.0.0", "--dataset", "tiny", "--no-log", "--quiet",
                 "--save", str(saved)]) == 0
    capsys.readouterr()
    (tmp_path / "f.csv").write_text("case_id,reviewer,thumb,prompt_ref\nsum,ana,down,tiny@1.0.0\n")
    code = main(["--root", str(project.root), "feedback", "harvest", str(saved), "--dataset", "tiny@1",
                 "--annotations", str(tmp_path / "f.csv"), "--reviewer", "ana"])
    out = capsys.readouterr().out
    assert code == 0 and out.startswith(f"wrote {project.datasets_dir / 'tiny' / '2.jsonl'}: tiny@2")
    assert main(["feedback", "summary", str(tmp_path / "f.csv")]) == 0
    assert "tiny@1.0.0" in capsys.readouterr().out
