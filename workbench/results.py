"""The tidy results frame (one row per case x scorer), its summaries, and Parquet save/load."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

COLUMNS = ["case_id", "repeat", "scorer", "value", "passed", "label", "reason", "output", "error", "latency_s",
           "input_tokens", "output_tokens", "cost", "cached", "model", "tags", "chunks", "inputs", "guardrails", "blocked"]
#: How a scorer's own error starts in the `error` column; it marks that row only, never the call.
SCORER_ERROR = "scorer "


@dataclass
class RunResult:
    """One configuration version run over one dataset version."""

    prompt_ref: str
    prompt_hash: str
    dataset_ref: str
    dataset_hash: str
    frame: pd.DataFrame = field(repr=False)
    scorers: list[dict[str, Any]] = field(default_factory=list)
    model_calls: int = 0
    duration_s: float = 0.0
    repeats: int = 1
    seed_offset: int = 0
    stopped: str | None = None  # why a budget stopped the run early
    params: dict[str, Any] = field(default_factory=dict)  # facts of the run's setup (the RAG index) logged as params
    run_id: str | None = None
    calls: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict, repr=False)  # for traces; not saved

    def cases(self) -> pd.DataFrame:
        """One row per case (and repeat): output, error, latency, tokens, cost, retrieved chunks."""
        keep = ["case_id", "repeat", "inputs", "output", "error", "latency_s", "input_tokens", "output_tokens", "cost",
                "cached", "model", "tags", "chunks", "guardrails", "blocked"]
        frame = self.frame.assign(error=self.frame["error"].mask(self.frame["error"].str.startswith(SCORER_ERROR, na=False)))
        return frame.drop_duplicates(["case_id", "repeat"])[keep].reset_index(drop=True)

    def case_scores(self) -> pd.DataFrame:
        """Case x scorer: each case's value averaged over repeats (NaN where unscored or errored)."""
        rows = self.frame[self.frame["scorer"].notna() & self.frame["error"].isna()]
        table = rows.pivot_table(index="case_id", columns="scorer", values="value", aggfunc="mean", dropna=False)
        return table.reindex(columns=[s for s in self.scorer_names if s in table.columns])

    @property
    def scorer_names(self) -> list[str]:
        return [s["name"] for s in self.scorers] or list(dict.fromkeys(self.frame["scorer"].dropna()))

    def summary(self) -> pd.DataFrame:
        """Per scorer: cases scored, mean, std, 95% confidence interval over cases, pass rate, errors."""
        from scipy import stats

        means = self.case_scores()

        def one(name: str) -> pd.Series:
            rows = self.frame[self.frame["scorer"] == name]
            values = means[name].dropna() if name in means else pd.Series(dtype=float)
            judged = rows["passed"].dropna()
            n, mean, std = len(values), values.mean(), values.std(ddof=1) if len(values) > 1 else np.nan
            if n and values.isin([0.0, 1.0]).all():  # pass/fail per case: Wilson's interval stays in [0, 1]
                low, high = stats.binomtest(int(values.sum()), n).proportion_ci(method="wilson")
            else:
                half = stats.t.ppf(0.975, n - 1) * std / np.sqrt(n) if n > 1 else np.nan
                low, high = mean - half, mean + half
            return pd.Series({"n": n, "mean": mean, "std": std, "ci_low": low, "ci_high": high,
                              "pass_rate": judged.astype(float).mean() if len(judged) else np.nan,
                              "errors": int(rows["error"].notna().sum())}, name=name)

        table = pd.DataFrame([one(name) for name in self.scorer_names])
        table.index.name = "scorer"
        return table.astype({"n": int, "errors": int})

    def totals(self) -> dict[str, float]:
        """Run-level figures: errors, latency percentiles, tokens, cost, cache use."""
        cases = self.cases()
        latency = cases.loc[cases["error"].isna(), "latency_s"]

        def pct(q: float) -> float:
            return float(latency.quantile(q)) if len(latency) else np.nan

        cost = float(cases["cost"].sum()) if cases["cost"].notna().any() else np.nan
        return {
            "cases": int(cases["case_id"].nunique()),
            "calls": len(cases),
            "errors": int(cases["error"].notna().sum()),
            "error_rate": float(cases["error"].notna().mean()) if len(cases) else 0.0,
            "latency_p50_s": pct(0.50), "latency_p95_s": pct(0.95), "latency_p99_s": pct(0.99),
            "input_tokens": int(cases["input_tokens"].fillna(0).sum()),
            "output_tokens": int(cases["output_tokens"].fillna(0).sum()),
            "cost_usd": cost,
            "cost_per_call_usd": cost / len(cases) if len(cases) else np.nan,
            "guardrail_rate": float(cases["guardrails"].notna().mean()) if len(cases) else 0.0,
            "blocked_rate": float(cases["blocked"].astype(bool).mean()) if len(cases) else 0.0,
            "cached": int(cases["cached"].sum()),
            "model_calls": self.model_calls,
            "duration_s": self.duration_s,
        }

    def metrics(self) -> dict[str, float]:
        """Flat numbers for MLflow: `<scorer>.mean`, `<scorer>.pass_rate`, and the totals."""
        out = {k: float(v) for k, v in self.totals().items()}
        for name, row in self.summary().iterrows():
            for column in ("mean", "ci_low", "ci_high", "pass_rate"):
                if pd.notna(row[column]):
                    out[f"{name}.{column}"] = float(row[column])
        return out

    def report(self) -> str:
        """The printed summary of a run."""
        t = self.totals()
        cost = "unknown" if np.isnan(t["cost_usd"]) else f"${t['cost_usd']:.4f}"
        head = (f"{self.prompt_ref} on {self.dataset_ref} ({self.dataset_hash[:12]})"
                + (f"  run {self.run_id}" if self.run_id else ""))
        lines = [head, self.summary().to_string(float_format=lambda x: f"{x:.3f}"),
                 f"cases {t['cases']}  errors {t['errors']}  latency p50 {_seconds(t['latency_p50_s'])} "
                 f"p95 {_seconds(t['latency_p95_s'])}  "
                 f"tokens in {t['input_tokens']} out {t['output_tokens']}  cost {cost}  "
                 f"cached {t['cached']}  model calls {t['model_calls']}  {t['duration_s']:.1f}s"]
        if self.stopped:
            lines.append(f"STOPPED EARLY: {self.stopped}")
        return "\n".join(lines)

    def save(self, path: str | Path) -> Path:
        """Parquet, with the run's identity in the file's metadata, so comparisons work offline."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        table = pa.Table.from_pandas(self.frame, preserve_index=False)
        meta = {k: v for k, v in self.__dict__.items() if k not in ("frame", "calls")}
        table = table.replace_schema_metadata({**(table.schema.metadata or {}), b"workbench": json.dumps(meta).encode()})
        tmp = path.with_suffix(path.suffix + ".tmp")
        pq.write_table(table, tmp)
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, path: str | Path) -> RunResult:
        import pyarrow.parquet as pq

        try:
            table = pq.read_table(path)
            meta = json.loads(table.schema.metadata[b"workbench"])
        except (OSError, KeyError, TypeError, ValueError) as exc:
            from .errors import WorkbenchError

            raise WorkbenchError(f"{path}: not a saved workbench run ({exc}); write one with `workbench run --save`") from None
        frame = table.to_pandas()
        for column in COLUMNS:  # runs saved by older versions lack newer columns
            if column not in frame:
                frame[column] = False if column == "blocked" else None
        known = {f for f in cls.__dataclass_fields__}
        return cls(frame=frame[COLUMNS], **{k: v for k, v in meta.items() if k in known})


def _seconds(value: float) -> str:
    return "n/a" if np.isnan(value) else f"{value:.2f}s"
