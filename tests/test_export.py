"""Fine-tuning export of curated cases: OpenAI chat JSONL, a Hugging Face dataset, redaction, dedup, split, manifest."""

from __future__ import annotations

import json

import pytest

from tests.test_review import run  # noqa: F401  (the scripted, saved run)
from workbench.cli import main
from workbench.errors import WorkbenchError
from workbench.export import export_finetune
from workbench.review import queue


def cli(project, *args: str) -> int:
    return main(["--root", str(project.root), *args])


@pytest.fixture
def reviewed(project, run):  # noqa: F811
    review, _ = queue(run, project)
    review.label("sum", "fail", correction="It is 4.")
    review.label("color", "pass", rating=4)
    review.label("capital", "fail")  # a reviewer overrides the passing checks
    return run


def test_curated_cases_become_chat_jsonl_and_a_hf_dataset(project, reviewed, capsys):
    import datasets

    out = project.root / "ft"
    assert cli(project, "export", "finetune", str(project.root / "run.parquet"), "--out", str(out), "--seed", "7") == 0
    assert "1 train + 1 validation examples (corrected 1, reviewed 1" in capsys.readouterr().out
    lines = [
        json.loads(line)
        for name in ("train", "validation")
        for line in (out / f"{name}.jsonl").read_text().splitlines()
    ]
    by_answer = {example["messages"][-1]["content"]: example["messages"] for example in lines}
    assert set(by_answer) == {"It is 4.", "Mail [EMAIL], the sky is blue <script>alert(1)</script>"}
    assert by_answer["It is 4."] == [
        {"role": "system", "content": "Answer briefly."},
        {"role": "user", "content": "What is 2 + 2?"},
        {"role": "assistant", "content": "It is 4."},
    ]
    hf = datasets.load_from_disk(str(out / "hf"))
    assert set(hf) == {"train", "validation"} and hf["train"].num_rows + hf["validation"].num_rows == 2
    assert {row["messages"][-1]["content"] for split in hf.values() for row in split} == set(by_answer)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["seed"] == 7 and manifest["counts"]["redactions"] == 1 and manifest["counts"]["duplicates"] == 0
    [source] = manifest["runs"]
    assert source["configuration"] == "bot@1.0.0" and source["configuration_hash"] == reviewed.prompt_hash
    assert source["dataset"] == "tiny@1" and source["dataset_hash"] == reviewed.dataset_hash
    assert "capital" not in {row["id"] for split in hf.values() for row in split}  # failed by a reviewer
    allowed = project.root / "allowed"
    assert (
        cli(
            project,
            "export",
            "finetune",
            str(project.root / "run.parquet"),
            "--out",
            str(allowed),
            "--pii-allow",
            "blue@example.org",
        )
        == 0
    )
    assert "Mail blue@example.org" in (allowed / "train.jsonl").read_text() + (allowed / "validation.jsonl").read_text()


def test_the_split_is_seeded_and_duplicates_are_dropped(project, reviewed, tmp_path):
    one = export_finetune(
        [reviewed, reviewed], tmp_path / "a", project, take=("corrected", "reviewed", "passing"), validation=0.5, seed=1
    )
    two = export_finetune(
        [reviewed], tmp_path / "b", project, take=("corrected", "reviewed", "passing"), validation=0.5, seed=1
    )
    assert one.manifest["counts"]["duplicates"] == 2  # the same run twice
    assert [e.id for e in one.train] == [e.id for e in two.train] and len(one.train) + len(one.validation) == 2
    assert not list(tmp_path.glob(".a*")) + list(tmp_path.glob(".b*"))  # no temporary folder left


def test_passing_cases_of_a_run(project, run, tmp_path):  # noqa: F811
    result = export_finetune([run], tmp_path / "p", project, take=("passing",), validation=0)
    assert [e.id for e in result.train] == ["capital", "color"] and result.validation == []  # sum failed its check
    assert not (tmp_path / "p" / "validation.jsonl").exists()


def test_bad_options_exit_2_and_write_nothing(project, reviewed, capsys):
    parquet = str(project.root / "run.parquet")
    out = project.root / "ft"
    for extra, message in (
        (["--take", "vibes"], "--take: vibes is not a selection"),
        (["--validation", "1.5"], "--validation: 1.5 is not a fraction"),
        (["--take", "passing", "--out", str(project.root / "no" / "dir")], "no folder"),
    ):
        args = ["export", "finetune", parquet, "--out", str(out), *extra]
        assert cli(project, *args) == 2
        assert message in capsys.readouterr().err
    assert not out.exists() and not list(project.root.glob(".ft*"))
    out.mkdir()
    assert cli(project, "export", "finetune", parquet, "--out", str(out)) == 2
    assert "already exists; choose a new folder or pass --overwrite" in capsys.readouterr().err
    assert cli(project, "export", "finetune", parquet, "--out", str(out), "--overwrite") == 0
    assert (out / "manifest.json").exists()


def test_nothing_curated_is_an_error(project, run, tmp_path):  # noqa: F811
    with pytest.raises(WorkbenchError, match="no curated cases"):
        export_finetune([run], tmp_path / "x", project, take=("reviewed",))
    assert not (tmp_path / "x").exists()


def test_a_changed_configuration_is_refused(project, run, tmp_path):  # noqa: F811
    path = project.prompts_dir / "bot" / "1.0.0.yaml"
    path.write_text(path.read_text().replace("Answer briefly.", "Answer at length."))
    with pytest.raises(WorkbenchError, match="content changed"):
        export_finetune([run], tmp_path / "x", project, take=("passing",))
