from __future__ import annotations

import json

import pytest

from workbench.datasets import add_cases, load_dataset, parse
from workbench.errors import WorkbenchError


def write(path, lines):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")


def test_problems_have_line_numbers(tmp_path):
    path = tmp_path / "d" / "1.jsonl"
    write(
        path,
        [
            json.dumps({"id": "a", "inputs": {"q": "x"}}),
            "{not json",
            json.dumps({"id": "a", "inputs": {"q": "y"}}),
            json.dumps({"id": "b", "inputs": "not an object"}),
            json.dumps({"id": "c", "inputs": {}, "extra": 1}),
            json.dumps({"id": "d", "inputs": {}, "tags": "not-a-list"}),
        ],
    )
    cases, lines, problems = parse(path)
    assert [c.id for c in cases] == ["a"] and lines == [1]
    assert problems[0].startswith(f"{path}:2: json: ")
    assert problems[1] == f"{path}:3: id: duplicate id 'a' (first on line 1); ids must be unique"
    assert problems[2].startswith(f"{path}:4: inputs: ")
    assert problems[3] == f"{path}:5: extra: unknown key"
    assert problems[4].startswith(f"{path}:6: tags: ")


def test_missing_variables_are_reported_by_line(tmp_path):
    write(
        tmp_path / "d" / "1.jsonl",
        ["", json.dumps({"id": "a", "inputs": {"question": "x"}}), json.dumps({"id": "b", "inputs": {"other": "y"}})],
    )
    dataset = load_dataset("d", tmp_path)
    with pytest.raises(WorkbenchError, match=r"1.jsonl:3: inputs: case 'b' lacks variable\(s\) question"):
        dataset.check_variables(["question"])


def test_hash_is_the_content(tmp_path):
    case = {"id": "a", "inputs": {"q": "x"}, "expected": "y"}
    write(tmp_path / "d" / "1.jsonl", [json.dumps(case)])
    write(tmp_path / "e" / "1.jsonl", [json.dumps(dict(reversed(list(case.items()))))])
    write(tmp_path / "f" / "1.jsonl", [json.dumps({**case, "expected": "z"})])
    d, e, f = (load_dataset(n, tmp_path) for n in "def")
    assert d.hash == e.hash != f.hash


def test_adding_cases_writes_a_new_version_and_keeps_the_old(tmp_path):
    path = tmp_path / "d" / "1.jsonl"
    write(path, [json.dumps({"id": "a", "inputs": {"q": "x"}})])
    before = path.read_bytes()
    old = load_dataset("d", tmp_path)
    new = add_cases(old, [{"id": "b", "inputs": {"q": "y"}, "tags": ["failure"]}], provenance={"run": "r1"})
    assert path.read_bytes() == before
    assert (new.ref, len(new)) == ("d@2", 2)
    reloaded = load_dataset("d", tmp_path)
    assert reloaded.ref == "d@2" and reloaded.hash == new.hash != old.hash
    assert reloaded.cases[1].metadata == {"provenance": {"run": "r1"}}
    assert load_dataset("d@1", tmp_path).hash == old.hash
    with pytest.raises(WorkbenchError, match="already used: a"):
        add_cases(reloaded, [{"id": "a", "inputs": {"q": "z"}}])
    assert not (tmp_path / "d" / "3.jsonl").exists()


def test_unknown_dataset_version(tmp_path):
    write(tmp_path / "d" / "1.jsonl", [json.dumps({"id": "a", "inputs": {}})])
    with pytest.raises(WorkbenchError, match="versions are: d@1"):
        load_dataset("d@7", tmp_path)


def test_repository_datasets_are_valid():
    from pathlib import Path

    root = Path(__file__).parent.parent / "datasets"
    for name in ("support", "summarizer"):
        assert len(load_dataset(name, root)) >= 40


def test_a_non_utf8_byte_is_named_with_file_and_line(tmp_path):
    path = tmp_path / "d" / "1.jsonl"
    path.parent.mkdir(parents=True)
    path.write_bytes(
        json.dumps({"id": "a", "inputs": {"q": "x"}}).encode() + b'\n{"id": "b", "inputs": {"q": "caf\xe9"}}\n'
    )
    with pytest.raises(
        WorkbenchError,
        match=r"1\.jsonl:2: encoding: byte 0xe9 at byte 33 of the line is not UTF-8; "
        r"save the file as UTF-8",
    ):
        load_dataset("d", tmp_path)
