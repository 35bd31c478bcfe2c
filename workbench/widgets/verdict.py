"""The gate's verdict as data (what CI reads back from an executed notebook) and as an escaped HTML banner.

Both format the gate's structured outcomes (`GateResult.outcomes`); neither applies a rule of its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

from .html import badge, esc, view

#: The mimetype of the verdict record in a notebook's outputs; `workbench ci` looks for it.
VERDICT_MIME = "application/vnd.workbench.gate+json"
HEADS = {
    "passed": ("GATE PASSED", "good"),
    "regressed": ("GATE FAILED", "bad"),
    "inconclusive": ("GATE INCONCLUSIVE", "warn"),
}


class VerdictRecord(BaseModel):
    """The gate's verdict as a notebook records it and `workbench ci`, the report header and the summaries read it:
    one model, validated on the way in (`of`). `rules` are `GateResult.to_dict()`'s outcomes; `scorers` the
    comparison table's rows."""

    model_config = ConfigDict(extra="allow")

    verdict: Literal["passed", "regressed", "inconclusive"]
    passed: bool
    exit_code: int = Field(ge=0, le=4)
    inconclusive_fails: bool = True
    rules: list[dict[str, Any]] = Field(default_factory=list)
    failures: list[str] = Field(default_factory=list)
    messages: dict[str, list[str]] = Field(default_factory=dict)
    baseline: str = ""
    candidate: str = ""
    dataset: str = ""
    dataset_hash: str = ""
    baseline_run_id: str | None = None
    candidate_run_id: str | None = None
    regressed: list[str] = Field(default_factory=list)
    inconclusive: list[str] = Field(default_factory=list)
    failing_cases: list[str] = Field(default_factory=list)
    scorers: list[dict[str, Any]] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _older(cls, data: Any) -> Any:
        """Records of older versions carry `passed` only: the verdict and exit code follow from it."""
        if isinstance(data, dict) and "passed" in data and "verdict" not in data:
            data = {**data, "verdict": "passed" if data["passed"] else "regressed"}
        if isinstance(data, dict) and "verdict" in data and "exit_code" not in data:
            data = {
                **data,
                "exit_code": 0 if data.get("passed") else {"regressed": 1, "inconclusive": 4}.get(data["verdict"], 1),
            }
        return data

    @classmethod
    def of(cls, record: VerdictRecord | Mapping[str, Any]) -> VerdictRecord:
        """The record itself, or one read from its JSON form (an executed notebook's output)."""
        return record if isinstance(record, VerdictRecord) else cls.model_validate(dict(record))

    @property
    def status(self) -> Literal["passed", "regressed", "inconclusive"]:
        """What CI makes of it: passed (an inconclusive verdict the policy lets pass included), or the verdict."""
        return "passed" if self.passed else self.verdict

    def lines(self) -> list[str]:
        """The messages of every rule that did not pass: regressed, inconclusive, not comparable."""
        return [m for kind in ("regressed", "inconclusive", "not comparable") for m in self.messages.get(kind, [])]


def failing_scorers(gate: Any) -> list[str]:
    """The scorers that fail the gate (critical ones that regressed, guardrails that dropped), as the gate decided."""
    return list(
        dict.fromkeys(
            o.scorer for o in gate.outcomes if o.rule in ("critical", "guardrail") and o.verdict == "regressed"
        )
    )


def failing_cases(comparison: Any, scorers: list[str]) -> pd.DataFrame:
    """Cases that got worse (degraded, or failed with an error) on `scorers`, worst first."""
    cases = comparison.cases
    worse = cases[cases["scorer"].isin(scorers) & cases["change"].isin(["degraded", "failed"])]
    return worse.sort_values(["diff", "case_id"], na_position="first", kind="stable").reset_index(drop=True)


