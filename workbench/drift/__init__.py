"""Drift in logged traffic: load it, compare two time windows, follow drift and quality over time, plot."""

from .features import embed, languages, topics
from .plots import plot_drift_over_time, plot_lengths, plot_quality, plot_shares
from .quality import quality_over_time, score_traffic
from .report import DriftReport, drift_over_time, drift_report
from .traffic import Request, input_text, load_traffic, window

__all__ = [
    "DriftReport",
    "Request",
    "drift_over_time",
    "drift_report",
    "embed",
    "input_text",
    "languages",
    "load_traffic",
    "plot_drift_over_time",
    "plot_lengths",
    "plot_quality",
    "plot_shares",
    "quality_over_time",
    "score_traffic",
    "topics",
    "window",
]
