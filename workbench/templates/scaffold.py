"""`workbench init`: a working example project in a folder, never losing a file that is already there.

Everything is planned in memory first (the example's configurations and datasets, the notebooks with their
parameters set, `gate.yaml`, `ci.yaml`, the GitHub workflow, the `[tool.workbench]` table, `.gitignore`
entries); a file that exists with other content is refused, all of them named at once, unless `force`.
`pyproject.toml` and `.gitignore` are only ever added to.
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import yaml

from ..errors import WorkbenchError
from ..files import atomic_write, read_text
from . import EXAMPLES, NOTEBOOKS, PROJECT, examples

DEFAULT_EXAMPLE = "support"
WORKBENCH_TABLE = (
    "[tool.workbench]\n# Marks the workbench project root: commands and notebook kernels below this folder find it.\n"
)
WORKFLOW = Path(".github/workflows/workbench-gate.yml")


@dataclass
class InitResult:
    """What `init` did, by path relative to the project folder."""

    folder: Path
    example: dict[str, Any]
    written: list[Path] = field(default_factory=list)
    updated: list[Path] = field(default_factory=list)  # pyproject.toml, .gitignore: added to
    unchanged: list[Path] = field(default_factory=list)

    def report(self) -> str:
        ex = self.example
        lines = [f"workbench init: {len(self.written)} files written in {self.folder} (example: {ex['name']})"]
        groups: dict[str, int] = {}
        for path in self.written:
            key = f"{path.parts[0]}/" if path.parts[0] in ("prompts", "datasets", "notebooks") else str(path)
            groups[key] = groups.get(key, 0) + 1
        lines += [f"  wrote   {key}" + (f" ({n} files)" if key.endswith("/") else "") for key, n in groups.items()]
        lines += [f"  updated {p}" for p in self.updated]
        scorers = "".join(f" --scorer {name}" for name in ex.get("scorers", []))
        if self.unchanged:
            lines.append(f"  {len(self.unchanged)} files already as the example has them")
        lines += [
            "next:",
            "  workbench prompts lint",
            f"  workbench run {ex['candidate']} --dataset {ex['dataset']}{scorers}",
            f"  workbench compare {ex['baseline']} {ex['candidate']} --dataset {ex['dataset']}{scorers}",
            "  workbench ci                 # the gate notebook, executed and rendered to reports/",
            "  jupyter lab notebooks/       # the notebooks, on this project's own configurations",
        ]
        return "\n".join(lines)


def init(folder: Path, example: str = DEFAULT_EXAMPLE, force: bool = False) -> InitResult:
    """Write the example project into `folder` (created if missing)."""
    folder = Path(folder).expanduser().resolve()
    if folder.exists() and not folder.is_dir():
        raise WorkbenchError("not a folder", file=folder, fix="give a folder to write the project into")
    spec = load_example(example)
    files = plan(spec)
    merged = {name: merge(folder / name, addition) for name, addition in additions().items()}
    result = InitResult(folder=folder, example=spec)
    conflicts = []
    for rel, content in files.items():
        target = folder / rel
        parents = list(target.parents)[: len(rel.parts) - 1]
        if target.is_dir() or any(p.exists() and not p.is_dir() for p in parents):
            raise WorkbenchError("a file and a folder would share this path", file=target, fix="move it away")
        if target.is_file():
            if target.read_bytes() == content:
                result.unchanged.append(rel)
                continue
            if not force:
                conflicts.append(rel)
        result.written.append(rel)
    if conflicts:
        raise WorkbenchError(
            f"{folder}: init would overwrite {len(conflicts)} file(s): {', '.join(map(str, conflicts))}",
            fix="move them away, or pass --force to replace them with the example's",
        )
    for rel in result.written:
        atomic_write(folder / rel, files[rel])
    for name, merged_content in merged.items():
        if merged_content is not None:
            atomic_write(folder / name, merged_content)
            result.updated.append(Path(name))
    return result


def load_example(name: str) -> dict[str, Any]:
    """An example's `example.yaml`, with its `name`."""
    if name not in examples():
        raise WorkbenchError(f"--example: no example named {name!r}; choose one of {', '.join(examples())}")
    spec = yaml.safe_load((EXAMPLES / name / "example.yaml").read_text(encoding="utf-8"))
    return {"name": name, **spec}


