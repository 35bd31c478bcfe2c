"""What `workbench ci` found, where reviewers look: one record (`summary.json`) and its Markdown (`summary.md`).

The Markdown is the pull-request comment and the job summary: the overall verdict, then per gate notebook the
gate's failing and undecided rules with their numbers (what would decide an inconclusive included), every
scorer's difference and how much worse the candidate can still be (one-sided bound), the failing cases and a
link to the report. Both are built from the verdict records the notebooks displayed; neither applies a rule.
Every text that came from a notebook passes `secrets.hide`, and Markdown's active characters are escaped.
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import asdict
from pathlib import Path
from typing import Any, TypeGuard

from .files import atomic_write
from .secrets import hide
from .widgets.verdict import VerdictRecord

#: The first line of the Markdown: the workflow finds (and updates) its own pull-request comment by it.
MARKER = "<!-- workbench-ci -->"
STATUS = {
    "passed": ("✅", "passed"),
    "regressed": ("❌", "regression"),
    "inconclusive": ("⚠️", "inconclusive"),
    "error": ("💥", "error"),
}
FAILING_CASES_SHOWN = 10
_ACTIVE = re.compile(r"([\\`*_{}\[\]<>|~])")  # with brackets escaped no link forms, and no text starts a line


def overall(statuses: set[str]) -> str:
    """The run's status, the worst first: error, regressed, inconclusive, passed."""
    return next((s for s in ("error", "regressed", "inconclusive") if s in statuses), "passed")


def summary_record(runs: list[Any], exit_code: int, report_url: str | None = None) -> dict[str, Any]:
    """The JSON summary: the status and exit code, the report link, every notebook run with its verdict record."""
    notebooks = []
    for run in runs:
        entry = asdict(run)
        entry["error"] = hide(run.error) if run.error else None
        entry["verdict"] = run.verdict.model_dump(mode="json") if run.verdict else None
        notebooks.append(entry)
    return {
        "status": overall({r.status for r in runs}),
        "exit_code": int(exit_code),
        "report_url": report_url,
        "notebooks": notebooks,
    }


def summary_markdown(summary: dict[str, Any], relative_to: Path | None = None) -> str:
    """The Markdown of `summary_record`; report links are `report_url` when given, else paths relative to
    `relative_to` (the folder the Markdown is written to)."""
    icon, word = STATUS[summary["status"]]
    lines = [MARKER, f"## {icon} workbench ci: {word} (exit {summary['exit_code']})", ""]
    for entry in summary["notebooks"]:
        lines += _notebook(entry, summary.get("report_url"), relative_to) + [""]
    return "\n".join(lines).rstrip() + "\n"


def write_summary(
    runs: list[Any], exit_code: int, out_dir: Path, report_url: str | None = None
) -> tuple[dict[str, Any], str]:
    """Write `summary.json` and `summary.md` into `out_dir` (each whole or not at all), and append the Markdown
    to the GitHub job summary when `GITHUB_STEP_SUMMARY` names one. Returns the record and the Markdown."""
    record = summary_record(runs, exit_code, report_url)
    markdown = summary_markdown(record, out_dir)
    atomic_write(out_dir / "summary.json", json.dumps(record, indent=2, default=str))
    atomic_write(out_dir / "summary.md", markdown)
    step_summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if step_summary:
        with open(step_summary, "a", encoding="utf-8") as out:
            out.write(markdown)
    return record, markdown


def _notebook(entry: dict[str, Any], report_url: str | None, relative_to: Path | None) -> list[str]:
    icon, _ = STATUS[entry["status"]]
    verdict = VerdictRecord.of(entry["verdict"]) if entry.get("verdict") else None
    head = f"### {icon} {md(entry['name'])}"
    if verdict:
        head += f": {md(verdict.candidate)} against {md(verdict.baseline)} on {md(verdict.dataset)}"
    lines = [head, ""]
    if entry.get("error") and entry["status"] == "error":
        lines += [f"The notebook failed: `{code(entry['error'])}`", ""]
    if verdict:
        for kind in ("regressed", "inconclusive", "not comparable"):
            lines += [f"- **{kind}**: {md(hide(m))}" for m in verdict.messages.get(kind, [])]
        if not verdict.lines():
            lines.append("- every rule of the gate passed")
        lines += ["", *_scorer_table(verdict.scorers), ""]
        failing = verdict.failing_cases
        if failing:
            shown = ", ".join(f"`{code(c)}`" for c in failing[:FAILING_CASES_SHOWN])
            more = f" and {len(failing) - FAILING_CASES_SHOWN} more" if len(failing) > FAILING_CASES_SHOWN else ""
            lines += [f"Cases that got worse: {shown}{more}", ""]
    lines.append(f"Report: {_link(entry, report_url, relative_to)} · {entry['seconds']:.0f} s")
    return lines


def _scorer_table(scorers: list[dict[str, Any]]) -> list[str]:
    """Every scorer: both sides, the difference with its 95% CI, how much worse the candidate can be, verdict."""
    if not scorers:
        return []
    rows = [
        "| scorer | baseline | candidate | diff | 95% CI | at most worse (one-sided) | verdict |",
        "|---|---:|---:|---:|---|---:|---|",
    ]
    for s in scorers:
        worst = s.get("worst_diff")
        bound = f"{max(0.0, -worst):.3f}" if _finite(worst) else "n/a"
        interval = f"[{s['ci_low']:+.3f}, {s['ci_high']:+.3f}]" if _finite(s.get("ci_low")) else "n/a"
        verdict = s.get("verdict") or ""
        if verdict == "inconclusive" and _finite(s.get("cases_needed")):
            verdict += f" (about {int(s['cases_needed']):,} cases would decide it)"
        rows.append(
            f"| {md(s['scorer'])} | {_number(s.get('baseline'))} | {_number(s.get('candidate'))} | "
            f"{_number(s.get('diff'), '+.3f')} | {interval} | {bound} | {md(verdict)} |"
        )
    return rows


def _link(entry: dict[str, Any], report_url: str | None, relative_to: Path | None) -> str:
    name = Path(entry["report"]).name
    if report_url:
        return f"[{md(name)}]({report_url})"
    target = Path(entry["report"])
    if relative_to is not None:
        try:
            target = target.resolve().relative_to(relative_to.resolve())
        except ValueError:
            pass
    return f"[{md(name)}]({str(target).replace(' ', '%20')})"


def md(text: Any) -> str:
    """`text` as literal Markdown: active characters escaped, one line."""
    return _ACTIVE.sub(r"\\\1", " ".join(str(text).split()))


def code(text: Any) -> str:
    """`text` for inside a code span: one line, no backticks."""
    return " ".join(str(text).split()).replace("`", "'")


def _finite(value: Any) -> TypeGuard[float]:
    return isinstance(value, (int, float)) and math.isfinite(value)


def _number(value: Any, spec: str = ".3f") -> str:
    return format(value, spec) if _finite(value) else "n/a"
