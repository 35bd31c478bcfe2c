"""Golden datasets: `datasets/<name>/<n>.jsonl`, validated with line numbers, content-hashed, append-only."""

from __future__ import annotations

import hashlib
import json
import os
import re
from array import array
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, overload

from pydantic import BaseModel, ConfigDict, Field

from .errors import WorkbenchError
from .files import atomic_write, locked
from .jsonl import parse_jsonl, raise_problems, scan_jsonl
from .names import check_name, split_ref

VERSION_FILE = re.compile(r"^(\d+)\.jsonl$")
#: The largest inputs one case may have (UTF-8 bytes of its JSON), checked before anything is sent or cached.
MAX_INPUT_BYTES = int(os.environ.get("WORKBENCH_MAX_INPUT_BYTES") or 1_000_000)
#: Dataset files larger than this (bytes) are validated in one pass and then read case by case as they are used.
LAZY_BYTES = int(os.environ.get("WORKBENCH_LAZY_DATASET_BYTES") or 64_000_000)


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


class CaseFile(Sequence[Case]):
    """The cases of a large dataset file that was validated whole, parsed again as they are used, so a run
    over a million cases never holds them all: iteration streams the file, indexing seeks to a case's line."""

    def __init__(self, path: Path, offsets: array):
        self.path, self.offsets = path, offsets

    def __len__(self) -> int:
        return len(self.offsets)

    @overload
    def __getitem__(self, index: int) -> Case: ...
    @overload
    def __getitem__(self, index: slice) -> list[Case]: ...
    def __getitem__(self, index: int | slice) -> Case | list[Case]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        with self.path.open("rb") as handle:
            handle.seek(self.offsets[index])
            return _case(handle.readline())

    def __iter__(self) -> Iterator[Case]:
        with self.path.open("rb") as handle:
            for offset in self.offsets:
                handle.seek(offset)
                yield _case(handle.readline())

    def select(self, ids: Iterable[str]) -> dict[str, Case]:
        wanted = set(ids)
        return {case.id: case for case in self if case.id in wanted}


def _case(line: bytes) -> Case:
    return Case.model_validate(json.loads(line.decode("utf-8-sig")))


@dataclass(frozen=True)
class Dataset:
    """One version of a golden dataset: its cases, where they came from (file and line), and its content hash.
    A large file's `cases` are a `CaseFile` (read as used), its hash computed once when it was validated."""

    name: str
    version: int
    path: Path
    cases: Sequence[Case] = field(repr=False)
    lines: Sequence[int] = field(default_factory=list, repr=False)  # the file line of each case
    digest: str | None = field(default=None, repr=False, compare=False)  # the content hash, when known
    variables: frozenset[str] | None = field(default=None, repr=False, compare=False)  # keys every case has

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"

    @property
    def hash(self) -> str:
        """sha256 over the canonical cases, in order (computed once: a run asks for it several times)."""
        digest = self.digest
        if digest is None:
            digest = content_hash(self.cases)
            object.__setattr__(self, "digest", digest)  # frozen: the cache is set once
        return digest

    def select(self, ids: Iterable[str]) -> dict[str, Case]:
        """The cases with these ids, by id (one pass over a large file)."""
        if isinstance(self.cases, CaseFile):
            return self.cases.select(ids)
        wanted = set(ids)
        return {case.id: case for case in self.cases if case.id in wanted}

    def __len__(self) -> int:
        return len(self.cases)

    def check_variables(self, variables: list[str]) -> None:
        """Raise, naming each case and line, when a case lacks a variable the configuration needs."""
        if self.variables is not None and self.variables.issuperset(variables):
            return
        problems = [
            f"{self.path}:{line}: inputs: case '{case.id}' lacks variable(s) {', '.join(missing)}"
            for line, case in zip(self.lines or range(1, len(self.cases) + 1), self.cases)
            if (missing := [v for v in variables if v not in case.inputs])
        ]
        raise_problems(problems)


def content_hash(cases: Iterable[Case]) -> str:
    digest = hashlib.sha256()
    for case in cases:
        _hash_case(digest, case)
    return digest.hexdigest()


def _hash_case(digest: Any, case: Case) -> None:
    digest.update(json.dumps(case.model_dump(mode="json"), sort_keys=True, separators=(",", ":")).encode())
    digest.update(b"\n")


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
    """The datasets with at least one version; none while the folder is missing (a project just marked)."""
    root = Path(root)
    return sorted(p.name for p in root.iterdir() if p.is_dir() and versions(p.name, root)) if root.is_dir() else []


def dataset_file(ref: str, root: Path) -> tuple[str, int, Path]:
    """The name, version and file of `name@3` or a bare `name` (its newest version), without reading it."""
    root = Path(root)
    name, version = split_ref(ref, "dataset")
    known = versions(name, root)
    if not known:
        raise WorkbenchError(f"no dataset named '{name}' under {root}/; known: {', '.join(names(root)) or 'none'}")
    if version and (not version.isdigit() or int(version) not in known):
        raise WorkbenchError(f"dataset '{ref}' does not exist; versions are: {', '.join(f'{name}@{v}' for v in known)}")
    number = int(version) if version else known[-1]
    return name, number, root / name / f"{number}.jsonl"


