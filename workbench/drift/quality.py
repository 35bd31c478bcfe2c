"""Quality of logged traffic over time: feedback, latency, length, and any scorer run on the logged outputs."""

from __future__ import annotations

import asyncio
from typing import Any

import pandas as pd

from ..aio import run_sync
from ..datasets import Case
from ..runner import score_sample
from ..scorers import Sample, Scorer, from_spec

SCORE_COLUMNS = ["id", "ts", "scorer", "value", "passed", "label", "reason", "error"]


def score_traffic(
    traffic: pd.DataFrame, scorers: list[Any], output_schema: dict[str, Any] | None = None, concurrency: int = 8
) -> pd.DataFrame:
    """Score every logged output (no expected answers: reference-free scorers such as guardrails,
    length, JSON). One row per request x scorer; a scorer that raises marks its row's error."""

    built = [s if isinstance(s, Scorer) else from_spec(s) for s in scorers]
    samples = [
        (row.id, row.ts, Sample(row.output, Case(id=row.id, inputs=row.inputs), [], output_schema))
        for row in traffic.itertuples()
    ]

    async def run() -> list[dict[str, Any]]:
        bound = asyncio.Semaphore(concurrency)

        async def one(scorer: Scorer, sample: Sample) -> dict[str, Any]:
            async with bound:
                return await score_sample(scorer, sample)

        results = await asyncio.gather(*(one(scorer, sample) for _, _, sample in samples for scorer in built))
        keys = [(rid, ts) for rid, ts, _ in samples for _ in built]
        return [{"id": rid, "ts": ts, "error": None, **result} for (rid, ts), result in zip(keys, results)]

    frame = pd.DataFrame(run_sync(run()) if samples and built else [], columns=SCORE_COLUMNS)
    return frame[SCORE_COLUMNS].astype({"value": "float64", "passed": "boolean"})


def quality_over_time(traffic: pd.DataFrame, scores: pd.DataFrame | None = None, freq: str = "D") -> pd.DataFrame:
    """Per period: requests, feedback mean, latency p50/p95, mean output tokens, and each scorer's mean
    value (its pass rate for pass/fail scorers). Tidy: period, metric, value, n."""
    periods = traffic["ts"].dt.tz_convert("UTC").dt.tz_localize(None).dt.to_period(freq).dt.start_time
    grouped = traffic.assign(period=periods).groupby("period")
    rows = []
    for period, group in grouped:
        feedback = group["feedback"].dropna()
        latency = group["latency_s"].dropna()
        rows += [
            (period, "requests", float(len(group)), len(group)),
            (period, "feedback", feedback.mean() if len(feedback) else float("nan"), len(feedback)),
            (period, "latency_p50_s", latency.quantile(0.5) if len(latency) else float("nan"), len(latency)),
            (period, "latency_p95_s", latency.quantile(0.95) if len(latency) else float("nan"), len(latency)),
            (
                period,
                "output_tokens",
                group["output_tokens"].astype(float).mean(),
                int(group["output_tokens"].notna().sum()),
            ),
        ]
    if scores is not None and len(scores):
        scored = scores[scores["error"].isna() & scores["value"].notna()]
        scored = scored.assign(
            period=scored["ts"].dt.tz_convert("UTC").dt.tz_localize(None).dt.to_period(freq).dt.start_time
        )
        for (period, name), group in scored.groupby(["period", "scorer"]):
            rows.append((period, name, float(group["value"].mean()), len(group)))
    return pd.DataFrame(rows, columns=["period", "metric", "value", "n"]).sort_values(
        ["metric", "period"], ignore_index=True
    )
