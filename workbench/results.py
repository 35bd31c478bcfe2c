"""The run record (one row per call, its scores nested), the tidy view of it, summaries, Parquet save/load.

The record is the one saved form of a run: Parquet files, MLflow tables, traces, widgets and statistics all
read it (statistics and plots through the tidy view, `RunResult.frame`). Its columns and dtypes are declared
once, in `RECORD`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .errors import WorkbenchError

#: The run record: one row per call (a case, or a case's repeat); nested values are native structures.
RECORD: dict[str, str] = {
    "case_id": "object",
    "repeat": "int64",
    "inputs": "object",
    "output": "object",
    "error": "object",
    "latency_s": "float64",
    "input_tokens": "Int64",
    "output_tokens": "Int64",
    "cost": "float64",
    "cached": "bool",
    "model": "object",
    "tags": "object",
    "chunks": "object",
    "guardrails": "object",
    "blocked": "bool",
    "scores": "object",
}
#: One score in a record row's `scores` list.
SCORE_FIELDS = ("scorer", "value", "passed", "label", "reason", "error")
#: The tidy view, `RunResult.frame`: one row per call x scorer, what statistics, plots and widgets read.
COLUMNS = [
    "case_id",
    "repeat",
    "scorer",
    "value",
    "passed",
    "label",
    "reason",
    "output",
    "error",
    "latency_s",
    "input_tokens",
    "output_tokens",
    "cost",
    "cached",
    "model",
    "tags",
    "chunks",
    "inputs",
    "guardrails",
    "blocked",
]
_NESTED = ("inputs", "chunks", "scores")
_DEFAULTS = {
    "repeat": 0,
    "blocked": False,
    "cached": False,
    "scores": None,
    "inputs": None,
    "chunks": None,
    "guardrails": None,
}


def record_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """The run record from one dict per call (the keys of `RECORD`), with the declared dtypes."""
    frame = pd.DataFrame(rows, columns=list(RECORD))
    for column, default in _DEFAULTS.items():
        if default is not None:
            frame[column] = [default if _missing(v) else v for v in frame[column]]
    frame["scores"] = frame["scores"].map(lambda v: list(v) if v is not None and not _missing(v) else [])
    return frame.astype(RECORD)


#: How a scorer's own error starts in the `error` column; it marks that row only, never the call.
SCORER_ERROR = "scorer "


@dataclass
class RunResult:
    """One configuration version run over one dataset version: its identity and its record.

    `record` has one row per call (see `RECORD`); a tidy frame (one row per call x scorer, the form older
    versions saved) is accepted in its place and folded into the record.
    """

    prompt_ref: str
    prompt_hash: str
    dataset_ref: str
    dataset_hash: str
    record: pd.DataFrame = field(repr=False)
    scorers: list[dict[str, Any]] = field(default_factory=list)
    model_calls: int = 0
    duration_s: float = 0.0
    repeats: int = 1
    seed_offset: int = 0
    stopped: str | None = None  # why a budget stopped the run early
    params: dict[str, Any] = field(default_factory=dict)  # facts of the run's setup (the RAG index) logged as params
    run_id: str | None = None
    started_at: float | None = None  # epoch seconds the evaluation started and ended (the MLflow run's span)
    ended_at: float | None = None
    calls: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict, repr=False)  # for traces; not saved

    def __post_init__(self) -> None:
        if "scorer" in self.record.columns:
            self.record = fold(self.record)
        self._frame: pd.DataFrame | None = None

    @property
    def frame(self) -> pd.DataFrame:
        """The tidy view: one row per call x scorer (an errored call without scores: one row, scorer None)."""
        if self._frame is None:
            self._frame = unfold(self.record)
        return self._frame

    def cases(self) -> pd.DataFrame:
        """One row per case (and repeat): inputs, output, error, latency, tokens, cost, retrieved chunks."""
        return self.record.drop(columns=["scores"]).reset_index(drop=True)

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
            return pd.Series(
                {
                    "n": n,
                    "mean": mean,
                    "std": std,
                    "ci_low": low,
                    "ci_high": high,
                    "pass_rate": judged.astype(float).mean() if len(judged) else np.nan,
                    "errors": int(rows["error"].notna().sum()),
                },
                name=name,
            )

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
            "latency_p50_s": pct(0.50),
            "latency_p95_s": pct(0.95),
            "latency_p99_s": pct(0.99),
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
        head = f"{self.prompt_ref} on {self.dataset_ref} ({self.dataset_hash[:12]})" + (
            f"  run {self.run_id}" if self.run_id else ""
        )
        lines = [
            head,
            self.summary().to_string(float_format=lambda x: f"{x:.3f}"),
            f"cases {t['cases']}  errors {t['errors']}  latency p50 {_seconds(t['latency_p50_s'])} "
            f"p95 {_seconds(t['latency_p95_s'])}  "
            f"tokens in {t['input_tokens']} out {t['output_tokens']}  cost {cost}  "
            f"cached {t['cached']}  model calls {t['model_calls']}  {t['duration_s']:.1f}s",
        ]
        if self.stopped:
            lines.append(f"STOPPED EARLY: {self.stopped}")
        return "\n".join(lines)

    def save(self, path: str | Path) -> Path:
        """Parquet (the record, nested values as Parquet structures), with the run's identity in the file's
        metadata, so comparisons work offline. Written to a temporary file and renamed: never half-written."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        record = self.record.assign(
            inputs=self.record["inputs"].map(lambda v: v or None)
        )  # Parquet has no empty struct
        table = pa.Table.from_pandas(record, preserve_index=False)
        meta = {k: v for k, v in self.__dict__.items() if k not in ("record", "calls", "_frame")}
        table = table.replace_schema_metadata(
            {**(table.schema.metadata or {}), b"workbench": json.dumps(meta).encode()}
        )
        tmp = path.with_suffix(path.suffix + ".tmp")
        pq.write_table(table, tmp)
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, path: str | Path) -> RunResult:
        """A run saved by `save` (older, tidy files included)."""
        import pyarrow.parquet as pq

        try:
            table = pq.read_table(path)
            meta = json.loads(table.schema.metadata[b"workbench"])
        except (OSError, KeyError, TypeError, ValueError) as exc:
            raise WorkbenchError(
                f"{path}: not a saved workbench run ({exc}); write one with `workbench run --save`"
            ) from None
        frame = table.to_pandas()
        for column in _NESTED:
            if column in frame:
                frame[column] = frame[column].map(_native)
        if "inputs" in frame and "scorer" not in frame:
            frame["inputs"] = frame["inputs"].map(lambda v: v if v is not None else {})
        known = {f for f in cls.__dataclass_fields__}
        return cls(record=frame, **{k: v for k, v in meta.items() if k in known})