def dataset_of(dataset: str | Dataset, root: Path) -> Dataset:
    """A `Dataset` as given (validated once, by whoever loaded it), or the one a reference names, loaded."""
    return dataset if isinstance(dataset, Dataset) else load_dataset(dataset, root)


def load_dataset(ref: str, root: Path) -> Dataset:
    """`name@3` or a bare `name` (its newest version); the hash recorded with every run pins it."""
    name, number, path = dataset_file(ref, root)
    if path.stat().st_size > LAZY_BYTES:
        return _load_large(name, number, path)
    cases, lines, problems = parse(path)
    raise_problems(problems or size_problems(cases, lines, path))
    return Dataset(name=name, version=number, path=path, cases=cases, lines=lines)


def _load_large(name: str, number: int, path: Path) -> Dataset:
    """A large file validated in one pass (every problem reported, as `parse` does) that keeps only each
    case's byte offset and line, the content hash and the input keys every case has."""
    offsets, lines, problems = array("q"), array("q"), []
    digest, variables = hashlib.sha256(), None
    for row, found, offset in scan_jsonl(path, Case, what="dataset", unique="id"):
        problems += found
        if row is None:
            continue
        problems += size_problems([row.value], [row.line], path)
        offsets.append(offset)
        lines.append(row.line)
        _hash_case(digest, row.value)
        keys = frozenset(row.value.inputs)
        variables = keys if variables is None else variables & keys
    raise_problems(problems)
    return Dataset(
        name=name,
        version=number,
        path=path,
        cases=CaseFile(path, offsets),
        lines=lines,
        digest=digest.hexdigest(),
        variables=variables,
    )


def size_problems(cases: list[Case], lines: list[int], path: Path) -> list[str]:
    """One problem per case whose inputs exceed `MAX_INPUT_BYTES` (no model takes them; nothing is sent)."""
    problems = []
    for line, case in zip(lines, cases):
        size = len(json.dumps(case.inputs, ensure_ascii=False).encode())
        if size > MAX_INPUT_BYTES:
            problems.append(
                f"{path}:{line}: inputs: case '{case.id}' has {size:,} bytes of inputs, over the limit of "
                f"{MAX_INPUT_BYTES:,}; shorten them (or raise WORKBENCH_MAX_INPUT_BYTES)"
            )
    return problems


def shared_variables(dataset: Dataset) -> list[str]:
    """The input variables every case of the dataset has: what its configurations can rely on."""
    if dataset.variables is not None:
        return sorted(dataset.variables)
    keys = [set(c.inputs) for c in dataset.cases]
    return sorted(set.intersection(*keys)) if keys else []


def add_cases(
    dataset: Dataset,
    new_cases: list[Case | dict[str, Any]],
    provenance: dict[str, Any] | None = None,
    variables: list[str] | None = None,
) -> Dataset:
    """Write a new version holding the old cases plus `new_cases`; the old file is never touched.

    Each new case must have `variables` (default: those every existing case has). The version is written
    atomically under the dataset's lock, and only if `dataset` is still the newest version: a version
    written by someone else since it was read is an error, never silently left out.
    """
    added = [c if isinstance(c, Case) else Case.model_validate(c) for c in new_cases]
    problems = size_problems(added, list(range(1, len(added) + 1)), Path("new cases"))
    needed = shared_variables(dataset) if variables is None else variables
    problems += [
        f"new case '{c.id}': inputs: lacks variable(s) {', '.join(missing)} that {dataset.ref} "
        f"{'has in every case' if variables is None else 'needs'}; add them"
        for c in added
        if (missing := [v for v in needed if v not in c.inputs])
    ]
    raise_problems(problems)
    if provenance:
        added = [c.model_copy(update={"metadata": {**c.metadata, "provenance": provenance}}) for c in added]
    counts = Counter(c.id for c in added)
    clashes = sorted(set(counts) & {c.id for c in dataset.cases} | {i for i, n in counts.items() if n > 1})
    if clashes:
        raise WorkbenchError(
            f"{dataset.path}: id: new case id(s) already used: {', '.join(clashes)}; give them new ids"
        )
    folder = dataset.path.parent
    check_name(dataset.name, "dataset")
    cases = [*dataset.cases, *added]
    body = "".join(
        json.dumps(c.model_dump(mode="json", exclude_defaults=True), ensure_ascii=False) + "\n" for c in cases
    )
    with locked(folder):
        newest = max(versions(dataset.name, folder.parent))
        if newest != dataset.version:
            raise WorkbenchError(
                f"{dataset.ref} is not the newest version: {dataset.name}@{newest} exists (another "
                f"command may have written it since {dataset.ref} was read); nothing was written",
                file=folder,
                fix=f"add the cases to {dataset.name}@{newest}, e.g. run the command again",
            )
        path = folder / f"{newest + 1}.jsonl"
        atomic_write(path, body)
    return Dataset(name=dataset.name, version=newest + 1, path=path, cases=cases, lines=list(range(1, len(cases) + 1)))
