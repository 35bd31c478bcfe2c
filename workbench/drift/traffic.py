"""Logged traffic: one request a JSONL line, validated with line numbers, and time windows of it.

Fields: ts (ISO 8601), prompt_ref, inputs, output, latency_s, input_tokens, output_tokens, and
optionally feedback (0..1), id and metadata; an A/B test's rows also carry variant, task_completed, rating (1-5)
and cost (USD).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..errors import WorkbenchError


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


def load_traffic(path: str | Path) -> pd.DataFrame:
    """The traffic file as a frame, ordered by time; every bad line is named with its field and fix."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise WorkbenchError(f"{path}: cannot read the traffic file: {exc.strerror}") from None
    rows, problems = [], []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            request = Request.model_validate(json.loads(line))
        except json.JSONDecodeError as exc:
            problems.append(f"{path}:{number}: json: {exc.msg} at column {exc.colno}; one JSON object per line")
            continue
        except ValidationError as exc:
            problems += [f"{path}:{number}: {'.'.join(map(str, e['loc']))}: "
                         f"{'unknown key' if e['type'] == 'extra_forbidden' else e['msg']}" for e in exc.errors()]
            continue
        try:
            ts = pd.Timestamp(request.ts)
        except ValueError:
            problems.append(f"{path}:{number}: ts: '{request.ts}' is not ISO 8601; write e.g. 2026-10-01T09:30:00Z")
            continue
        rows.append({**request.model_dump(), "ts": ts if ts.tzinfo else ts.tz_localize("UTC"),
                     "id": request.id or f"{path.stem}-{number}", "line": number})
    if problems:
        raise WorkbenchError("\n".join(problems[:20]) + (f"\n... and {len(problems) - 20} more" if len(problems) > 20 else ""))
    if not rows:
        raise WorkbenchError(f"{path}: no requests; write one JSON object per line")
    frame = pd.DataFrame(rows)
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True)
    frame["input_text"] = frame["inputs"].map(input_text)
    if frame["id"].duplicated().any():
        raise WorkbenchError(f"{path}: id: duplicate id(s) {', '.join(frame.loc[frame['id'].duplicated(), 'id'][:5])}")
    frame = frame.sort_values("ts", kind="stable").reset_index(drop=True)
    frame.attrs["path"] = str(path)  # kept through filtering, so a window still knows its file
    return frame


def input_text(inputs: dict[str, Any]) -> str:
    """The text of a request's inputs: its string values, one per line."""
    return "\n".join(str(v) for v in inputs.values() if isinstance(v, str))


def window(traffic: pd.DataFrame, start: str | pd.Timestamp | None = None, end: str | pd.Timestamp | None = None) -> pd.DataFrame:
    """Requests with start <= ts < end (UTC when no zone is given)."""
    def stamp(value: str | pd.Timestamp) -> pd.Timestamp:
        ts = pd.Timestamp(value)
        return ts if ts.tzinfo else ts.tz_localize("UTC")

    keep = pd.Series(True, index=traffic.index)
    if start is not None:
        keep &= traffic["ts"] >= stamp(start)
    if end is not None:
        keep &= traffic["ts"] < stamp(end)
    return traffic[keep].reset_index(drop=True)
