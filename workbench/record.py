"""The run record: its columns and dtypes (declared once, in `RECORD`), its Parquet types, the tidy view of it,
and `RecordWriter`, which writes a run's record to a spool file as the calls complete.

The record is the one saved form of a run: Parquet files, MLflow tables, traces, widgets and statistics all
read it; `results.RunResult` holds one.
"""

from __future__ import annotations

import json
import os
import tempfile
import weakref
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Column:
    """One column, declared once: its pandas dtype, its Parquet type (a `pyarrow` factory's name; None: the
    free-form values' own) and the value a row without it takes."""

    dtype: str
    arrow: str | None
    default: Any = None


#: The run record: one row per call (a case, or a case's repeat); nested values are native structures.
#: Everything else about a column (the dtypes, the Parquet schema, the defaults, `Call`) is derived from here.
RECORD_COLUMNS: dict[str, Column] = {
    "case_id": Column("object", "string"),
    "repeat": Column("int64", "int64", 0),
    "inputs": Column("object", None),  # free-form: a struct of the case's variables
    "output": Column("object", "string"),
    "error": Column("object", "string"),
    "latency_s": Column("float64", "float64"),
    "input_tokens": Column("Int64", "int64"),
    "output_tokens": Column("Int64", "int64"),
    "cost": Column("float64", "float64"),
    "cached": Column("bool", "bool_", False),
    "model": Column("object", "string"),
    "tags": Column("object", "string"),
    "chunks": Column("object", None),  # free-form: the retrieved chunks
    "guardrails": Column("object", "string"),
    "blocked": Column("bool", "bool_", False),
    "scores": Column("object", "scores"),  # a list of SCORE_COLUMNS structs
}
#: One score in a record row's `scores` list; its tidy-view dtype and Parquet type.
SCORE_RECORD: dict[str, Column] = {
    "scorer": Column("object", "string"),
    "value": Column("float64", "float64"),
    "passed": Column("boolean", "bool_"),
    "label": Column("object", "string"),
    "reason": Column("object", "string"),
    "error": Column("object", "string"),
}
RECORD: dict[str, str] = {name: column.dtype for name, column in RECORD_COLUMNS.items()}


class Call(TypedDict, total=False):
    """A record row as the runner, replay and shards build it (a key not in `RECORD_COLUMNS` is a type error;
    a test holds the two together); missing keys take their column's default."""

    case_id: str
    repeat: int
    inputs: dict[str, Any] | None
    output: str | None
    error: str | None
    latency_s: float | None
    input_tokens: int | None
    output_tokens: int | None
    cost: float | None
    cached: bool
    model: str | None
    tags: str
    chunks: list[dict[str, Any]] | None
    guardrails: str | None
    blocked: bool
    scores: list[dict[str, Any]]


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
_DEFAULTS = {name: column.default for name, column in RECORD_COLUMNS.items() if column.default is not None}


def arrow_types() -> dict[str, Any]:
    """The Parquet types of the record's columns; `inputs` and `chunks` (free-form) take the types of their values."""
    import pyarrow as pa  # pyarrow loads only where Parquet is read or written

    def arrow(column: Column) -> Any:
        return getattr(pa, str(column.arrow))()

    score = pa.struct([(name, arrow(column)) for name, column in SCORE_RECORD.items()])
    typed = {name: arrow(c) for name, c in RECORD_COLUMNS.items() if c.arrow not in (None, "scores")}
    return {**typed, "scores": pa.list_(score)}


def tidy_dtypes() -> dict[str, str]:
    """The dtypes of the tidy view's typed columns (`COLUMNS`): the record's and the score's, object left as is."""
    declared = {
        **{n: c.dtype for n, c in RECORD_COLUMNS.items()},
        **{n: c.dtype for n, c in SCORE_RECORD.items()},
    }
    return {name: declared[name] for name in COLUMNS if declared.get(name, "object") != "object"}


