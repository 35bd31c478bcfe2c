"""`workbench ci`: execute gate notebooks with papermill, render HTML reports with nbconvert, log them to MLflow.

Exit codes: 0 every gate passed, 1 a gate found a regression, 3 a notebook failed for another reason,
4 a gate was inconclusive and its policy says that fails (2, bad input, comes from the CLI). The executed notebook and its report are written in every case.
"""

from __future__ import annotations

import ast
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .ci_summary import overall, write_summary
from .errors import Exit, WorkbenchError
from .mlflow_store import client
from .settings import Settings
from .templates import NBCONVERT_CONFIG
from .widgets.verdict import VERDICT_MIME, VerdictRecord, render_verdict, verdict_record
from .yamlfiles import load_model

CONFIG_FILE = "ci.yaml"
EXIT_OK, EXIT_REGRESSION, EXIT_ERROR, EXIT_INCONCLUSIVE = (
    Exit.OK,
    Exit.REGRESSION,
    Exit.INFRASTRUCTURE,
    Exit.INCONCLUSIVE,
)
ERROR_TAG = "papermill-error-cell-tag"


class GateFailed(AssertionError):
    """Raised by a gate notebook when the candidate fails the gate; `workbench ci` exits 1 on it (3 on anything else)."""


class GateInconclusive(AssertionError):
    """Raised by a gate notebook when the comparison is inconclusive and the policy fails it; `workbench ci` exits 4."""


def record_verdict(comparison: Any, gate: Any, policy: Any = None) -> VerdictRecord:
    """In a notebook: show the verdict banner and store the verdict record in the output, for `workbench ci`."""
    from IPython.display import display

    record = verdict_record(comparison, gate, policy)
    data = {
        VERDICT_MIME: record.model_dump(mode="json"),
        "text/html": render_verdict(record),
        "text/plain": gate.report(),
    }
    display(data, raw=True)
    return record


def assert_gate(gate: Any) -> None:
    """In a notebook, last: fail the notebook when the gate failed."""
    if not gate.passed:
        raise (GateInconclusive if gate.verdict == "inconclusive" else GateFailed)(gate.report())


class NotebookSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    path: str = Field(min_length=1)
    name: str | None = Field(None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    parameters: dict[str, Any] = {}
    timeout: int = Field(1800, ge=1)  # seconds per cell

    @property
    def label(self) -> str:
        return self.name or Path(self.path).stem


class CIConfig(BaseModel):
    """`ci.yaml`: where reports go, the nbconvert configuration, and the notebooks with their parameters."""

    model_config = ConfigDict(extra="forbid")
    output: str = "reports"
    nbconvert_config: str | None = None  # None: the project's nbconvert-config/ if it has one, else the packaged one
    notebooks: list[NotebookSpec] = Field(min_length=1)

    @classmethod
    def load(cls, path: Path) -> CIConfig:
        config = load_model(cls, path, "the CI configuration")
        labels = [n.label for n in config.notebooks]
        if len(set(labels)) != len(labels):
            raise WorkbenchError(f"{path}: notebooks: two entries share a name; give each a distinct `name`")
        return config


@dataclass
class NotebookRun:
    name: str
    notebook: str
    executed: str
    report: str
    status: str  # passed | regressed | inconclusive | error
    seconds: float
    verdict: VerdictRecord | None = None
    error: str | None = None
    logged_to: str | None = None  # the MLflow run the report was attached to

    def line(self) -> str:
        head = {"passed": "PASSED", "regressed": "REGRESSED", "inconclusive": "INCONCLUSIVE", "error": "ERROR"}[
            self.status
        ]
        extra = f": {self.error}" if self.error else ""
        if self.verdict and self.verdict.failing_cases:
            extra += f" (failing cases: {', '.join(self.verdict.failing_cases[:10])})"
        return f"{head:<9} {self.name}  {self.seconds:.1f}s  report {self.report}{extra}"


def parse_parameters(pairs: list[list[str]] | None) -> dict[str, Any]:
    """`-p key value` pairs; values are read as YAML scalars (3 is a number, null is None, support@1.1.0 a string)."""
    out = {}
    for key, text in pairs or []:
        try:
            value = yaml.safe_load(text) if text.strip() else text
        except yaml.YAMLError:
            value = text
        out[key] = value if isinstance(value, (str, int, float, bool, type(None), list)) else text
    return out


#: Parameter types a notebook can declare (`x: int = 3`, `x = 3  # type: int`, or by its literal default).
TYPES: dict[str, tuple[type, ...]] = {
    "str": (str,),
    "int": (int,),
    "float": (int, float),
    "bool": (bool,),
    "list": (list,),
    "dict": (dict,),
}


def declared_type(entry: dict[str, Any]) -> tuple[str | None, bool]:
    """A papermill parameter's type name (None: any) and whether None is allowed, from its annotation or,
    without one, from its literal default (a None default allows anything)."""
    name = (entry.get("inferred_type_name") or "None").strip()
    optional = name.startswith("Optional[")
    name = name.removeprefix("Optional[").removesuffix("]") if optional else name
    base = name.split("[")[0].strip().lower()
    if base in TYPES:
        return base, optional
    try:
        default = ast.literal_eval(entry.get("default") or "None")
    except (ValueError, SyntaxError):
        return None, True
    kind = type(default).__name__
    return (kind, True) if kind in TYPES else (None, True)


def typed_parameter(key: str, value: Any, entry: dict[str, Any], source: str, notebook: str, text: bool = False) -> Any:
    """`value` checked against the notebook's declaration; command-line `text` is read as YAML unless the
    parameter is a string (`null` is still None where None is allowed). A mismatch is bad input (exit 2)
    before anything runs."""
    kind, optional = declared_type(entry)
    if text and isinstance(value, str) and (kind != "str" or (optional and value in ("null", "~"))):
        value = parse_parameters([[key, value]])[key]
    if kind is None or (value is None and optional):
        return value
    allowed = TYPES[kind]
    if isinstance(value, allowed) and not (isinstance(value, bool) and bool not in allowed):
        return value
    shown = "null" if value is None else repr(value)
    raise WorkbenchError(
        f"{shown} is not {'an' if kind[0] in 'aeiou' else 'a'} {kind}; {notebook} declares "
        f"{key} = {entry.get('default')}",
        field=f"{source} {key}",
        fix=f"give {'an' if kind[0] in 'aeiou' else 'a'} {kind}",
    )


def declared_parameters(notebook: Path) -> dict[str, Any]:
    import papermill

    try:
        return papermill.inspect_notebook(str(notebook))
    except Exception as exc:  # papermill raises plain exceptions for unreadable notebooks
        raise WorkbenchError(
            f"{notebook}: cannot read the notebook's parameters ({exc}); tag one cell `parameters`"
        ) from None


def plan(
    config: CIConfig,
    root: Path,
    overrides: dict[str, Any],
    only: list[str] | None,
    shared: dict[str, Any] | None = None,
) -> list[tuple[NotebookSpec, dict]]:
    """The notebooks to run and their parameters (command line over `ci.yaml` over the notebook's defaults)."""
    chosen = [n for n in config.notebooks if not only or n.label in only or n.path in only]
    if only and len(chosen) < len(set(only)):
        known = ", ".join(n.label for n in config.notebooks)
        raise WorkbenchError(f"--notebook: {', '.join(only)} not in the CI configuration; notebooks: {known}")
    runs, used = [], set()
    for spec in chosen:
        path = root / spec.path
        if not path.is_file():
            raise WorkbenchError(f"ci: notebooks: {spec.path}: no such notebook under {root}; fix the path")
        declared = declared_parameters(path)
        unknown = sorted(set(spec.parameters) - set(declared))
        if unknown:
            raise WorkbenchError(
                f"ci: {spec.label}: parameters: {', '.join(unknown)} not declared in {spec.path}; "
                f"it takes {', '.join(declared) or 'none'}"
            )
        params = {
            k: typed_parameter(k, v, declared[k], f"{spec.label}: parameters:", spec.path)
            for k, v in spec.parameters.items()
        }
        params |= {
            k: typed_parameter(k, v, declared[k], "-p", spec.path, text=True)
            for k, v in overrides.items()
            if k in declared
        }
        params |= {k: v for k, v in (shared or {}).items() if k in declared and k not in overrides}
        used |= set(overrides) & set(declared)
        runs.append((spec, params))
    unused = sorted(set(overrides) - used)
    if unused:
        raise WorkbenchError(f"-p {', '.join(unused)}: no selected notebook declares this parameter")
    return runs


def execute(spec: NotebookSpec, parameters: dict[str, Any], root: Path, out_dir: Path) -> tuple[Path, str, str | None]:
    """Run one notebook with papermill; the executed notebook is written even when a cell fails.

    Returns its path, how it ended (`completed`; `gate`: stopped by `assert_gate`; `error`) and the error text.
    """
    import papermill
    from papermill.exceptions import PapermillExecutionError

    executed = out_dir / f"{spec.label}.ipynb"
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        papermill.execute_notebook(
            str(root / spec.path),
            str(executed),
            parameters=parameters,
            cwd=str(root),
            progress_bar=False,
            execution_timeout=spec.timeout,
            kernel_name="python3",
        )
    except PapermillExecutionError as exc:
        ended = "gate" if exc.ename in (GateFailed.__name__, GateInconclusive.__name__) else "error"
        return executed, ended, f"{exc.ename}: {exc.evalue.splitlines()[0] if exc.evalue else ''}".strip()
    except Exception as exc:  # kernel died, timed out, could not start: still leave a notebook that says so
        if not executed.exists():
            import nbformat

            nb = nbformat.v4.new_notebook()
            nb.cells.append(
                nbformat.v4.new_markdown_cell(f"# {spec.label} did not run\n\n```\n{type(exc).__name__}: {exc}\n```")
            )
            nb.cells[0].metadata["tags"] = [ERROR_TAG]
            nb.metadata["papermill"] = {"parameters": parameters, "exception": True, "input_path": spec.path}
            nbformat.write(nb, executed)
        return executed, "error", f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    return executed, "completed", None


def notebook_status(ended: str, verdict: VerdictRecord | None) -> tuple[str, str | None]:
    """A notebook's status from its verdict record (the gate's own decision), never from an exception's name:
    passed, regressed, inconclusive or error, and why when the two disagree."""
    if ended == "error":
        return "error", None
    if verdict is None:  # a notebook without a gate passes by running; one stopped by the gate must say why
        return (
            ("error", "the notebook failed the gate without recording a verdict")
            if ended == "gate"
            else ("passed", None)
        )
    if ended == "gate" and verdict.status == "passed":
        return "error", "the notebook failed the gate but its verdict record says passed"
    return verdict.status, None


def read_verdict(executed: Path) -> VerdictRecord | None:
    """The verdict record a gate notebook displayed (the last one), or None; ValueError when it is not one."""
    nb = json.loads(executed.read_text())
    found = None
    for cell in nb.get("cells", []):
        for output in cell.get("outputs", []):
            if VERDICT_MIME in output.get("data", {}):
                found = output["data"][VERDICT_MIME]
    if found is None:
        return None
    try:
        return VerdictRecord.of(found)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "record"
        raise ValueError(f"{executed}: the notebook's verdict record is not one: {where}: {first['msg']}") from None


def report_config_dir(root: Path, named: str | None) -> Path:
    """The nbconvert configuration folder: the one `ci.yaml` names, the project's own, or the packaged one."""
    if named is not None:
        return root / named
    own = root / "nbconvert-config"
    return own if own.is_dir() else NBCONVERT_CONFIG


def render_report(executed: Path, html: Path, config_dir: Path, show_code: bool = False) -> Path:
    """nbconvert HTML with the configuration in `config_dir` (`report_config.py`, `templates/`)."""
    from nbconvert import HTMLExporter
    from traitlets.config.loader import PyFileConfigLoader

    config_file = config_dir / "report_config.py"
    if not config_file.is_file():
        raise WorkbenchError(
            f"{config_file}: missing; the report needs the nbconvert configuration (nbconvert_config in ci.yaml)"
        )
    config = PyFileConfigLoader(config_file.name, path=str(config_dir)).load_config()
    config.HTMLExporter.extra_template_basedirs = [str(config_dir / "templates")]
    if show_code:
        config.HTMLExporter.exclude_input = False
        config.HTMLExporter.exclude_input_prompt = False
    body, _ = HTMLExporter(config=config).from_filename(str(executed))
    html.parent.mkdir(parents=True, exist_ok=True)
    tmp = html.with_suffix(".html.tmp")
    tmp.write_text(body, encoding="utf-8")
    tmp.replace(html)
    return html


def log_report(run: NotebookRun, settings: Settings) -> str | None:
    """Attach the report and the executed notebook to the candidate's MLflow run, under `reports/`."""
    run_id = run.verdict.candidate_run_id if run.verdict else None
    if not run_id:
        return None
    project = client(settings)
    project.log_artifact(run_id, run.report, artifact_path="reports")
    project.log_artifact(run_id, run.executed, artifact_path="reports")
    project.set_tag(run_id, "workbench.ci", run.status)
    return run_id


def run_ci(
    settings: Settings,
    config_path: Path | None = None,
    overrides: dict[str, Any] | None = None,
    only: list[str] | None = None,
    output: Path | None = None,
    log: bool = True,
    show_code: bool = False,
    shared: dict[str, Any] | None = None,
    report_url: str | None = None,
) -> list[NotebookRun]:
    """Execute each selected notebook, render its report, log it; the summary goes to `<output>/summary.json` and
    `summary.md` (`ci_summary`), whose report links are `report_url` when given (the CI job's artifacts page).

    `overrides` must each be declared by some selected notebook; `shared` (such as `tracking_uri`) go to those
    notebooks that declare them."""
    root = settings.root
    path = config_path or root / CONFIG_FILE
    if not path.is_file():
        raise WorkbenchError(
            f"{path}: no CI configuration; `workbench init` writes one (it never overwrites a file), or pass --config"
        )
    config = CIConfig.load(path)
    out_dir = output or root / config.output
    config_dir = report_config_dir(root, config.nbconvert_config)
    runs = []
    for spec, params in plan(config, root, overrides or {}, only, shared=shared or {}):
        started = time.perf_counter()
        executed, ended, error = execute(spec, params, root, out_dir)
        try:
            verdict = read_verdict(executed)
        except ValueError as exc:
            verdict, ended, error = None, "error", str(exc)
        status, problem = notebook_status(ended, verdict)
        error = f"{problem} ({error})" if problem and error else problem or error
        report = render_report(executed, out_dir / f"{spec.label}.html", config_dir, show_code)
        run = NotebookRun(
            name=spec.label,
            notebook=spec.path,
            executed=str(executed),
            report=str(report),
            status=status,
            seconds=time.perf_counter() - started,
            verdict=verdict,
            error=error,
        )
        if log:
            try:
                run.logged_to = log_report(run, settings)
            except Exception as exc:  # the report exists either way; say why it is not in MLflow
                run.error = (run.error + "; " if run.error else "") + f"report not logged to MLflow: {exc}"
        runs.append(run)
    write_summary(runs, exit_code(runs), out_dir, report_url)
    return runs


def exit_code(runs: list[NotebookRun]) -> int:
    """The worst status decides: error 3, regressed 1, inconclusive 4, else 0."""
    codes = {"error": EXIT_ERROR, "regressed": EXIT_REGRESSION, "inconclusive": EXIT_INCONCLUSIVE}
    return codes.get(overall({r.status for r in runs}), EXIT_OK)
