"""matplotlib figures of drift and quality. Each function returns a `Figure` (no pyplot state), which a
notebook shows and `fig.savefig(path)` writes."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd
from matplotlib.figure import Figure

if TYPE_CHECKING:
    from .report import DriftReport


def plot_quality(
    quality: pd.DataFrame, metrics: list[str] | None = None, mark: str | pd.Timestamp | None = None
) -> Figure:
    """One small panel per metric of `quality_over_time`, over time; `mark` draws a line (e.g. a release)."""
    metrics = metrics or [m for m in dict.fromkeys(quality["metric"]) if m != "requests"]
    figure = Figure(figsize=(4 * min(len(metrics), 3), 2.8 * ((len(metrics) + 2) // 3)), layout="constrained")
    for i, metric in enumerate(metrics, start=1):
        ax = figure.add_subplot((len(metrics) + 2) // 3, min(len(metrics), 3), i)
        rows = quality[quality["metric"] == metric]
        ax.plot(rows["period"], rows["value"], marker="o")
        ax.set_title(metric, fontsize=10)
        _mark(ax, mark)
        ax.tick_params(axis="x", labelrotation=45, labelsize=8)
    return figure


def plot_drift_over_time(timeline: pd.DataFrame, mark: str | pd.Timestamp | None = None) -> Figure:
    """From `drift_over_time`: centroid distance to the reference, mean words, and language shares (inputs)."""
    figure = Figure(figsize=(13, 3.4), layout="constrained")
    for i, metric in enumerate(("centroid_distance", "mean_words"), start=1):
        ax = figure.add_subplot(1, 3, i)
        for side, rows in timeline[timeline["metric"] == metric].groupby("side"):
            ax.plot(rows["period"], rows["value"], marker="o", label=side)
        ax.set_title(metric.replace("_", " "), fontsize=10)
        ax.legend(fontsize=8)
        _mark(ax, mark)
        ax.tick_params(axis="x", labelrotation=45, labelsize=8)
    ax = figure.add_subplot(1, 3, 3)
    shares = timeline[(timeline["side"] == "input") & timeline["metric"].str.startswith("language:")]
    table = shares.pivot_table(index="period", columns="metric", values="value", fill_value=0)
    ax.stackplot(table.index, table.T.to_numpy(), labels=[c.removeprefix("language:") for c in table.columns])
    ax.set_title("input language share", fontsize=10)
    ax.legend(fontsize=8, loc="lower left")
    _mark(ax, mark)
    ax.tick_params(axis="x", labelrotation=45, labelsize=8)
    return figure


def plot_shares(report: DriftReport, feature: str = "topic", side: str = "input") -> Figure:
    """Reference against current share of each language or topic, the biggest movers first."""
    rows = report.shares[(report.shares["feature"] == feature) & (report.shares["side"] == side)]
    rows = rows.reindex(rows["diff"].abs().sort_values(ascending=False).index)
    labels = [f"{c} ({d})" if d else str(c) for c, d in zip(rows["category"], rows["description"])]
    figure = Figure(figsize=(8, 0.45 * len(rows) + 1.2), layout="constrained")
    ax = figure.add_subplot()
    positions = range(len(rows))
    ax.barh([p + 0.2 for p in positions], rows["reference"], height=0.4, label="reference")
    ax.barh([p - 0.2 for p in positions], rows["current"], height=0.4, label="current")
    ax.set_yticks(list(positions), labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("share of requests")
    ax.set_title(f"{side} {feature}", fontsize=10)
    ax.legend(fontsize=8)
    return figure


def plot_lengths(reference: pd.DataFrame, current: pd.DataFrame, column: str = "output") -> Figure:
    """Histograms of words per text in each window."""
    figure = Figure(figsize=(6, 3.2), layout="constrained")
    ax = figure.add_subplot()
    for name, frame in (("reference", reference), ("current", current)):
        ax.hist(frame[column].str.split().str.len(), bins=20, alpha=0.6, label=name, density=True)
    ax.set_xlabel(f"words per {column}")
    ax.legend(fontsize=8)
    return figure


def _mark(ax, mark: str | pd.Timestamp | None) -> None:
    if mark is not None:
        ax.axvline(
            pd.Timestamp(mark).tz_localize(None) if pd.Timestamp(mark).tzinfo else pd.Timestamp(mark),
            color="grey",
            linestyle="--",
            linewidth=1,
        )
