"""`RunResult`: one configuration version run over one dataset version, its record (see `record`), the
summaries statistics read of it, and Parquet save/load.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .errors import WorkbenchError
from .record import SCORE_COLUMNS, Spool, fold, from_table, typed, unfold


class _Record:
    """`RunResult.record`: the frame given, or, for a run streamed to disk, its spool file read on first use."""

    def __get__(self, result: Any, owner: Any = None) -> Any:
        if result is None:
            return None  # the dataclass default
        record = result.__dict__.get("record")
        if record is None and result.__dict__.get("spool") is not None:
            record = result.__dict__["record"] = from_table(result.spool.read())
        return record

    def __set__(self, result: Any, value: pd.DataFrame | None) -> None:
        result.__dict__["record"] = None if isinstance(value, _Record) else value  # the default: none given
        result.__dict__["_frame"] = result.__dict__["_scores"] = None  # views of the record it replaces


@dataclass
class RunResult:
    """One configuration version run over one dataset version: its identity and its record.

    `record` has one row per call (see `record.RECORD`); a tidy frame (one row per call x scorer, the form older
    versions saved) is accepted in its place and folded into the record. A run streamed to disk has a `spool`
    file instead: its record is read on first use, while statistics (`summary`, `totals`, `metrics`,
    `case_scores`, `score_rows`) and `save` read only the columns they need.
    """

    prompt_ref: str
    prompt_hash: str
    dataset_ref: str
    dataset_hash: str
    record: pd.DataFrame = field(default=_Record(), repr=False)
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
    spool: Spool | None = field(default=None, repr=False, compare=False)  # the streamed record, when not in memory

    def __post_init__(self) -> None:
        given = self.__dict__.get("record")
        if given is None and self.spool is None:
            raise TypeError("RunResult needs a record (or the spool file of a streamed run)")
        if given is not None and "scorer" in given.columns:
            self.record = fold(given)
        self._frame: pd.DataFrame | None = None
        self._scores: pd.DataFrame | None = None

    @property
    def _streamed(self) -> bool:
        """The record is on disk only (statistics read the columns they need from the spool file)."""
        return self.__dict__.get("record") is None

    def columns(self, names: list[str]) -> pd.DataFrame:
        """Some columns of the record (with their declared dtypes), without reading the rest of a streamed run."""
        if not self._streamed:
            return self.record[names]
        assert self.spool is not None
        frame = self.spool.read(names).to_pandas()
        return typed(frame)

    def score_rows(self) -> pd.DataFrame:
        """`SCORE_COLUMNS` of the tidy view (one row per call x scorer), without the answers, inputs and chunks:
        what statistics need, read column by column for a streamed run. Built once (a record does not change);
        read it, do not change it."""
        if self._scores is None:
            self._scores = self._score_rows()
        return self._scores

    def _score_rows(self) -> pd.DataFrame:
        if not self._streamed:
            if self._frame is not None:
                return self._frame[SCORE_COLUMNS]
            record = self.record
            rows = [
                (case_id, repeat, s["scorer"], s["value"], s["passed"], s["label"], s["error"] or error)
                if scores
                else (case_id, repeat, None, None, None, None, error)
                for case_id, repeat, error, scores in zip(
                    record["case_id"], record["repeat"], record["error"], record["scores"]
                )
                for s in (scores or [None])
            ]
            frame = pd.DataFrame(rows, columns=SCORE_COLUMNS)
            return frame.astype({"repeat": "int64", "value": "float64", "passed": "boolean"})
        import pyarrow as pa  # pyarrow loads only where Parquet is read or written
        import pyarrow.compute as pc  # (same)

        assert self.spool is not None
        table = self.spool.read(["case_id", "repeat", "error", "scores"])
        scores = table.column("scores").combine_chunks()
        parents = pc.list_parent_indices(scores)
        flat = pc.list_flatten(scores)
        scored = {
            "case_id": table.column("case_id").take(parents),
            "repeat": table.column("repeat").take(parents),
            **{name: flat.field(name) for name in ("scorer", "value", "passed", "label")},
            "error": pc.coalesce(flat.field("error"), table.column("error").take(parents)),
        }
        bare = table.filter(pc.equal(pc.list_value_length(scores).fill_null(0), 0))  # no scores: one row, no scorer
        unscored = {
            "case_id": bare.column("case_id"),
            "repeat": bare.column("repeat"),
            **{name: pa.nulls(len(bare), type=scored[name].type) for name in ("scorer", "value", "passed", "label")},
            "error": bare.column("error"),
        }
        both = pa.concat_tables([pa.table(scored), pa.table(unscored)])
        return both.to_pandas().astype({"repeat": "int64", "value": "float64", "passed": "boolean"})

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
        frame = self.score_rows()
        rows = frame[frame["scorer"].notna() & frame["error"].isna()]
        table = rows.pivot_table(index="case_id", columns="scorer", values="value", aggfunc="mean", dropna=False)
        return table.reindex(columns=[s for s in self.scorer_names if s in table.columns])

    @property
    def scorer_names(self) -> list[str]:
        return [s["name"] for s in self.scorers] or list(dict.fromkeys(self.score_rows()["scorer"].dropna()))

    def summary(self) -> pd.DataFrame:
        """Per scorer: cases scored, mean, std, 95% confidence interval over cases, pass rate, errors; with
        repeats also `pass@k` and `pass^k` at k = repeats (`stats.repeats`: a case passes at least once / every
        time in k tries), means over cases."""
        from scipy import stats

        from .stats.repeats import pass_all_k, pass_at_k  # scipy, loaded when used

        means = self.case_scores()
        frame = self.score_rows()

        def one(name: str) -> pd.Series:
            rows = frame[frame["scorer"] == name]
            values = means[name].dropna() if name in means else pd.Series(dtype=float)
            judged = rows["passed"].dropna()
            n, mean, std = len(values), values.mean(), values.std(ddof=1) if len(values) > 1 else np.nan
            if n and values.isin([0.0, 1.0]).all():  # pass/fail per case: Wilson's interval stays in [0, 1]
                low, high = stats.binomtest(int(values.sum()), n).proportion_ci(method="wilson")
            else:
                half = stats.t.ppf(0.975, n - 1) * std / np.sqrt(n) if n > 1 else np.nan
                low, high = mean - half, mean + half
            row = {
                "n": n,
                "mean": mean,
                "std": std,
                "ci_low": low,
                "ci_high": high,
                "pass_rate": judged.astype(float).mean() if len(judged) else np.nan,
                "errors": int(rows["error"].notna().sum()),
            }
            if k > 1:
                tries = rows[rows["passed"].notna() & rows["error"].isna()].groupby("case_id")["passed"]
                counts, passes = tries.count().to_numpy(), tries.sum().to_numpy()
                row[f"pass@{k}"] = np.nanmean(pass_at_k(counts, passes, k)) if (counts >= k).any() else np.nan
                row[f"pass^{k}"] = np.nanmean(pass_all_k(counts, passes, k)) if (counts >= k).any() else np.nan
            return pd.Series(row, name=name)

        k = self.repeats

        table = pd.DataFrame([one(name) for name in self.scorer_names])
        table.index.name = "scorer"
        return table.astype({"n": int, "errors": int})

    def totals(self) -> dict[str, float]:
        """Run-level figures: errors, latency percentiles, tokens, cost, cache use."""
        needed = ["case_id", "error", "latency_s", "input_tokens", "output_tokens", "cost", "guardrails", "blocked"]
        cases = self.columns([*needed, "cached"])
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
        """Flat numbers for MLflow: `<scorer>.mean`, `<scorer>.pass_rate` (with repeats `<scorer>.pass_at_k` and
        `<scorer>.pass_all_k`), and the totals."""
        out = {k: float(v) for k, v in self.totals().items()}
        for name, row in self.summary().iterrows():
            for column in ("mean", "ci_low", "ci_high", "pass_rate"):
                if pd.notna(row[column]):
                    out[f"{name}.{column}"] = float(row[column])
            for column in (f"pass@{self.repeats}", f"pass^{self.repeats}"):  # MLflow: pass_at_3, pass_all_3
                if column in row and pd.notna(row[column]):
                    out[f"{name}.{column.replace('@', '_at_').replace('^', '_all_')}"] = float(row[column])
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
        meta = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("record", "calls", "spool")}
        tmp = path.with_suffix(path.suffix + ".tmp")
        if self._streamed:  # copied group by group: a streamed run is never in memory whole
            assert self.spool is not None
            source = pq.ParquetFile(self.spool.path)
            schema = source.schema_arrow.with_metadata({b"workbench": json.dumps(meta).encode()})
            with pq.ParquetWriter(tmp, schema) as writer:
                for group in range(source.num_row_groups):
                    writer.write_table(source.read_row_group(group).replace_schema_metadata(schema.metadata))
        else:
            record = self.record.assign(
                inputs=self.record["inputs"].map(lambda v: v or None)
            )  # Parquet has no empty struct
            table = pa.Table.from_pandas(record, preserve_index=False)
            table = table.replace_schema_metadata(
                {**(table.schema.metadata or {}), b"workbench": json.dumps(meta).encode()}
            )
            pq.write_table(table, tmp)
        tmp.replace(path)
        return path

    def row_count(self) -> int:
        """Rows of the record (calls made), without reading a streamed run."""
        if not self._streamed:
            return len(self.record)
        import pyarrow.parquet as pq  # pyarrow loads only where Parquet is read or written

        assert self.spool is not None
        return pq.ParquetFile(self.spool.path).metadata.num_rows

    def head(self, rows: int) -> pd.DataFrame:
        """The record's first `rows` rows (a streamed run reads only the row groups they are in)."""
        if not self._streamed:
            return self.record.head(rows)
        import pyarrow.parquet as pq  # pyarrow loads only where Parquet is read or written

        assert self.spool is not None
        source, tables, count = pq.ParquetFile(self.spool.path), [], 0
        for group in range(source.num_row_groups):
            if count >= rows:
                break
            tables.append(source.read_row_group(group))
            count += tables[-1].num_rows
        import pyarrow as pa  # (same)

        return from_table(pa.concat_tables(tables).slice(0, rows)) if tables else self.record.head(0)

    def calls_of(self, keys: list[tuple[str, int]]) -> pd.DataFrame:
        """The record rows of these calls (case id, repeat), indexed by them; a streamed run reads only those rows."""
        if not self._streamed:
            record = self.record
        else:
            import pyarrow.parquet as pq  # pyarrow loads only where Parquet is read or written

            assert self.spool is not None
            ids = sorted({case_id for case_id, _ in keys})
            record = from_table(pq.read_table(self.spool.path, filters=[("case_id", "in", ids)]))
        wanted = set(keys)
        mine = [key in wanted for key in zip(record["case_id"], record["repeat"])]
        return record[mine].set_index(["case_id", "repeat"])

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
        known = {f for f in cls.__dataclass_fields__} - {"record", "spool", "calls"}
        return cls(record=from_table(table), **{k: v for k, v in meta.items() if k in known})


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
