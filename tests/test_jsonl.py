"""The one JSONL reader and appender: line numbers, strict UTF-8, validation by the caller's model, atomic appends."""

from __future__ import annotations

import json
import multiprocessing

import pytest
from pydantic import BaseModel, ConfigDict, Field, field_validator

from workbench.errors import WorkbenchError
from workbench.jsonl import append_jsonl, parse_jsonl, read_jsonl


class Item(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    n: int = Field(0, ge=0)

    @field_validator("id")
    @classmethod
    def _no_space(cls, value: str) -> str:
        if " " in value:
            raise ValueError(f"'{value}' holds a space; write ids without spaces")
        return value


def test_rows_come_back_typed_with_their_line_numbers_and_blank_lines_skipped(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_bytes(
        b'\xef\xbb\xbf{"id": "a"}\n\n   \n{"id": "b", "n": 2}\r\n{"id": "c\xe2\x80\xa8d"}'
    )  # BOM, CRLF, U+2028
    rows = read_jsonl(path, Item)
    assert [(r.line, r.value.id, r.value.n) for r in rows] == [(1, "a", 0), (4, "b", 2), (5, "c\u2028d", 0)]
    assert all(isinstance(r.value, Item) for r in rows)


def test_every_problem_is_file_line_field_message(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_bytes(
        b"\n".join(
            [
                b'{"id": "a"}',
                b'{"id": "caf\xe9"}',  # latin-1, not UTF-8
                b'{"id": ',
                b"[1, 2]",
                b'{"id": "b", "n": -1, "x": 1}',
                b'{"id": "a b"}',
                b'{"id": "a"}',
                b"{}",
            ]
        )
    )
    rows, problems = parse_jsonl(path, Item, unique="id")
    assert [r.line for r in rows] == [1]
    assert problems == [
        f"{path}:2: encoding: byte 0xe9 at byte 12 of the line is not UTF-8; save the file as UTF-8",
        f"{path}:3: json: Expecting value at column 8; write one JSON object per line",
        f"{path}:4: json: a list, not an object; write one JSON object per line",
        f"{path}:5: n: Input should be greater than or equal to 0",
        f"{path}:5: x: unknown key",
        f"{path}:6: id: 'a b' holds a space; write ids without spaces",
        f"{path}:7: id: duplicate id 'a' (first on line 1); ids must be unique",
        f"{path}:8: id: Field required",
    ]
    with pytest.raises(WorkbenchError) as info:
        read_jsonl(path, Item, unique="id")
    assert str(info.value).splitlines() == problems  # one error, every problem, no traceback of a UnicodeDecodeError


def test_missing_empty_and_many_problems(tmp_path):
    with pytest.raises(WorkbenchError, match=r"nope\.jsonl: cannot read the labeled set: No such file"):
        read_jsonl(tmp_path / "nope.jsonl", Item, what="labeled set")
    (tmp_path / "e.jsonl").write_text("\n \n")
    with pytest.raises(WorkbenchError, match=r"e\.jsonl:1: file: the dataset is empty; write one JSON object per line"):
        read_jsonl(tmp_path / "e.jsonl", Item, what="dataset")
    assert read_jsonl(tmp_path / "e.jsonl", Item, allow_empty=True) == []
    (tmp_path / "m.jsonl").write_text("{}\n" * 25)
    with pytest.raises(WorkbenchError) as info:
        read_jsonl(tmp_path / "m.jsonl", Item)
    lines = str(info.value).splitlines()
    assert len(lines) == 21 and lines[-1] == "... and 5 more"


def test_append_writes_whole_lines_and_closes_a_torn_one(tmp_path):
    path = tmp_path / "deep" / "log.jsonl"
    append_jsonl(path, [Item(id="a"), {"id": "b", "n": 1}])
    assert [r.value.id for r in read_jsonl(path, Item)] == ["a", "b"]
    with open(path, "a") as handle:
        handle.write('{"id": "torn')  # a writer died mid-line
    append_jsonl(path, [Item(id="c")])
    rows, problems = parse_jsonl(path, Item)
    assert (
        [r.value.id for r in rows] == ["a", "b", "c"]
        and len(problems) == 1
        and problems[0].startswith(f"{path}:3: json:")
    )
    append_jsonl(path, [])
    assert path.read_text().count("\n") == 4


def _writer(path: str, name: str) -> None:
    for n in range(200):
        append_jsonl(path, [{"id": f"{name}{n}", "n": n, "pad": "x" * 2000}])


def test_two_processes_appending_at_once_never_interleave(tmp_path):
    class Padded(Item):
        pad: str

    path = tmp_path / "shared.jsonl"
    workers = [multiprocessing.get_context("spawn").Process(target=_writer, args=(str(path), name)) for name in "ab"]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    rows = read_jsonl(path, Padded, unique="id")
    assert len(rows) == 400 and sorted(r.value.id for r in rows) == sorted(f"{x}{n}" for x in "ab" for n in range(200))
    assert json.loads(path.read_text().splitlines()[0])["pad"] == "x" * 2000
