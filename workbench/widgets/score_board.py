"""ScoreBoard: per-scorer means with confidence intervals and verdicts, cost and latency, for runs or a comparison."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from .base import View
from .html import badge, ci_bar, esc, fmt, table, verdict_kind

TOTALS = [
    ("cases", "cases", 0),
    ("errors", "errors", 0),
    ("error rate", "error_rate", 3),
    ("latency p50 (s)", "latency_p50_s", 2),
    ("latency p95 (s)", "latency_p95_s", 2),
    ("input tokens", "input_tokens", 0),
    ("output tokens", "output_tokens", 0),
    ("cost (USD)", "cost_usd", 4),
    ("cost per call (USD)", "cost_per_call_usd", 6),
    ("model calls", "model_calls", 0),
    ("duration (s)", "duration_s", 1),
]


def _runs(target: Any) -> list[Any]:
    if hasattr(target, "baseline") and hasattr(target, "candidate"):
        return [target.baseline, target.candidate]
    if isinstance(target, (list, tuple)):
        return list(target)
    return [target]


def run_label(run: Any) -> str:
    return run.prompt_ref + (f" ({run.run_id[:8]})" if getattr(run, "run_id", None) else "")


def scores_frame(target: Any) -> pd.DataFrame:
    """Long table, one row per run x scorer: mean, 95% CI, pass rate, n, errors."""
    rows = []
    for run in _runs(target):
        summary = run.summary()
        for name, s in summary.iterrows():
            rows.append(
                {
                    "run": run_label(run),
                    "scorer": name,
                    "n": int(s["n"]),
                    "mean": s["mean"],
                    "ci_low": s["ci_low"],
                    "ci_high": s["ci_high"],
                    "pass_rate": s["pass_rate"],
                    "errors": int(s["errors"]),
                }
            )
    return pd.DataFrame(rows, columns=["run", "scorer", "n", "mean", "ci_low", "ci_high", "pass_rate", "errors"])


def totals_frame(target: Any) -> pd.DataFrame:
    """One column per run: cases, errors, latency percentiles, tokens, cost; for a comparison also the change."""
    runs = _runs(target)
    frame = pd.DataFrame({run_label(r): {label: r.totals()[key] for label, key, _ in TOTALS} for r in runs})
    if hasattr(target, "baseline") and len(runs) == 2:
        b, c = frame.iloc[:, 0].astype(float), frame.iloc[:, 1].astype(float)
        frame["change"] = [(y - x) / x if x not in (0, 0.0) and not math.isnan(x) else math.nan for x, y in zip(b, c)]
    return frame


def _range(frame: pd.DataFrame, columns: list[str]) -> tuple[float, float]:
    values = frame[columns].to_numpy(dtype=float).ravel()
    values = values[~pd.isna(values)]
    if not len(values):
        return 0.0, 1.0
    low, high = min(values.min(), 0.0), max(values.max(), 1.0)
    return float(low), float(high)


def render_comparison(comparison: Any) -> str:
    t = comparison.table
    scores = scores_frame(comparison)
    head = (
        f"<div><b>{esc(comparison.baseline.prompt_ref)}</b> → <b>{esc(comparison.candidate.prompt_ref)}</b> on "
        f"{esc(comparison.candidate.dataset_ref)} (paired, alpha {comparison.alpha:g})</div>"
    )
    if t.empty:
        return head + '<div class="wb-muted">no scorer in common</div>'
    lo, hi = _range(t, ["ci_low", "ci_high", "diff"])
    by_run = {(r.run, r.scorer): r for r in scores.itertuples(index=False)}
    b_label, c_label = run_label(comparison.baseline), run_label(comparison.candidate)
    rows = []
    for name, r in t.iterrows():
        b, c = by_run.get((b_label, name)), by_run.get((c_label, name))

        def mean_ci(s: Any) -> str:
            return (
                "–" if s is None else f'{fmt(s.mean)} <span class="wb-muted">[{fmt(s.ci_low)}, {fmt(s.ci_high)}]</span>'
            )

        rows.append(
            [
                esc(name),
                esc(int(r["n"])),
                mean_ci(b),
                mean_ci(c),
                f"{r['diff']:+.3f}" if not pd.isna(r["diff"]) else "–",
                f"[{fmt(r['ci_low'])}, {fmt(r['ci_high'])}] {ci_bar(r['ci_low'], r['ci_high'], r['diff'], lo, hi)}",
                f'{fmt(r["p_value"], 4)} <span class="wb-muted">{esc(r["test"])}</span>',
                f"{badge(int(r['improved']), 'good', 'improved')}{badge(int(r['degraded']), 'bad', 'degraded')}"
                f"{badge(int(r['failed']), 'warn', 'failed')}",
                badge(r["verdict"], verdict_kind(r["verdict"])),
            ]
        )
    scorers = table(
        rows,
        [
            "scorer",
            "n",
            "baseline [95% CI]",
            "candidate [95% CI]",
            "diff",
            "diff 95% CI",
            "p (test)",
            "cases +/−/err",
            "verdict",
        ],
        numeric=[1, 4],
    )
    return head + scorers + render_totals(totals_frame(comparison))


def render_totals(frame: pd.DataFrame) -> str:
    digits = {label: d for label, _, d in TOTALS}
    rows = []
    for label, values in frame.iterrows():
        cells = [esc(label)]
        for column, value in values.items():
            if column == "change":
                cells.append("–" if pd.isna(value) else f"{value:+.0%}")
            else:
                cells.append(fmt(value, digits[label]))
        rows.append(cells)
    return table(rows, ["cost and latency", *frame.columns], numeric=range(1, len(frame.columns) + 1))


def render_runs(runs: list[Any]) -> str:
    scores = scores_frame(runs)
    lo, hi = _range(scores, ["ci_low", "ci_high", "mean"])
    rows = [
        [
            esc(r.scorer),
            esc(r.run),
            esc(r.n),
            fmt(r.mean),
            f"[{fmt(r.ci_low)}, {fmt(r.ci_high)}]",
            ci_bar(r.ci_low, r.ci_high, r.mean, lo, hi),
            fmt(r.pass_rate),
            esc(r.errors),
        ]
        for r in scores.sort_values(["scorer", "run"], kind="stable").itertuples(index=False)
    ]
    head = "".join(
        f"<div><b>{esc(run_label(r))}</b> on {esc(r.dataset_ref)}"
        + (f" {badge('stopped early', 'warn', r.stopped)}" if getattr(r, "stopped", None) else "")
        + "</div>"
        for r in runs
    )
    return (
        head
        + table(rows, ["scorer", "run", "n", "mean", "95% CI", "", "pass rate", "errors"], numeric=[2, 3, 6, 7])
        + render_totals(totals_frame(runs))
    )


class ScoreBoard(View):
    """Per-scorer means with 95% intervals (and, for a comparison, the paired difference, p-value and verdict),
    then cost, latency and tokens. Takes a `Comparison`, a `RunResult` or a list of runs (configurations, models)."""

    def __init__(self, target: Any):
        self.target = target

    @property
    def is_comparison(self) -> bool:
        return hasattr(self.target, "baseline") and hasattr(self.target, "table")

    def render(self) -> str:
        return render_comparison(self.target) if self.is_comparison else render_runs(_runs(self.target))

    def build(self) -> Any:
        import ipywidgets as w

        return w.HTML(self.html())
