"""Load pinned configurations by reference (`name@1.2.0`), hash them, render them, lock their hashes."""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ..errors import WorkbenchError
from ..files import atomic_write, locked, read_text
from ..names import split_ref
from .lint import SEMVER, check
from .schema import PromptSpec, content_hash

LOCK_FILE = "lock.json"
PRODUCTION_FILE = "production.yaml"


@dataclass(frozen=True)
class Prompt:
    """A pinned configuration: one validated file, its version and its content hash."""

    spec: PromptSpec
    version: str
    path: Path
    hash: str

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"

    @property
    def variables(self) -> list[str]:
        return list(self.spec.variables)

    def render(self, inputs: dict[str, Any], context: str | None = None) -> list[dict[str, str]]:
        """The chat messages for one case, placeholders filled."""
        values = dict(inputs)
        if context is not None:
            values["context"] = context
        missing = [v for v in self.spec.variables if v not in values]
        if missing:
            raise WorkbenchError(f"{self.ref}: inputs lack variable(s) {', '.join(missing)}")
        return [{"role": m.role, "content": m.content.format_map(values)} for m in self.spec.messages]


def version_key(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split("."))


def load_prompt(path: Path, root: Path | None = None) -> Prompt:
    """Load and validate one file; any lint problem raises, listing every one of them."""
    path = Path(path)
    root = Path(root) if root else path.parent.parent
    locked = read_lock(root).get(f"{path.parent.name}@{path.stem}")
    spec, problems = check(path, locked)
    if problems or spec is None:
        raise WorkbenchError("\n".join(str(p) for p in problems))
    return Prompt(spec=spec, version=path.stem, path=path, hash=content_hash(spec))


def versions(name: str, root: Path) -> list[str]:
    folder = Path(root) / name
    found = [p.stem for p in folder.glob("*.yaml") if SEMVER.match(p.stem)] if folder.is_dir() else []
    return sorted(found, key=version_key)


def names(root: Path) -> list[str]:
    """The configurations with at least one version; none while the folder is missing (a project just marked)."""
    root = Path(root)
    return sorted(p.name for p in root.iterdir() if p.is_dir() and versions(p.name, root)) if root.is_dir() else []


def resolve(ref: str, root: Path) -> Prompt:
    """`name@1.2.0` to its Prompt. A bare name or `latest` is refused: a run must pin a version."""
    root = Path(root)
    name, version = split_ref(ref, "configuration")
    known = versions(name, root)
    if not known:
        raise WorkbenchError(
            f"no configuration named '{name}' under {root}/; known: {', '.join(names(root)) or 'none'}"
        )
    listing = ", ".join(f"{name}@{v}" for v in known)
    if not version or version == "latest":
        raise WorkbenchError(f"'{ref}' does not pin a version; write one of: {listing}")
    if version not in known:
        raise WorkbenchError(f"'{ref}' does not exist; versions are: {listing}")
    return load_prompt(root / name / f"{version}.yaml", root)


def read_lock(root: Path) -> dict[str, str]:
    path = Path(root) / LOCK_FILE
    if not path.exists():
        return {}
    try:
        lock = json.loads(read_text(path, "the hash lock"))
    except json.JSONDecodeError as exc:
        raise WorkbenchError(f"{path}:{exc.lineno}: lock: not valid JSON ({exc.msg}); restore it from git") from None
    if not isinstance(lock, dict) or not all(isinstance(v, str) for v in lock.values()):
        raise WorkbenchError(
            'expected one "name@version": "hash" entry per run configuration',
            file=path,
            field="lock",
            fix="restore it from git",
        )
    return lock


def lock_hash(prompt: Prompt, root: Path) -> None:
    """Record the hash a run used, so a later edit without a version bump is caught (atomic, under a lock)."""
    path = Path(root) / LOCK_FILE
    if read_lock(root).get(prompt.ref) == prompt.hash:
        return
    with locked(path):
        lock = read_lock(root)  # read again under the lock: another run may have added its entry
        lock[prompt.ref] = prompt.hash
        atomic_write(path, json.dumps(dict(sorted(lock.items())), indent=2) + "\n")


def diff(a: Prompt, b: Prompt) -> str:
    """A unified diff of two configurations' canonical YAML: messages, model and parameters."""

    class Dumper(yaml.SafeDumper):
        pass

    def text(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None)

    Dumper.add_representer(str, text)

    def lines(p: Prompt) -> list[str]:
        data = p.spec.model_dump(mode="json", exclude_defaults=True, by_alias=True)
        return yaml.dump(data, Dumper=Dumper, sort_keys=False, allow_unicode=True, width=100).splitlines(keepends=True)

    return "".join(difflib.unified_diff(lines(a), lines(b), fromfile=a.ref, tofile=b.ref))


def _production_marks(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    try:
        marks = yaml.safe_load(read_text(path, "the production marker")) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise WorkbenchError(
            f"not valid YAML ({getattr(exc, 'problem', exc)})",
            file=path,
            line=mark.line + 1 if mark else None,
            field="yaml",
            fix="write one 'name: version' line per configuration family",
        ) from None
    if not isinstance(marks, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in marks.items()):
        raise WorkbenchError(
            "expected 'name: version' lines",
            file=path,
            field="file",
            fix="write one 'name: version' line per configuration family, e.g. support: 1.0.0",
        )
    return marks


def production(name: str, root: Path) -> str | None:
    """The version marked as production for a configuration family (`prompts/production.yaml`), if any."""
    path = Path(root) / PRODUCTION_FILE
    version = _production_marks(path).get(name)
    if version is not None and not SEMVER.match(version):
        raise WorkbenchError(
            f"'{version}' is not a version",
            file=path,
            field=name,
            fix="write the version as in the file name, e.g. 1.0.0",
        )
    return f"{name}@{version}" if version else None


def promote(prompt: Prompt, root: Path) -> None:
    """Mark a version as production: the baseline that comparisons default to (atomic, under a lock)."""
    path = Path(root) / PRODUCTION_FILE
    with locked(path):
        marks = _production_marks(path)
        marks[prompt.name] = prompt.version
        atomic_write(
            path,
            "# The production version of each configuration family: the default baseline.\n"
            + yaml.safe_dump(dict(sorted(marks.items())), sort_keys=False),
        )