def fold(frame: pd.DataFrame) -> pd.DataFrame:
    """A tidy frame (one row per call x scorer) as the record (one row per call, its scores in a list).
    A row's error is its scorer's when it reads `scorer <name>: ...`, the call's otherwise."""
    frame = frame.copy()
    for column in COLUMNS:  # frames of older versions lack newer columns
        if column not in frame:
            frame[column] = _DEFAULTS.get(column)
    frame["repeat"] = frame["repeat"].fillna(0)
    rows = []
    for _, group in frame.groupby(["case_id", "repeat"], sort=False):
        first = group.iloc[0]
        scores, call_error = [], None
        for row in group.itertuples(index=False):
            error = row.error if isinstance(row.error, str) else None
            own = (
                error
                if error and isinstance(row.scorer, str) and error.startswith(f"{SCORER_ERROR}{row.scorer}:")
                else None
            )
            call_error = call_error or (None if own else error)
            if isinstance(row.scorer, str):
                scores.append(
                    {
                        "scorer": row.scorer,
                        "value": _none(row.value),
                        "passed": _none(row.passed),
                        "label": _none(row.label),
                        "reason": _none(row.reason),
                        "error": own,
                    }
                )
        call = {k: _none(first[k]) for k in RECORD if k not in ("scores", "error", "inputs", "chunks")}
        rows.append(
            {
                **call,
                "inputs": _native(first["inputs"]) or {},
                "chunks": _native(first["chunks"]),
                "error": call_error,
                "scores": scores,
            }
        )
    return record_frame(rows)


def unfold(record: pd.DataFrame) -> pd.DataFrame:
    """The record as the tidy view: one row per call x scorer, with the tidy frame's dtypes."""
    rows = []
    for call in record.to_dict("records"):
        scores = call.pop("scores")
        for score in scores:
            rows.append({**call, **score, "error": score["error"] or call["error"]})
        if not scores:
            rows.append({**call, "scorer": None, "value": None, "passed": None, "label": None, "reason": None})
    frame = pd.DataFrame(rows, columns=COLUMNS)
    return frame.astype(
        {
            "repeat": "int64",
            "value": "float64",
            "passed": "boolean",
            "input_tokens": "Int64",
            "output_tokens": "Int64",
            "cost": "float64",
            "cached": "bool",
            "blocked": "bool",
        }
    )


def _missing(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value))


def _none(value: Any) -> Any:
    """NaN and NA as None; numpy scalars as Python ones."""
    if _missing(value):
        return None
    return value.item() if isinstance(value, np.generic) else value


def _native(value: Any) -> Any:
    """A nested column's value as plain Python: JSON text (older files) parsed, Parquet's arrays as lists."""
    if isinstance(value, str):
        return json.loads(value)
    return _plain(value)


def _plain(value: Any) -> Any:
    if isinstance(value, (np.ndarray, list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return _none(value)


def _seconds(value: float) -> str:
    return "n/a" if np.isnan(value) else f"{value:.2f}s"


def merge_runs(runs: list[RunResult], dataset_hash: str | None = None) -> RunResult:
    """Runs of one configuration over disjoint cases (batches, shards) as one run; `dataset_hash`: the whole
    dataset's, when each part carries its subset's."""
    first = runs[0]
    return replace(
        first,
        dataset_hash=dataset_hash or first.dataset_hash,
        record=pd.concat([r.record for r in runs if len(r.record)] or [first.record], ignore_index=True),
        model_calls=sum(r.model_calls for r in runs),
        duration_s=sum(r.duration_s for r in runs),
        calls={k: v for r in runs for k, v in r.calls.items()},
    )
