"""The one JSONL reader and appender: strict UTF-8, line numbers, each row validated by a pydantic model the caller
passes, every problem as `file:line: field: message` with the fix. Blank lines are skipped; a UTF-8 BOM is allowed.

Core layer: imports nothing from the package but `errors`.
"""

from __future__ import annotations

import codecs
import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from .errors import WorkbenchError

M = TypeVar("M", bound=BaseModel)
SHOWN = 20  # problems listed in one error; the rest are counted


@dataclass(frozen=True)
class Row(Generic[M]):
    """One valid row and the file line it came from."""

    line: int
    value: M


def messages(error: ValidationError) -> list[str]:
    """`field: message` for each error of a pydantic validation (`record` when no field is involved)."""
    out = []
    for item in error.errors():
        where = ".".join(str(part) for part in item["loc"]) or "record"
        if item["type"] == "extra_forbidden":
            message = "unknown key"
        else:
            message = item["msg"].removeprefix("Value error, ")
        out.append(f"{where}: {message}")
    return list(dict.fromkeys(out))


def validate_row(path: str | Path, line: int, data: Any, model: type[M]) -> tuple[M | None, list[str]]:
    """`data` (one parsed row) as `model`, or None and its `file:line: field: message` problems."""
    if not isinstance(data, dict):
        kind = type(data).__name__ if data is not None else "null"
        return None, [f"{path}:{line}: json: a {kind}, not an object; write one JSON object per line"]
    try:
        return model.model_validate(data), []
    except ValidationError as exc:
        return None, [f"{path}:{line}: {message}" for message in messages(exc)]


def parse_jsonl(
    path: str | Path, model: type[M], *, what: str = "file", unique: str | None = None, allow_empty: bool = False
) -> tuple[list[Row[M]], list[str]]:
    """Every valid row of `path` with its line number, and one `file:line: field: message` per problem.

    `what` names the file in messages ("dataset", "labeled set"); `unique` names a field whose (non-null) values
    must not repeat; an empty file is a problem unless `allow_empty`. Nothing is raised for bad content.
    """
    rows: list[Row[M]] = []
    problems: list[str] = []
    for row, found, _ in scan_jsonl(path, model, what=what, unique=unique, allow_empty=allow_empty):
        problems += found
        if row is not None:
            rows.append(row)
    return rows, problems


def scan_jsonl(
    path: str | Path, model: type[M], *, what: str = "file", unique: str | None = None, allow_empty: bool = False
) -> Iterator[tuple[Row[M] | None, list[str], int]]:
    """`parse_jsonl` one line at a time, for files too large to hold: (the valid row or None, its problems,
    the byte offset of its line), read from disk as it goes."""
    path = Path(path)
    try:
        handle = path.open("rb")
    except OSError as exc:
        yield None, [f"{path}: cannot read the {what}: {exc.strerror}; check the path"], 0
        return
    seen: dict[Any, int] = {}
    valid = problems = 0
    offset = 0
    with handle:
        for number, raw in enumerate(handle, start=1):
            start, offset = offset, offset + len(raw)
            raw = raw.removesuffix(b"\n")
            if number == 1 and raw.startswith(codecs.BOM_UTF8):
                raw = raw[len(codecs.BOM_UTF8) :]
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                problems += 1
                yield (
                    None,
                    [
                        f"{path}:{number}: encoding: byte 0x{raw[exc.start]:02x} at byte {exc.start + 1} of the "
                        "line is not UTF-8; save the file as UTF-8"
                    ],
                    start,
                )
                continue
            if not text.strip():
                continue
            try:
                parsed = json.loads(text)
            except json.JSONDecodeError as exc:
                problems += 1
                message = f"{path}:{number}: json: {exc.msg} at column {exc.colno}; write one JSON object per line"
                yield None, [message], start
                continue
            value, found = validate_row(path, number, parsed, model)
            if value is None:
                problems += 1
                yield None, found, start
                continue
            key = getattr(value, unique) if unique else None
            if key is not None and key in seen:
                problems += 1
                yield (
                    None,
                    [
                        f"{path}:{number}: {unique}: duplicate {unique} '{key}' (first on line {seen[key]}); "
                        f"{unique}s must be unique"
                    ],
                    start,
                )
                continue
            if key is not None:
                seen[key] = number
            valid += 1
            yield Row(number, value), [], start
    if not valid and not problems and not allow_empty:
        yield None, [f"{path}:1: file: the {what} is empty; write one JSON object per line"], 0


def raise_problems(problems: list[str]) -> None:
    """Raise one `WorkbenchError` listing the problems (the first 20, then a count); nothing when there are none."""
    if problems:
        more = f"\n... and {len(problems) - SHOWN} more" if len(problems) > SHOWN else ""
        raise WorkbenchError("\n".join(problems[:SHOWN]) + more)


def read_jsonl(
    path: str | Path, model: type[M], *, what: str = "file", unique: str | None = None, allow_empty: bool = False
) -> list[Row[M]]:
    """`parse_jsonl`, raising a `WorkbenchError` with every problem."""
    rows, problems = parse_jsonl(path, model, what=what, unique=unique, allow_empty=allow_empty)
    raise_problems(problems)
    return rows


def append_jsonl(path: str | Path, records: Iterable[BaseModel | dict[str, Any]]) -> None:
    """Append records as lines in one write, fsynced: on disk when this returns, never interleaved with another
    process's lines (O_APPEND). A torn last line left by a crash is closed first, so it stays one bad line."""
    lines = [r.model_dump(mode="json") if isinstance(r, BaseModel) else r for r in records]
    body = "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines).encode("utf-8")
    if not body:
        return
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        size = os.fstat(fd).st_size
        if size:
            with open(path, "rb") as handle:
                handle.seek(size - 1)
                if handle.read(1) != b"\n":
                    body = b"\n" + body
        view = memoryview(body)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
