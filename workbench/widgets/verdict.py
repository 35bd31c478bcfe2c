"""The gate's verdict as data (what CI reads back from an executed notebook) and as an escaped HTML banner."""

from __future__ import annotations

from typing import Any

import pandas as pd

from .html import badge, esc, view

#: The mimetype of the verdict record in a notebook's outputs; `workbench ci` looks for it.
VERDICT_MIME = "application/vnd.workbench.gate+json"


def failing_scorers(comparison: Any, policy: Any = None) -> list[str]:
    """The scorers that fail the gate: critical ones that regressed, guardrails that dropped."""
    table = comparison.table
    critical = set(table.index) if policy is None or policy.critical is None else set(policy.critical)
    guardrails = set(policy.guardrails) if policy is not None else set()
    tolerance = policy.guardrail_tolerance if policy is not None else 0.0
    return [name for name, row in table.iterrows()
            if (name in critical and row["verdict"] == "regressed") or (name in guardrails and row["diff"] < -tolerance)]


def failing_cases(comparison: Any, scorers: list[str]) -> pd.DataFrame:
    """Cases that got worse (degraded, or failed with an error) on `scorers`, worst first."""
    cases = comparison.cases
    worse = cases[cases["scorer"].isin(scorers) & cases["change"].isin(["degraded", "failed"])]
    return worse.sort_values(["diff", "case_id"], na_position="first", kind="stable").reset_index(drop=True)


def verdict_record(comparison: Any, gate: Any, policy: Any = None) -> dict[str, Any]:
    """Plain JSON: the verdict, the gate's failures, both runs, per-scorer results and the failing case ids
    (cases that got worse on a scorer that fails the gate)."""
    failing = failing_cases(comparison, failing_scorers(comparison, policy))
    table = comparison.table.reset_index()
    scorers = table.astype(object).where(table.notna(), None).to_dict("records")
    return {
        "passed": bool(gate.passed), "failures": list(gate.failures),
        "baseline": comparison.baseline.prompt_ref, "candidate": comparison.candidate.prompt_ref,
        "dataset": comparison.candidate.dataset_ref, "dataset_hash": comparison.candidate.dataset_hash,
        "baseline_run_id": comparison.baseline.run_id, "candidate_run_id": comparison.candidate.run_id,
        "regressed": comparison.regressed(),
        "failing_cases": list(dict.fromkeys(failing["case_id"])),
        "scorers": [{k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()} for row in scorers],
    }


def render_verdict(record: dict[str, Any]) -> str:
    """The banner at the top of a gate report: PASSED/FAILED, the two versions, every failure, the failing cases."""
    passed = record["passed"]
    parts = [f'<div class="wb-banner wb-{"good" if passed else "bad"}">GATE {"PASSED" if passed else "FAILED"}: '
             f'{esc(record["candidate"])} against {esc(record["baseline"])} on {esc(record["dataset"])}</div>']
    runs = [f"{label} run {esc(run)}" for label, run in (("baseline", record["baseline_run_id"]),
                                                         ("candidate", record["candidate_run_id"])) if run]
    if runs:
        parts.append(f'<div class="wb-muted">{" · ".join(runs)} · dataset hash {esc(record["dataset_hash"][:12])}</div>')
    verdicts = "".join(badge(f"{s['scorer']}: {s['verdict']}", {"improved": "good", "regressed": "bad"}.get(s["verdict"], "neutral"))
                       for s in record["scorers"])
    parts.append(f"<div>{verdicts}</div>")
    if record["failures"]:
        parts.append("<ul>" + "".join(f"<li>{esc(f)}</li>" for f in record["failures"]) + "</ul>")
    if record["failing_cases"]:
        shown = record["failing_cases"][:50]
        more = len(record["failing_cases"]) - len(shown)
        parts.append(f"<div><b>failing cases ({len(record['failing_cases'])})</b>: "
                     + ", ".join(f"<code>{esc(c)}</code>" for c in shown) + (f" and {more} more" if more > 0 else "") + "</div>")
    return view("".join(parts))
