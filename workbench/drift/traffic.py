"""Logged traffic: one request a JSONL line, validated with line numbers, and time windows of it.

Fields: ts (ISO 8601), prompt_ref, inputs, output, latency_s, input_tokens, output_tokens, and
optionally feedback (0..1), id and metadata; an A/B test's rows also carry variant, task_completed, rating (1-5)
and cost (USD).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..errors import WorkbenchError
from ..jsonl import read_jsonl


class Request(BaseModel):
    """One logged request, as a traffic file holds it."""

    model_config = ConfigDict(extra="forbid")
    ts: str = Field(min_length=1)
    prompt_ref: str = Field(min_length=1)
    inputs: dict[str, Any]
    output: str
    latency_s: float | None = Field(None, ge=0)
    input_tokens: int | None = Field(None, ge=0)
    output_tokens: int | None = Field(None, ge=0)
    feedback: float | None = Field(None, ge=0, le=1)
    variant: str | None = None
    task_completed: bool | None = None
    rating: int | None = Field(None, ge=1, le=5)
    cost: float | None = Field(None, ge=0)
    id: str | None = None
    metadata: dict[str, Any] = {}

    @field_validator("ts")
    @classmethod
    def _iso(cls, value: str) -> str:
        try:
            pd.Timestamp(value)
        except ValueError:
            raise ValueError(f"'{value}' is not ISO 8601; write e.g. 2026-10-01T09:30:00Z") from None
        return value


def load_traffic(path: str | Path) -> pd.DataFrame:
    """The traffic file as a frame, ordered by time; every bad line is named with its field and fix."""
    path = Path(path)
    rows = read_jsonl(path, Request, what="traffic file", unique="id")
    frame = pd.DataFrame(
        [{**row.value.model_dump(), "id": row.value.id or f"{path.stem}-{row.line}", "line": row.line} for row in rows]
    )
    frame["ts"] = pd.to_datetime([_utc(ts) for ts in frame["ts"]], utc=True)  # each on its own: formats may differ
    frame["input_text"] = frame["inputs"].map(input_text)
    if frame["id"].duplicated().any():
        raise WorkbenchError(f"{path}: id: duplicate id(s) {', '.join(frame.loc[frame['id'].duplicated(), 'id'][:5])}")
    frame = frame.sort_values("ts", kind="stable").reset_index(drop=True)
    frame.attrs["path"] = str(path)  # kept through filtering, so a window still knows its file
    return frame


def _utc(value: str | pd.Timestamp) -> pd.Timestamp:
    ts = pd.Timestamp(value)
    return ts if ts.tzinfo else ts.tz_localize("UTC")


def input_text(inputs: dict[str, Any]) -> str:
    """The text of a request's inputs: its string values, one per line."""
    return "\n".join(str(v) for v in inputs.values() if isinstance(v, str))


def window(
    traffic: pd.DataFrame, start: str | pd.Timestamp | None = None, end: str | pd.Timestamp | None = None
) -> pd.DataFrame:
    """Requests with start <= ts < end (UTC when no zone is given)."""
    keep = pd.Series(True, index=traffic.index)
    if start is not None:
        keep &= traffic["ts"] >= _utc(start)
    if end is not None:
        keep &= traffic["ts"] < _utc(end)
    return traffic[keep].reset_index(drop=True)
