"""The drift report between two windows of traffic, and drift against a reference over time."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import WorkbenchError
from .features import embed, languages, topics
from .stats import categorical_test, classifier_test, embedding_tests, holm, numeric_test

SIDES = {"input": "input_text", "output": "output"}
COLUMNS = ["side", "feature", "test", "statistic", "p_value", "p_adjusted", "drifted", "reference", "current", "detail"]


@dataclass
class DriftReport:
    """`table`: one row per side x feature x test; `shares`: language and topic shares per window."""

    reference: tuple[str, str, int]  # first and last timestamp, requests
    current: tuple[str, str, int]
    table: pd.DataFrame
    shares: pd.DataFrame
    alpha: float = 0.05

    def drifted(self) -> pd.DataFrame:
        return self.table[self.table["drifted"]]

    def metrics(self) -> dict[str, float]:
        """Flat numbers for MLflow: `drift.<side>.<feature>.<test>` and its p-value."""
        out = {}
        for row in self.table.itertuples():
            key = f"drift.{row.side}.{row.feature}.{row.test}"
            out[key] = float(row.statistic)
            if pd.notna(row.p_adjusted):
                out[f"{key}.p_adjusted"] = float(row.p_adjusted)
        return out

    def report(self) -> str:
        head = (
            f"reference {self.reference[0]} .. {self.reference[1]} ({self.reference[2]} requests)  "
            f"current {self.current[0]} .. {self.current[1]} ({self.current[2]} requests)  alpha {self.alpha} (Holm)"
        )
        shown = self.table[["side", "feature", "test", "statistic", "p_adjusted", "drifted", "detail"]]
        verdict = ", ".join(f"{s}.{f}" for s, f in self.drifted()[["side", "feature"]].drop_duplicates().values)
        return "\n".join(
            [
                head,
                shown.to_string(index=False, float_format=lambda x: f"{x:.4f}"),
                f"DRIFT: {verdict}" if verdict else "NO DRIFT",
            ]
        )


def drift_report(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    alpha: float = 0.05,
    permutations: int = 1000,
    seed: int = 0,
    named_topics: dict[str, str] | None = None,
    k: int = 8,
) -> DriftReport:
    """Compare two windows of traffic (frames from `load_traffic` / `window`) on every feature."""
    if len(reference) < 5 or len(current) < 5:
        raise WorkbenchError(
            f"drift needs at least 5 requests per window (reference {len(reference)}, "
            f"current {len(current)}); widen the windows"
        )
    rows: list[dict] = []
    shares: list[pd.DataFrame] = []
    for side, column in SIDES.items():
        ref_text, cur_text = reference[column].tolist(), current[column].tolist()
        vectors = embed(ref_text + cur_text)
        ref_vec, cur_vec = vectors[: len(ref_text)], vectors[len(ref_text) :]
        for test, (statistic, p) in embedding_tests(ref_vec, cur_vec, permutations, seed).items():
            rows.append(_row(side, "embedding", test, statistic, p))
        auc, p = classifier_test(ref_vec, cur_vec, seed)
        rows.append(_row(side, "embedding", "classifier_auc", auc, p))
        ref_words, cur_words = (
            pd.Series([len(t.split()) for t in ref_text]),
            pd.Series([len(t.split()) for t in cur_text]),
        )
        rows.append(
            _row(
                side,
                "length_words",
                "ks",
                *numeric_test(ref_words, cur_words),
                ref_words.mean(),
                cur_words.mean(),
                f"mean {ref_words.mean():.1f} -> {cur_words.mean():.1f} words",
            )
        )
        langs = pd.Series(languages(ref_text + cur_text))
        rows.append(
            _categorical(
                side, "language", langs[: len(ref_text)], langs[len(ref_text) :].reset_index(drop=True), shares, {}
            )
        )
        labels, described = topics(ref_text + cur_text, vectors, named_topics, k, seed)
        labels = pd.Series(labels)
        rows.append(
            _categorical(
                side,
                "topic",
                labels[: len(ref_text)],
                labels[len(ref_text) :].reset_index(drop=True),
                shares,
                described,
            )
        )
    for column in ("latency_s", "output_tokens"):
        ref, cur = reference[column].astype(float), current[column].astype(float)
        rows.append(
            _row(
                "output",
                column,
                "ks",
                *numeric_test(ref, cur),
                ref.mean(),
                cur.mean(),
                f"mean {ref.mean():.3g} -> {cur.mean():.3g}",
            )
        )
    if reference["feedback"].notna().any() and current["feedback"].notna().any():
        ref, cur = reference["feedback"].dropna(), current["feedback"].dropna()
        statistic, p = (
            categorical_test(ref.round(), cur.round())[:2]
            if set(ref) | set(cur) <= {0.0, 1.0}
            else numeric_test(ref, cur)
        )
        rows.append(
            _row(
                "quality",
                "feedback",
                "chi2" if set(ref) | set(cur) <= {0.0, 1.0} else "ks",
                statistic,
                p,
                ref.mean(),
                cur.mean(),
                f"mean {ref.mean():.2f} -> {cur.mean():.2f} (n {len(ref)}, {len(cur)})",
            )
        )
    table = pd.DataFrame(rows, columns=COLUMNS)
    table["p_adjusted"] = holm(table["p_value"])
    table["drifted"] = table["p_adjusted"] < alpha
    return DriftReport(_span(reference), _span(current), table, pd.concat(shares, ignore_index=True), alpha)


def drift_over_time(traffic: pd.DataFrame, reference: pd.DataFrame, freq: str = "D") -> pd.DataFrame:
    """Per period and side: requests, cosine distance of the period's centroid to the reference's,
    mean words, and the share of each language. Tidy: period, side, metric, value."""
    rows = []
    periods = traffic["ts"].dt.tz_convert("UTC").dt.tz_localize(None).dt.to_period(freq)
    for side, column in SIDES.items():
        centre = embed(reference[column].tolist()).mean(axis=0)
        vectors = embed(traffic[column].tolist())
        langs = pd.Series(languages(traffic[column].tolist()), index=traffic.index)
        for period, index in traffic.groupby(periods).groups.items():
            mean = vectors[traffic.index.get_indexer(index)].mean(axis=0)
            distance = 1 - float(mean @ centre / (np.linalg.norm(mean) * np.linalg.norm(centre)))
            words = traffic.loc[index, column].str.split().str.len().mean()
            rows += [
                (period.start_time, side, "requests", float(len(index))),
                (period.start_time, side, "centroid_distance", distance),
                (period.start_time, side, "mean_words", float(words)),
            ]
            rows += [
                (period.start_time, side, f"language:{lang}", float(share))
                for lang, share in langs[index].value_counts(normalize=True).items()
            ]
    return pd.DataFrame(rows, columns=["period", "side", "metric", "value"])


def _row(
    side: str,
    feature: str,
    test: str,
    statistic: float,
    p: float,
    reference: float = np.nan,
    current: float = np.nan,
    detail: str = "",
) -> dict:
    return {
        "side": side,
        "feature": feature,
        "test": test,
        "statistic": statistic,
        "p_value": p,
        "p_adjusted": np.nan,
        "drifted": False,
        "reference": reference,
        "current": current,
        "detail": detail,
    }


def _categorical(
    side: str,
    feature: str,
    reference: pd.Series,
    current: pd.Series,
    shares: list[pd.DataFrame],
    described: dict[str, str],
) -> dict:
    tvd, p, table = categorical_test(reference, current)
    table = table.rename_axis("category").reset_index()
    table.insert(0, "feature", feature)
    table.insert(0, "side", side)
    table["diff"] = table["current"] - table["reference"]
    table["description"] = [described.get(c, "") for c in table["category"]]
    shares.append(table.sort_values("diff", ascending=False))
    moved = table.reindex(table["diff"].abs().sort_values(ascending=False).index).head(3)
    detail = ", ".join(
        f"{c}{' (' + d + ')' if d else ''} {r:.2f}->{n:.2f}"
        for c, d, r, n in moved[["category", "description", "reference", "current"]].values
    )
    return _row(side, feature, "chi2", tvd, p, detail=f"tvd; {detail}")


def _span(frame: pd.DataFrame) -> tuple[str, str, int]:
    return (frame["ts"].min().isoformat(), frame["ts"].max().isoformat(), len(frame))