def record_frame(rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """The run record from one dict per call (the keys of `RECORD`), with the declared dtypes."""
    frame = pd.DataFrame(rows, columns=list(RECORD))
    for column, default in _DEFAULTS.items():
        if default is not None:
            frame[column] = [default if _missing(v) else v for v in frame[column]]
    frame["scores"] = frame["scores"].map(lambda v: list(v) if v is not None and not _missing(v) else [])
    return frame.astype(RECORD)


#: How a scorer's own error starts in the `error` column; it marks that row only, never the call.
SCORER_ERROR = "scorer "
#: Record rows per Parquet row group while a run streams to disk: what memory holds of the record during a run.
GROUP_ROWS = 10_000
#: The columns of `RunResult.score_rows()`: what statistics read of the tidy view.
SCORE_COLUMNS = ["case_id", "repeat", "scorer", "value", "passed", "label", "error"]


class Spool:
    """A run's record as a Parquet file of its own, removed when no result refers to it any more."""

    def __init__(self, path: Path):
        self.path = path
        weakref.finalize(self, _remove, path)

    def read(self, columns: list[str] | None = None) -> Any:
        import pyarrow.parquet as pq  # pyarrow loads only where Parquet is read or written

        return pq.read_table(self.path, columns=columns)


def _remove(path: Path) -> None:
    path.unlink(missing_ok=True)


class RecordWriter:
    """Record rows as calls complete, written to a spool file one Parquet row group (`group_rows`) at a time,
    so a run holds one group in memory, never its whole record. A run that ends within its first group
    never touches the disk (`close` gives its frame). The file's schema is `arrow_types()` plus the types the
    free-form `inputs` and `chunks` take; a later group with new keys widens it (the file is rewritten once)."""

    def __init__(self, folder: Path | None = None, group_rows: int | None = None):
        self.folder, self.group_rows = folder, group_rows or GROUP_ROWS
        self.rows: list[Mapping[str, Any]] = []
        self.spool: Spool | None = None
        self._writer: Any = None

    def add(self, row: Mapping[str, Any]) -> None:
        self.rows.append(row)
        if len(self.rows) >= self.group_rows:
            self.flush()

    def extend(self, rows: Iterable[Mapping[str, Any]]) -> None:
        for row in rows:
            self.add(row)

    def flush(self) -> None:
        import pyarrow as pa  # pyarrow loads only where Parquet is read or written
        import pyarrow.parquet as pq  # (same)

        if not self.rows:
            return
        table = _arrow(self.rows)
        self.rows = []
        if self._writer is None:
            self.spool = self._new_spool()
            self._writer = pq.ParquetWriter(self.spool.path, table.schema)
        elif table.schema != self._writer.schema:
            wider = pa.unify_schemas([self._writer.schema, table.schema], promote_options="permissive")
            if wider != self._writer.schema:
                self._widen(wider)
            table = table.cast(self._writer.schema)
        self._writer.write_table(table)

    def _widen(self, schema: Any) -> None:
        """Rewrite the groups written so far with a wider schema (a later group brought new keys or types)."""
        import pyarrow.parquet as pq  # pyarrow loads only where Parquet is read or written

        assert self.spool is not None
        self._writer.close()
        old, self.spool = self.spool, self._new_spool()
        self._writer = pq.ParquetWriter(self.spool.path, schema)
        written = pq.ParquetFile(old.path)
        for group in range(written.num_row_groups):
            self._writer.write_table(written.read_row_group(group).cast(schema))

    def _new_spool(self) -> Spool:
        if self.folder is not None:
            self.folder.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix="record-", suffix=".parquet", dir=self.folder)
        os.close(fd)
        return Spool(Path(name))

    def close(self) -> tuple[pd.DataFrame | None, Spool | None]:
        """The record: as a frame when it fits in one group, else the spool file holding every row."""
        if self._writer is None:
            rows, self.rows = self.rows, []
            return record_frame(rows), None
        self.flush()
        self._writer.close()
        return None, self.spool


def _arrow(rows: Sequence[Mapping[str, Any]]) -> Any:
    """Record rows as an Arrow table: the declared types, `inputs` and `chunks` as their values make them."""
    import pyarrow as pa  # pyarrow loads only where Parquet is read or written

    types = arrow_types()
    columns = {}
    for name in RECORD:
        values = [row.get(name, _DEFAULTS.get(name)) for row in rows]
        if name == "inputs":
            values = [v or None for v in values]  # Parquet has no empty struct
        if name == "scores":
            values = [list(v) if v else [] for v in values]
        columns[name] = pa.array(values, type=types.get(name))
    return pa.table(columns)


def from_table(table: Any) -> pd.DataFrame:
    """A Parquet record (or an older tidy frame) as a frame of plain Python values."""
    frame = table.to_pandas()
    for column in _NESTED:
        if column in frame:
            frame[column] = frame[column].map(_native)
    if "inputs" in frame and "scorer" not in frame:
        frame["inputs"] = frame["inputs"].map(lambda v: v if v is not None else {})
    if "scorer" not in frame:
        frame = typed(frame)
    return frame


def typed(frame: pd.DataFrame) -> pd.DataFrame:
    """Record columns with their declared dtypes; text read from Parquet as plain strings and None."""
    frame = frame.astype({k: v for k, v in RECORD.items() if k in frame})
    for column in frame.columns:
        if RECORD.get(column) == "object" and column not in _NESTED:
            frame[column] = frame[column].where(frame[column].notna(), None)
    return frame


def fold(frame: pd.DataFrame) -> pd.DataFrame:
    """A tidy frame (one row per call x scorer) as the record (one row per call, its scores in a list).
    A row's error is its scorer's when it reads `scorer <name>: ...`, the call's otherwise."""
    frame = frame.copy()
    for column in COLUMNS:  # frames of older versions lack newer columns
        if column not in frame:
            frame[column] = _DEFAULTS.get(column)
    frame["repeat"] = frame["repeat"].fillna(0)
    groups: dict[tuple, list[dict]] = {}  # per call, in order of first appearance (plain dicts: fast)
    for row in frame.to_dict("records"):
        if isinstance(row["case_id"], str):
            groups.setdefault((row["case_id"], row["repeat"]), []).append(row)
    rows = []
    for group in groups.values():
        first = group[0]
        scores, call_error = [], None
        for row in group:
            error = row["error"] if isinstance(row["error"], str) else None
            scorer = row["scorer"] if isinstance(row["scorer"], str) else None
            own = error if error and scorer and error.startswith(f"{SCORER_ERROR}{scorer}:") else None
            call_error = call_error or (None if own else error)
            if scorer:
                scores.append(
                    {
                        "scorer": scorer,
                        "value": _none(row["value"]),
                        "passed": _none(row["passed"]),
                        "label": _none(row["label"]),
                        "reason": _none(row["reason"]),
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
    return pd.DataFrame(rows, columns=COLUMNS).astype(tidy_dtypes())


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
