"""Golden datasets: `datasets/<name>/<n>.jsonl`, validated with line numbers, content-hashed, append-only."""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from .errors import WorkbenchError
from .jsonl import parse_jsonl, raise_problems

VERSION_FILE = re.compile(r"^(\d+)\.jsonl$")


class Checks(BaseModel):
    """Per-case assertions: every `must_contain` present, no `must_not_contain` (case-insensitive)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    must_contain: list[str] = []
    must_not_contain: list[str] = []


class Case(BaseModel):
    """One golden case."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str = Field(min_length=1)
    inputs: dict[str, Any]
    expected: str | None = None
    expected_contexts: list[str] = []
    checks: Checks = Checks()
    tags: list[str] = []
    metadata: dict[str, Any] = {}


@dataclass(frozen=True)
class Dataset:
    """One version of a golden dataset: its cases, where they came from (file and line), and its content hash."""

    name: str
    version: int
    path: Path
    cases: list[Case] = field(repr=False)
    lines: list[int] = field(default_factory=list, repr=False)  # the file line of each case

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"

    @property
    def hash(self) -> str:
        """sha256 over the canonical cases, in order."""
        return content_hash(self.cases)

    def __len__(self) -> int:
        return len(self.cases)

    def check_variables(self, variables: list[str]) -> None:
        """Raise, naming each case and line, when a case lacks a variable the configuration needs."""
        problems = [
            f"{self.path}:{line}: inputs: case '{case.id}' lacks variable(s) {', '.join(missing)}"
            for line, case in zip(self.lines or range(1, len(self.cases) + 1), self.cases)
            if (missing := [v for v in variables if v not in case.inputs])
        ]
        raise_problems(problems)


def content_hash(cases: list[Case]) -> str:
    digest = hashlib.sha256()
    for case in cases:
        digest.update(json.dumps(case.model_dump(mode="json"), sort_keys=True, separators=(",", ":")).encode())
        digest.update(b"\n")
    return digest.hexdigest()


def parse(path: Path) -> tuple[list[Case], list[int], list[str]]:
    """Read a JSONL file: its cases, their line numbers, and one `file:line: field: message` per problem."""
    rows, problems = parse_jsonl(path, Case, what="dataset", unique="id")
    return [row.value for row in rows], [row.line for row in rows], problems


def versions(name: str, root: Path) -> list[int]:
    folder = Path(root) / name
    if not folder.is_dir():
        return []
    return sorted(int(m.group(1)) for p in folder.iterdir() if (m := VERSION_FILE.match(p.name)))


def names(root: Path) -> list[str]:
    return sorted(p.name for p in Path(root).iterdir() if p.is_dir() and versions(p.name, root))


def load_dataset(ref: str, root: Path) -> Dataset:
    """`name@3` or a bare `name` (its newest version); the hash recorded with every run pins it."""
    root = Path(root)
    name, _, version = ref.partition("@")
    known = versions(name, root)
    if not known:
        raise WorkbenchError(f"no dataset named '{name}' under {root}/; known: {', '.join(names(root)) or 'none'}")
    if version and (not version.isdigit() or int(version) not in known):
        raise WorkbenchError(f"dataset '{ref}' does not exist; versions are: {', '.join(f'{name}@{v}' for v in known)}")
    number = int(version) if version else known[-1]
    path = root / name / f"{number}.jsonl"
    cases, lines, problems = parse(path)
    raise_problems(problems)
    return Dataset(name=name, version=number, path=path, cases=cases, lines=lines)


def add_cases(dataset: Dataset, new_cases: list[Case | dict[str, Any]], provenance: dict[str, Any] | None = None) -> Dataset:
    """Write a new version holding the old cases plus `new_cases`; the old file is never touched."""
    added = [c if isinstance(c, Case) else Case.model_validate(c) for c in new_cases]
    if provenance:
        added = [c.model_copy(update={"metadata": {**c.metadata, "provenance": provenance}}) for c in added]
    ids = [c.id for c in dataset.cases]
    clashes = sorted({c.id for c in added} & set(ids) | {c.id for c in added if [a.id for a in added].count(c.id) > 1})
    if clashes:
        raise WorkbenchError(f"{dataset.path}: id: new case id(s) already used: {', '.join(clashes)}; give them new ids")
    number = max(versions(dataset.name, dataset.path.parent.parent)) + 1
    path = dataset.path.parent / f"{number}.jsonl"
    cases = dataset.cases + added
    body = "".join(json.dumps(c.model_dump(mode="json", exclude_defaults=True), ensure_ascii=False) + "\n" for c in cases)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(body)
    try:
        os.link(tmp, path)  # fails if another writer took this version number: nothing is overwritten
    except FileExistsError:
        raise WorkbenchError(f"{path} appeared while writing; run the command again") from None
    finally:
        os.unlink(tmp)
    return Dataset(name=dataset.name, version=number, path=path, cases=cases, lines=list(range(1, len(cases) + 1)))
