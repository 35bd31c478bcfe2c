"""The tidy results frame (one row per case x scorer), its summaries, and Parquet save/load."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

COLUMNS = ["case_id", "scorer", "value", "passed", "label", "reason", "output", "error", "latency_s",
           "input_tokens", "output_tokens", "cost", "cached", "model", "tags", "chunks"]


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
    run_id: str | None = None

    def cases(self) -> pd.DataFrame:
        """One row per case: output, error, latency, tokens, cost."""
        keep = ["case_id", "output", "error", "latency_s", "input_tokens", "output_tokens", "cost", "cached", "model",
                "tags", "chunks"]
        return self.frame.drop_duplicates("case_id")[keep].reset_index(drop=True)

    def summary(self) -> pd.DataFrame:
        """Per scorer: cases scored, mean, pass rate, errors."""
        def one(rows: pd.DataFrame) -> pd.Series:
            scored = rows[rows["error"].isna() & rows["value"].notna()]
            judged = rows["passed"].dropna()
            return pd.Series({
                "n": len(scored),
                "mean": scored["value"].mean() if len(scored) else np.nan,
                "pass_rate": judged.astype(float).mean() if len(judged) else np.nan,
                "errors": int(rows["error"].notna().sum()),
            })

        scorers = [s["name"] for s in self.scorers] or list(dict.fromkeys(self.frame["scorer"]))
        frame = self.frame[self.frame["scorer"].notna()]
        table = pd.DataFrame([one(frame[frame["scorer"] == name]).rename(name) for name in scorers])
        table.index.name = "scorer"
        return table.astype({"n": int, "errors": int})

    def totals(self) -> dict[str, float]:
        """Run-level figures: errors, latency percentiles, tokens, cost, cache use."""
        cases = self.cases()
        latency = cases.loc[cases["error"].isna(), "latency_s"]
        return {
            "cases": len(cases),
            "errors": int(cases["error"].notna().sum()),
            "error_rate": float(cases["error"].notna().mean()) if len(cases) else 0.0,
            "latency_p50_s": float(latency.quantile(0.50)) if len(latency) else np.nan,
            "latency_p95_s": float(latency.quantile(0.95)) if len(latency) else np.nan,
            "input_tokens": int(cases["input_tokens"].fillna(0).sum()),
            "output_tokens": int(cases["output_tokens"].fillna(0).sum()),
            "cost_usd": float(cases["cost"].sum(min_count=1)) if cases["cost"].notna().any() else np.nan,
            "cached": int(cases["cached"].sum()),
            "model_calls": self.model_calls,
            "duration_s": self.duration_s,
        }

    def metrics(self) -> dict[str, float]:
        """Flat numbers for MLflow: `<scorer>.mean`, `<scorer>.pass_rate`, and the totals."""
        out = {k: float(v) for k, v in self.totals().items()}
        for name, row in self.summary().iterrows():
            for column in ("mean", "pass_rate"):
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
                 f"cases {t['cases']}  errors {t['errors']}  latency p50 {t['latency_p50_s']:.2f}s p95 {t['latency_p95_s']:.2f}s  "
                 f"tokens in {t['input_tokens']} out {t['output_tokens']}  cost {cost}  "
                 f"cached {t['cached']}  model calls {t['model_calls']}  {t['duration_s']:.1f}s"]
        return "\n".join(lines)

    def save(self, path: str | Path) -> Path:
        """Parquet, with the run's identity in the file's metadata, so comparisons work offline."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        table = pa.Table.from_pandas(self.frame, preserve_index=False)
        meta = {k: v for k, v in self.__dict__.items() if k != "frame"}
        table = table.replace_schema_metadata({**(table.schema.metadata or {}), b"workbench": json.dumps(meta).encode()})
        tmp = path.with_suffix(path.suffix + ".tmp")
        pq.write_table(table, tmp)
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, path: str | Path) -> RunResult:
        import pyarrow.parquet as pq

        table = pq.read_table(path)
        meta = json.loads(table.schema.metadata[b"workbench"])
        return cls(frame=table.to_pandas(), **meta)