def plan(spec: dict[str, Any]) -> dict[Path, bytes]:
    """Every file the example writes (relative path -> content); `pyproject.toml` and `.gitignore` are merged."""
    files: dict[Path, bytes] = {}
    for part in [*spec.get("include", []), spec["name"]]:
        source = EXAMPLES / part
        for path in sorted(source.rglob("*")):
            rel = path.relative_to(source)
            if path.is_file() and rel.parts[0] in ("prompts", "datasets"):
                files[rel] = path.read_bytes()
    for notebook, values in spec["notebooks"].items():
        files[Path("notebooks") / notebook] = notebook_with(NOTEBOOKS / notebook, values).encode("utf-8")
    base_name, base_version = spec["baseline"].split("@")
    files[Path("prompts/production.yaml")] = (
        f"# The production version of each configuration family: the default baseline.\n{base_name}: {base_version}\n"
    ).encode()
    gate = (PROJECT / "gate.yaml").read_text(encoding="utf-8")
    critical = f"critical: [{', '.join(spec['critical'])}]"
    files[Path("gate.yaml")] = re.sub(r"^critical: \[[^\]]*\]", critical, gate, count=1, flags=re.M).encode()
    files[Path("ci.yaml")] = ci_config(spec).encode()
    workflow = (PROJECT / "workbench-gate.yml").read_text(encoding="utf-8")
    files[WORKFLOW] = workflow.replace("__WORKBENCH_VERSION__", package_version()).encode()
    return files


def ci_config(spec: dict[str, Any]) -> str:
    """`ci.yaml` for the example: its gate notebook with the candidate and dataset."""
    params = spec["notebooks"]["gate.ipynb"]
    body = yaml.safe_dump(
        {"output": "reports", "notebooks": [{"name": "gate", "path": "notebooks/gate.ipynb", "parameters": params}]},
        sort_keys=False,
    )
    return (
        "# `workbench ci`: the notebooks CI executes (papermill) and renders (nbconvert), with their parameters.\n"
        "# -p key value on the command line overrides these. Reports use the packaged nbconvert configuration\n"
        "# unless this project has an nbconvert-config/ folder (or names one as nbconvert_config).\n" + body
    )


def notebook_with(path: Path, values: dict[str, Any]) -> str:
    """The notebook with its `parameters` cell's assignments set to `values` (comments kept)."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    cell = next(c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", []))
    source = "".join(cell["source"])
    for name, value in values.items():
        assignment = f"{name} = {literal(value)}"
        pattern = rf"^{re.escape(name)} = .*?(?=  #|$)"
        source, count = re.subn(pattern, assignment.replace("\\", r"\\"), source, count=1, flags=re.M)
        if not count:
            raise ValueError(f"{path.name}: the parameters cell has no {name!r}")  # a packaging bug, not input
    cell["source"] = source.splitlines(keepends=True)
    return json.dumps(nb, indent=1, ensure_ascii=False) + "\n"


def literal(value: Any) -> str:
    """A parameter value as Python source."""
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(literal(v) for v in value) + "]"
    return repr(value)


def additions() -> dict[str, tuple[str, str]]:
    """What `init` adds to files it never replaces: name -> (what to add, how to tell it is already there)."""
    return {
        "pyproject.toml": (WORKBENCH_TABLE, "tool.workbench"),
        ".gitignore": ((PROJECT / "gitignore").read_text(encoding="utf-8"), "lines"),
    }


def merge(path: Path, addition: tuple[str, str]) -> bytes | None:
    """The file with the addition, or None when it already has it."""
    text, kind = addition
    current = read_text(path, path.name) if path.is_file() else ""
    if kind == "tool.workbench":
        try:
            if "workbench" in tomllib.loads(current).get("tool", {}):
                return None
        except tomllib.TOMLDecodeError as exc:
            raise WorkbenchError(f"not valid TOML ({exc})", file=path, fix="fix it, then run init again") from None
        missing = text
    else:
        have = {line.strip() for line in current.splitlines()}
        new = [line for line in text.splitlines() if line.startswith("#") or line.strip() not in have]
        if all(line.startswith("#") for line in new):
            return None
        missing = "\n".join(new) + "\n"
    separator = "" if not current else "\n" if current.endswith("\n") else "\n\n"
    return (current + separator + missing).encode("utf-8")


def package_version() -> str:
    try:
        return version("llmops-workbench")
    except PackageNotFoundError:  # a source checkout that was never installed
        return "0.0.0"
