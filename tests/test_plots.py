"""Plots: the right panels, points and axes from real comparisons; PNG for Jupyter and reports; clear errors."""

from __future__ import annotations

import pytest

from workbench import plots
from workbench.compare import compare
from workbench.errors import WorkbenchError

from .test_widgets_cases import make_run


@pytest.fixture
def runs():
    cases = [f"c{i}" for i in range(10)]
    base = make_run("s@1.0.0", {c: {"checks": float(i < 3), "sim": 0.5} for i, c in enumerate(cases)}, latency=0.5)
    cand = make_run(
        "s@1.1.0", {c: {"checks": float(i < 8), "sim": 0.6} for i, c in enumerate(cases)}, latency=1.5, cost=0.002
    )
    return base, cand


def test_score_distributions_has_one_panel_per_scorer_with_a_step_histogram_per_run(runs):
    fig = plots.score_distributions(list(runs))
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in visible] == ["checks", "sim"]
    assert len(visible[0].patches) == 2  # one step outline per run
    assert [t.get_text() for t in visible[0].get_legend().get_texts()] == ["s@1.0.0 (n=10)", "s@1.1.0 (n=10)"]
    assert plots.score_distributions(runs[0], scorers=["sim"]).axes[0].get_title() == "sim"


def test_paired_differences_plots_each_scorer_with_its_interval_and_verdict(runs):
    comparison = compare(*runs)
    fig = plots.paired_differences(comparison)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["checks", "sim"]
    notes = [t.get_text() for t in ax.texts]
    assert notes[0].startswith("+0.500") and notes[1].startswith("+0.100") and "improved" in notes[1]
    assert fig._repr_png_()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cost_quality_uses_usd_when_known_and_tokens_otherwise(runs):
    fig = plots.cost_quality(list(runs), "checks")
    ax = fig.axes[0]
    assert ax.get_xlabel() == "cost per call (USD)"
    assert [t.get_text().splitlines()[0] for t in ax.texts] == ["s@1.0.0", "s@1.1.0"]
    tokens = plots.cost_quality(runs[0], "checks")  # the baseline alone costs 0
    assert tokens.axes[0].get_xlabel() == "tokens per call (input + output)"
    assert plots.cost_quality(list(runs), "checks", cost="tokens").axes[0].get_xlabel().startswith("tokens")


def test_latency_histogram_marks_percentiles_per_run(runs):
    ax = plots.latency_histogram(compare(*runs)).axes[0]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["s@1.0.0", "s@1.1.0"]
    assert sorted(round(line.get_xdata()[0], 2) for line in ax.lines) == [0.5, 0.5, 1.5, 1.5]


def test_bad_arguments_name_the_problem(runs):
    with pytest.raises(WorkbenchError, match="scorer\\(s\\) bleu not in these runs; scorers: checks, sim"):
        plots.score_distributions(list(runs), scorers=["bleu"])
    with pytest.raises(WorkbenchError, match="cost='euros'"):
        plots.cost_quality(list(runs), "checks", cost="euros")
    with pytest.raises(WorkbenchError, match="no runs given"):
        plots.latency_histogram([])
    failed = make_run("s@2.0.0", {"c0": {}}, errors={"c0": "timeout"})
    with pytest.raises(WorkbenchError, match="no successful calls"):
        plots.latency_histogram(failed)
