"""Drift: the two-sample tests on constructed data, traffic files, languages, and the demo traffic end to end."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from workbench.drift import (
    drift_over_time,
    drift_report,
    languages,
    load_traffic,
    plot_drift_over_time,
    plot_lengths,
    plot_quality,
    plot_shares,
    quality_over_time,
    score_traffic,
    window,
)
from workbench.drift.stats import categorical_test, classifier_test, embedding_tests, holm
from workbench.errors import WorkbenchError

ROOT = Path(__file__).resolve().parents[1]
TRAFFIC = ROOT / "datasets" / "traffic" / "lumen-support.jsonl"


def unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_embedding_tests_detect_a_shifted_cloud_and_not_a_resample():
    rng = np.random.default_rng(1)
    centre = rng.normal(size=32)
    same_a, same_b = (unit(centre + rng.normal(size=(80, 32))) for _ in range(2))
    shifted = unit(centre + 0.8 * rng.normal(size=32) + rng.normal(size=(80, 32)))
    moved = embedding_tests(same_a, shifted, permutations=500)
    assert moved["mmd"][1] < 0.01 and moved["centroid_distance"][1] < 0.01
    still = embedding_tests(same_a, same_b, permutations=500)
    assert still["mmd"][1] > 0.05 and still["centroid_distance"][1] > 0.05
    assert still["centroid_distance"][0] < moved["centroid_distance"][0]
    auc, p = classifier_test(same_a, shifted)
    assert auc > 0.8 and p < 0.001
    auc, p = classifier_test(same_a, same_b)
    assert 0.3 < auc < 0.7 and p > 0.05


def test_categorical_shares_and_holm_by_hand():
    tvd, p, shares = categorical_test(pd.Series(["en"] * 9 + ["de"]), pd.Series(["en"] * 5 + ["de"] * 5))
    assert tvd == pytest.approx(0.4) and shares.loc["de"].tolist() == [0.1, 0.5]
    assert 0 < p < 0.2
    adjusted = holm(pd.Series([0.01, 0.04, np.nan, 0.03]))
    assert (
        adjusted.round(6).tolist()[:2] == [0.03, 0.06] and np.isnan(adjusted[2]) and adjusted[3] == pytest.approx(0.06)
    )


def test_traffic_file_errors_name_line_and_field(tmp_path):
    good = {
        "ts": "2026-10-01T09:00:00Z",
        "prompt_ref": "support@1.1.0",
        "inputs": {"question": "hi"},
        "output": "hello",
        "latency_s": 0.5,
        "input_tokens": 10,
        "output_tokens": 2,
    }
    rows = [
        good,
        {**good, "ts": "yesterday"},
        {k: v for k, v in good.items() if k != "output"},
        {**good, "feedback": 3},
        {**good, "ratng": 1},
    ]
    path = tmp_path / "t.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + "[1, 2\n")
    with pytest.raises(WorkbenchError) as info:
        load_traffic(path)
    lines = str(info.value).splitlines()
    assert f"{path}:2: ts: 'yesterday' is not ISO 8601; write e.g. 2026-10-01T09:30:00Z" in lines
    assert f"{path}:3: output: Field required" in lines
    assert f"{path}:4: feedback: Input should be less than or equal to 1" in lines
    assert f"{path}:5: ratng: unknown key" in lines
    assert any(line.startswith(f"{path}:6: json:") for line in lines)


def test_windows_and_ids(tmp_path):
    rows = [
        {"ts": f"2026-10-0{d}T12:00:00+02:00", "prompt_ref": "p@1.0.0", "inputs": {"q": f"q{d}", "n": d}, "output": "a"}
        for d in (3, 1, 2)
    ]
    path = tmp_path / "t.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    traffic = load_traffic(path)
    assert traffic["id"].tolist() == ["t-2", "t-3", "t-1"] and traffic["input_text"].tolist() == ["q1", "q2", "q3"]
    assert str(traffic["ts"].dt.tz) == "UTC" and traffic["ts"].iloc[0].hour == 10
    assert window(traffic, "2026-10-02", "2026-10-03")["input_text"].tolist() == ["q2"]
    assert window(traffic, "2026-10-02T10:00:00Z")["input_text"].tolist() == ["q2", "q3"]
    with pytest.raises(WorkbenchError, match="at least 5 requests per window"):
        drift_report(traffic.head(2), traffic.tail(1))


def test_languages_offline():
    assert languages(
        [
            "How do I export my notes to PDF?",
            "Wie exportiere ich meine Notizen als PDF?",
            "Comment exporter mes notes en PDF ?",
            "¿Cómo exporto mis notas a PDF?",
        ]
    ) == ["en", "de", "fr", "es"]


def test_demo_traffic_is_reproducible_and_large_enough():
    spec = importlib.util.spec_from_file_location("make_traffic", TRAFFIC.with_name("make_traffic.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    rows = module.build()
    assert TRAFFIC.read_text(encoding="utf-8") == "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    traffic = load_traffic(TRAFFIC)
    assert len(traffic) >= 200 and traffic["ts"].dt.normalize().nunique() == 10


@pytest.fixture(scope="module")
def demo():
    traffic = load_traffic(TRAFFIC)
    return traffic, window(traffic, None, "2026-10-06"), window(traffic, "2026-10-06")


@pytest.mark.slow
def test_drift_between_the_demo_windows(demo):
    traffic, before, after = demo
    report = drift_report(before, after, permutations=500)
    table = report.table.set_index(["side", "feature", "test"])
    for key in [
        ("input", "embedding", "mmd"),
        ("input", "embedding", "classifier_auc"),
        ("input", "language", "chi2"),
        ("input", "topic", "chi2"),
        ("output", "embedding", "centroid_distance"),
        ("output", "length_words", "ks"),
        ("output", "output_tokens", "ks"),
    ]:
        assert table.loc[key, "drifted"], key
    assert table.loc[("input", "length_words", "ks"), "drifted"] == False  # noqa: E712 - questions did not get longer
    assert (
        table.loc[("output", "length_words", "ks"), "current"]
        > 2 * table.loc[("output", "length_words", "ks"), "reference"]
    )
    german = report.shares.set_index(["side", "feature", "category"]).loc[("input", "language", "de")]
    assert german["reference"] < 0.1 and german["current"] > 0.25
    assert "DRIFT: input.embedding" in report.report()


@pytest.mark.slow
def test_no_drift_between_two_halves_of_the_stable_window(demo):
    _, before, _ = demo
    middle = before["ts"].iloc[len(before) // 2]
    report = drift_report(window(before, None, middle), window(before, middle), permutations=500)
    assert not report.table["drifted"].any(), report.report()
    assert report.report().endswith("NO DRIFT")


@pytest.mark.slow
def test_named_topics_show_the_new_feature(demo):
    _, before, after = demo
    topics = {
        "billing": "price, plan cost, refund, cancel subscription, payment, trial, student discount",
        "account": "password reset, two-factor authentication, delete account, login, SSO",
        "lumen-ai": "Lumen AI assistant, AI summaries, AI credits, AI privacy",
    }
    report = drift_report(before, after, permutations=200, named_topics=topics)
    ai = report.shares.set_index(["side", "feature", "category"]).loc[("input", "topic", "lumen-ai")]
    assert ai["current"] - ai["reference"] > 0.2
    assert plot_shares(report, "topic", "input").axes


@pytest.mark.slow
def test_drift_and_quality_over_time_and_plots(demo):
    traffic, before, after = demo
    timeline = drift_over_time(traffic, before)
    distance = timeline[(timeline["metric"] == "centroid_distance") & (timeline["side"] == "input")].set_index(
        "period"
    )["value"]
    assert distance[distance.index < "2026-10-06"].max() < distance[distance.index >= "2026-10-06"].min()
    scores = score_traffic(
        traffic,
        [
            {"name": "length_bounds", "args": {"max_words": 40}},
            {"name": "pii_free", "args": {"allow": ["support@lumen.app"]}},
        ],
    )
    assert len(scores) == 2 * len(traffic) and scores["error"].isna().all()
    quality = quality_over_time(traffic, scores)
    short = quality[quality["metric"] == "length_bounds"].set_index("period")["value"]
    assert short[short.index < "2026-10-06"].min() == 1.0 and short[short.index >= "2026-10-06"].max() < 0.8
    # users paste their own e-mail and phone into questions, but answers never echo them (the support address is allowed)
    assert (quality[quality["metric"] == "pii_free"]["value"] == 1.0).all()
    for figure in (
        plot_quality(quality, mark="2026-10-06"),
        plot_drift_over_time(timeline, mark="2026-10-06"),
        plot_lengths(before, after),
    ):
        assert figure.axes and figure.axes[0].has_data()


def test_a_non_utf8_traffic_line_is_named_not_a_traceback(tmp_path):
    path = tmp_path / "t.jsonl"
    path.write_bytes(b'{"ts": "2026-10-01", "prompt_ref": "p@1.0.0", "inputs": {"q": "Stra\xdfe"}, "output": "a"}\n')
    with pytest.raises(WorkbenchError, match=r"t\.jsonl:1: encoding: byte 0xdf"):
        load_traffic(path)
