"""Matplotlib figures of runs and comparisons: score distributions, paired differences with intervals,
cost against quality, latency. Each function returns a `Figure` (no pyplot state); Jupyter shows it inline."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from .errors import WorkbenchError

COLORS = ["#0969da", "#cf222e", "#1a7f37", "#8250df", "#bf8700", "#57606a"]
VERDICT_COLORS = {"improved": "#1a7f37", "regressed": "#cf222e", "no significant change": "#57606a"}


class Plot(Figure):
    """A Figure that shows itself as PNG in any Jupyter frontend (and in nbconvert reports), no pyplot needed."""

    def _repr_png_(self) -> bytes:
        buffer = io.BytesIO()
        self.savefig(buffer, format="png", dpi=100)
        return buffer.getvalue()


def _as_runs(runs: Any) -> list[Any]:
    if hasattr(runs, "baseline") and hasattr(runs, "candidate"):
        return [runs.baseline, runs.candidate]
    runs = list(runs) if isinstance(runs, (list, tuple)) else [runs]
    if not runs:
        raise WorkbenchError("plots: no runs given; pass a RunResult, a list of them or a Comparison")
    return runs


def _label(run: Any) -> str:
    return run.prompt_ref


def _scorers(runs: list[Any], scorers: Sequence[str] | None) -> list[str]:
    known = list(dict.fromkeys(s for r in runs for s in r.case_scores().columns))
    if scorers is None:
        return known
    unknown = [s for s in scorers if s not in known]
    if unknown:
        raise WorkbenchError(f"plots: scorer(s) {', '.join(unknown)} not in these runs; scorers: {', '.join(known)}")
    return list(scorers)


def score_distributions(runs: Any, scorers: Sequence[str] | None = None, bins: int = 10) -> Plot:
    """Per scorer, a histogram of the per-case scores of each run (overlaid steps, means as dashed lines)."""
    runs = _as_runs(runs)
    names = _scorers(runs, scorers)
    if not names:
        raise WorkbenchError("plots: these runs have no scored cases")
    cols = min(3, len(names))
    rows = int(np.ceil(len(names) / cols))
    fig = Plot(figsize=(4.2 * cols, 3.0 * rows), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax, name in zip(axes, names):
        values = {_label(r): r.case_scores()[name].dropna() for r in runs if name in r.case_scores()}
        low = min([0.0, *[v.min() for v in values.values() if len(v)]])
        high = max([1.0, *[v.max() for v in values.values() if len(v)]])
        edges = np.linspace(low, high, bins + 1)
        for i, (label, v) in enumerate(values.items()):
            color = COLORS[i % len(COLORS)]
            ax.hist(v, bins=edges, histtype="step", linewidth=2, color=color, label=f"{label} (n={len(v)})")
            if len(v):
                ax.axvline(v.mean(), color=color, linestyle="--", linewidth=1)
        ax.set_title(name)
        ax.set_xlabel("score per case")
        ax.set_ylabel("cases")
    for ax in axes[len(names) :]:
        ax.set_visible(False)
    axes[0].legend(fontsize=8, loc="best")
    fig.suptitle("Score distributions (dashed: means)")
    return fig


def paired_differences(comparison: Any) -> Plot:
    """Per scorer, the mean paired difference (candidate − baseline) with its 95% bootstrap interval, coloured by
    verdict; grey dots are the per-case differences."""
    table = comparison.table
    if table.empty:
        raise WorkbenchError("plots: the comparison has no scorer in common")
    names = list(table.index)
    fig = Plot(figsize=(7.5, 0.8 + 0.6 * len(names)), layout="constrained")
    ax = fig.subplots()
    rng = np.random.default_rng(0)
    for y, name in enumerate(names):
        cases = comparison.cases[comparison.cases["scorer"] == name]["diff"].dropna().to_numpy()
        ax.scatter(cases, y + rng.uniform(-0.18, 0.18, len(cases)), s=8, color="#afb8c1", zorder=1)
        row = table.loc[name]
        color = VERDICT_COLORS.get(row["verdict"], "#57606a")
        if not pd.isna(row["diff"]):
            ax.errorbar(
                row["diff"],
                y,
                xerr=[[row["diff"] - row["ci_low"]], [row["ci_high"] - row["diff"]]],
                fmt="o",
                color=color,
                capsize=4,
                markersize=7,
                zorder=3,
            )
            ax.annotate(
                f"{row['diff']:+.3f}  p={row['p_value']:.3g}  {row['verdict']}",
                (row["diff"], y),
                textcoords="offset points",
                xytext=(0, 9),
                ha="center",
                fontsize=8,
                color=color,
            )
    ax.axvline(0, color="#57606a", linewidth=1)
    ax.set_yticks(range(len(names)), names)
    ax.set_ylim(-0.7, len(names) - 0.3)
    ax.invert_yaxis()
    ax.set_xlabel("candidate − baseline (per case; point: mean, bar: 95% CI)")
    ax.set_title(f"{comparison.baseline.prompt_ref} → {comparison.candidate.prompt_ref}")
    return fig


def cost_quality(runs: Any, scorer: str, cost: str = "auto") -> Plot:
    """Each run as a point: mean `scorer` (with its 95% interval) against cost per call.

    `cost`: `usd` (cost per call), `tokens` (input + output tokens per call) or `auto` (usd unless every run's cost
    is zero or unknown, as with local models, then tokens).
    """
    runs = _as_runs(runs)
    _scorers(runs, [scorer])
    if cost not in ("auto", "usd", "tokens"):
        raise WorkbenchError(f"plots: cost='{cost}' is not a cost axis; use auto, usd or tokens")
    totals = [r.totals() for r in runs]
    if cost == "auto":
        cost = (
            "usd" if any(t["cost_per_call_usd"] and not np.isnan(t["cost_per_call_usd"]) for t in totals) else "tokens"
        )
    xs = [
        t["cost_per_call_usd"] if cost == "usd" else (t["input_tokens"] + t["output_tokens"]) / max(t["calls"], 1)
        for t in totals
    ]
    fig = Plot(figsize=(6.5, 4.2), layout="constrained")
    ax = fig.subplots()
    for i, (run, x) in enumerate(zip(runs, xs)):
        s = run.summary().loc[scorer]
        color = COLORS[i % len(COLORS)]
        ax.errorbar(
            x,
            s["mean"],
            yerr=[[s["mean"] - s["ci_low"]], [s["ci_high"] - s["mean"]]],
            fmt="o",
            color=color,
            capsize=4,
            markersize=8,
        )
        model = run.frame["model"].dropna().iloc[0] if run.frame["model"].notna().any() else "?"
        ax.annotate(f"{run.prompt_ref}\n{model}", (x, s["mean"]), textcoords="offset points", xytext=(8, 4), fontsize=8)
    ax.set_xlabel("cost per call (USD)" if cost == "usd" else "tokens per call (input + output)")
    ax.set_ylabel(f"{scorer} (mean, 95% CI)")
    ax.set_title(f"Quality against cost: {scorer}")
    ax.margins(x=0.25, y=0.15)
    return fig


def latency_histogram(runs: Any, bins: int = 20) -> Plot:
    """Per run, the distribution of per-call latency (errors excluded), with p50 and p95 marked."""
    runs = _as_runs(runs)
    fig = Plot(figsize=(7.0, 3.6), layout="constrained")
    ax = fig.subplots()
    latencies = {
        _label(r): r.cases().loc[lambda c: c["error"].isna(), "latency_s"].dropna().astype(float) for r in runs
    }
    every = pd.concat(list(latencies.values())) if latencies else pd.Series(dtype=float)
    if every.empty:
        raise WorkbenchError("plots: no successful calls to plot latency for")
    edges = np.linspace(0, every.max() * 1.05 or 1.0, bins + 1)
    for i, (label, values) in enumerate(latencies.items()):
        color = COLORS[i % len(COLORS)]
        ax.hist(values, bins=list(edges), histtype="step", linewidth=2, color=color, label=label)
        for q, style in ((0.5, "--"), (0.95, ":")):
            if len(values):
                ax.axvline(values.quantile(q), color=color, linestyle=style, linewidth=1)
    ax.set_xlabel("latency per call (s); dashed p50, dotted p95")
    ax.set_ylabel("calls")
    ax.legend(fontsize=8)
    ax.set_title("Latency")
    return fig