def verdict_record(comparison: Any, gate: Any, policy: Any = None) -> VerdictRecord:
    """Plain JSON: the verdict, every rule's outcome with its numbers and its message, both runs, per-scorer
    results and the failing case ids (cases that got worse on a scorer that fails the gate). `policy` is unused
    (the gate's outcomes carry everything); kept so older notebooks keep working."""
    failing = failing_cases(comparison, failing_scorers(gate))
    table = comparison.table.reset_index()
    scorers = table.astype(object).where(table.notna(), None).to_dict("records")
    return VerdictRecord(
        **gate.to_dict(),
        failures=list(gate.failures),
        messages={
            verdict: [o.message() for o in gate.of(verdict)]
            for verdict in ("regressed", "inconclusive", "not comparable")
        },
        baseline=comparison.baseline.prompt_ref,
        candidate=comparison.candidate.prompt_ref,
        dataset=comparison.candidate.dataset_ref,
        dataset_hash=comparison.candidate.dataset_hash,
        baseline_run_id=comparison.baseline.run_id,
        candidate_run_id=comparison.candidate.run_id,
        regressed=comparison.regressed(),
        inconclusive=comparison.inconclusive(),
        failing_cases=list(dict.fromkeys(failing["case_id"])),
        scorers=[{k: _plain(v) for k, v in row.items()} for row in scorers],
    )


def headline(record: VerdictRecord | Mapping[str, Any]) -> str:
    """GATE PASSED / FAILED / INCONCLUSIVE, and whether an inconclusive verdict fails CI."""
    record = VerdictRecord.of(record)
    text = HEADS[record.verdict][0]
    if record.verdict == "inconclusive":
        text += " (fails CI, exit 4)" if not record.passed else " (passes by the policy)"
    return text


def render_verdict(record: VerdictRecord | Mapping[str, Any]) -> str:
    """The banner at the top of a gate report: the verdict, the two versions, every failure, what could not be
    decided (with the smallest drop the dataset can detect), the failing cases."""
    record = VerdictRecord.of(record)
    parts = [
        (
            f'<div class="wb-banner wb-{HEADS[record.verdict][1]}">{esc(headline(record))}: '
            f"{esc(record.candidate)} against {esc(record.baseline)} on {esc(record.dataset)}</div>"
        )
    ]
    runs = [
        f"{label} run {esc(run)}"
        for label, run in (("baseline", record.baseline_run_id), ("candidate", record.candidate_run_id))
        if run
    ]
    if runs:
        parts.append(f'<div class="wb-muted">{" · ".join(runs)} · dataset hash {esc(record.dataset_hash[:12])}</div>')
    kinds = {"improved": "good", "regressed": "bad", "inconclusive": "warn"}
    verdicts = "".join(
        badge(
            f"{s['scorer']}: {s['verdict']}" + (f" (mde {s['mde']:.2f})" if s.get("mde") is not None else ""),
            kinds.get(s["verdict"], "neutral"),
        )
        for s in record.scorers
    )
    parts.append(f"<div>{verdicts}</div>")
    messages = record.messages or {"regressed": record.failures}
    for verdict, title in (
        ("regressed", "failed"),
        ("inconclusive", "inconclusive"),
        ("not comparable", "not compared"),
    ):
        if messages.get(verdict):
            parts.append(
                f"<div><b>{title}</b><ul>" + "".join(f"<li>{esc(m)}</li>" for m in messages[verdict]) + "</ul></div>"
            )
    if record.failing_cases:
        shown = record.failing_cases[:50]
        more = len(record.failing_cases) - len(shown)
        parts.append(
            f"<div><b>failing cases ({len(record.failing_cases)})</b>: "
            + ", ".join(f"<code>{esc(c)}</code>" for c in shown)
            + (f" and {more} more" if more > 0 else "")
            + "</div>"
        )
    return view("".join(parts))


def _plain(value: Any) -> Any:
    value = value.item() if hasattr(value, "item") else value
    return None if isinstance(value, float) and value in (float("inf"), float("-inf")) else value


def render_ab(result: Any) -> str:
    """The banner of an A/B read-out: the decision, its reasons, and each KPI's verdict (escaped)."""
    kind = {"ship": "good", "do not ship": "bad"}.get(result.decision, "warn")
    parts = [
        (
            f'<div class="wb-banner wb-{kind}">A/B: {esc(result.decision.upper())}: {esc(result.treatment)} against '
            f"{esc(result.control)}</div>"
        )
    ]
    kinds = {"improved": "good", "degraded": "bad", "inconclusive": "warn"}
    parts.append(
        "<div>"
        + "".join(
            badge(f"{name} ({row['role']}): {row['verdict']}", kinds.get(row["verdict"], "neutral"))
            for name, row in result.table.iterrows()
        )
        + "</div>"
    )
    parts.append("<ul>" + "".join(f"<li>{esc(r)}</li>" for r in result.reasons) + "</ul>")
    return view("".join(parts))
