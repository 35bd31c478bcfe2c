"""Figures of the statistics: power curves of a plan, an A/B test's KPIs and its sequential read-out.
Each function returns a `Plot` (a matplotlib Figure that renders as PNG without pyplot)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .plots import COLORS, Plot


def power_curve(plan: Any) -> Plot:
    """Power against the number of cases per scorer (one line per repeats), with the target power and the pilot's size."""
    curve = plan.curve()
    figure = Plot(figsize=(7, 3.6))
    ax = figure.add_subplot()
    for i, ((scorer, repeats), rows) in enumerate(curve.groupby(["scorer", "repeats"], sort=False)):
        label = scorer if curve["repeats"].nunique() == 1 else f"{scorer}, {repeats} repeat(s)"
        ax.plot(
            rows["cases"],
            rows["power"],
            color=COLORS[i % len(COLORS)],
            label=label,
            linestyle="-" if repeats == 1 else "--",
        )
    ax.axhline(plan.power, color="#57606a", linewidth=0.8, linestyle=":")
    ax.axvline(plan.table["pilot_cases"].max(), color="#57606a", linewidth=0.8)
    ax.set_xscale("log")
    ax.set_ylim(0, 1)
    ax.set_xlabel("cases (log scale; the vertical line: the pilot)")
    ax.set_ylabel(f"power to detect a drop of {plan.effect:g}")
    ax.legend(fontsize=8, loc="lower right")
    figure.tight_layout()
    return figure


def ab_kpis(result: Any) -> Plot:
    """Each KPI's relative difference (treatment against control) with its 95% interval, coloured by verdict."""
    table = result.table
    figure = Plot(figsize=(7, 0.5 + 0.55 * len(table)))
    ax = figure.add_subplot()
    colors = {"improved": "#1a7f37", "degraded": "#cf222e", "inconclusive": "#bf8700"}
    for y, (_name, row) in enumerate(table.iterrows()):
        scale = abs(row["control"]) or 1.0
        low, high, diff = (row[k] / scale for k in ("ci_low", "ci_high", "diff"))
        color = colors.get(row["verdict"], "#57606a")
        ax.plot([low, high], [y, y], color=color, linewidth=2)
        ax.plot([diff], [y], "o", color=color)
        ax.annotate(
            f"{diff:+.1%} {row['verdict']}",
            (diff, y),
            textcoords="offset points",
            xytext=(0, 6),
            fontsize=8,
            ha="center",
        )
    ax.axvline(0, color="#57606a", linewidth=0.8)
    ax.set_yticks(range(len(table)), [f"{n} ({r['role']})" for n, r in table.iterrows()])
    ax.invert_yaxis()
    ax.set_xlabel(f"{result.treatment} against {result.control}: relative difference, 95% interval")
    figure.tight_layout()
    return figure


def ab_sequential(readout: Any, kpi: str) -> Plot:
    """The anytime-valid interval of one KPI's difference after each day, and where the read-out could stop."""
    rows = readout[readout["kpi"] == kpi]
    figure = Plot(figsize=(7, 3.2))
    ax = figure.add_subplot()
    x = np.arange(len(rows))
    ax.fill_between(x, rows["low"], rows["high"], color="#0969da", alpha=0.2, label="anytime-valid 95% interval")
    ax.plot(x, rows["estimate"], color="#0969da", label="difference")
    ax.axhline(0, color="#57606a", linewidth=0.8)
    decided = np.flatnonzero(rows["verdict"].to_numpy() != "continue")
    if len(decided):
        ax.axvline(
            decided[0], color="#1a7f37", linestyle="--", label=f"first certain: {rows['verdict'].iloc[decided[0]]}"
        )
    ax.set_xticks(x, [str(p)[5:10] for p in rows["period"]], rotation=45, fontsize=8)
    ax.set_ylabel(f"{kpi}: treatment - control")
    ax.legend(fontsize=8)
    figure.tight_layout()
    return figure
