"""The feedback loop: annotations from the notebook widget and from files, aggregated per configuration
version; failed, low-rated or guardrail-triggering cases turned into a new golden dataset version."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd

from .datasets import Dataset, add_cases
from .errors import WorkbenchError
from .results import RunResult

COLUMNS = ["case_id", "reviewer", "thumb", "rating", "comment", "prompt_ref", "run_id", "time"]


def load_annotations(paths: list[str | Path]) -> pd.DataFrame:
    """Annotations from JSONL (the FeedbackCollector's files, or any with these fields) and CSV files.

    Needed: `case_id`, `reviewer`, and a `thumb` (up/down) or a `rating` (1-5); `prompt_ref` or `run_id`
    says which configuration version was reviewed. The latest record per case, reviewer and version wins.
    """
    frames = []
    for path in map(Path, paths):
        try:
            if path.suffix == ".csv":
                frame = pd.read_csv(path, dtype={"case_id": str, "reviewer": str})
            else:
                lines = [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
                frame = pd.DataFrame([json.loads(ln) for ln in lines])
        except (OSError, ValueError) as exc:
            raise WorkbenchError(f"{path}: cannot read annotations ({exc}); use JSONL or CSV") from None
        missing = [c for c in ("case_id", "reviewer") if c not in frame]
        if missing or not ({"thumb", "rating"} & set(frame)):
            raise WorkbenchError(f"{path}: columns: need case_id, reviewer and thumb or rating; found {', '.join(frame)}")
        frames.append(frame.assign(source=str(path)))
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=COLUMNS)
    for column in COLUMNS:
        if column not in frame:
            frame[column] = None
    bad = frame["thumb"].notna() & ~frame["thumb"].isin(["up", "down"])
    if bad.any():
        raise WorkbenchError(f"{frame.loc[bad, 'source'].iat[0]}: thumb: '{frame.loc[bad, 'thumb'].iat[0]}' is not up or down")
    frame["rating"] = pd.to_numeric(frame["rating"], errors="coerce")
    key = ["case_id", "reviewer", "prompt_ref", "run_id"]
    return frame.drop_duplicates(key, keep="last").reset_index(drop=True)


def aggregate(annotations: pd.DataFrame) -> pd.DataFrame:
    """Per configuration version: reviews, cases, reviewers, share of thumbs up, mean rating."""
    frame = annotations.assign(version=annotations["prompt_ref"].fillna(annotations["run_id"]).fillna("(unknown)"),
                               up=annotations["thumb"].map({"up": 1.0, "down": 0.0}))
    return frame.groupby("version").agg(reviews=("case_id", "size"), cases=("case_id", "nunique"),
                                        reviewers=("reviewer", "nunique"), thumbs_up_rate=("up", "mean"),
                                        mean_rating=("rating", "mean"))


def select_cases(run: RunResult, annotations: pd.DataFrame | None = None, failed: bool = True,
                 guardrails: bool = True, max_rating: int = 2) -> dict[str, list[str]]:
    """The run's cases worth keeping, each with why: failed (an error or a failed check), guardrail
    triggered, or reviewed down / rated at most `max_rating`."""
    reasons: dict[str, list[str]] = {}
    frame = run.frame
    if failed:
        for case_id in frame.loc[frame["error"].notna() | frame["passed"].eq(False).fillna(False), "case_id"].unique():
            reasons.setdefault(case_id, []).append("failed")
    if guardrails:
        for case_id in frame.loc[frame["guardrails"].notna(), "case_id"].unique():
            reasons.setdefault(case_id, []).append("guardrails")
    if annotations is not None and len(annotations):
        mine = annotations[(annotations["run_id"] == run.run_id) | (annotations["prompt_ref"] == run.prompt_ref)]
        low = mine[(mine["thumb"] == "down") | (mine["rating"] <= max_rating)]
        for case_id in low["case_id"].unique():
            if case_id in set(frame["case_id"]):
                reasons.setdefault(case_id, []).append("low-rated")
    return reasons


def harvest(run: RunResult, source: Dataset, into: Dataset, reasons: dict[str, list[str]], reviewer: str | None = None) -> Dataset:
    """Write `into`'s next version with the selected cases of `source` (the run's dataset) appended.

    New ids are `<case id>-<run id prefix>`; each case's metadata records why it was kept; the version's
    provenance names the run, the configuration, the reviewer and the time.
    """
    if not reasons:
        raise WorkbenchError(f"run {run.run_id or run.prompt_ref}: no failed, guardrail-triggering or low-rated cases to add")
    if source.hash != run.dataset_hash:
        raise WorkbenchError(f"{source.path}: not the dataset version the run used ({run.dataset_ref}); pass that version")
    golden = {c.id: c for c in source.cases}
    suffix = (run.run_id or run.prompt_hash)[:8]
    new = [golden[case_id].model_copy(update={
        "id": f"{case_id}-{suffix}", "tags": list(dict.fromkeys([*golden[case_id].tags, *why])),
        "metadata": {**golden[case_id].metadata, "source_case": case_id, "kept_because": why}})
        for case_id, why in reasons.items()]
    provenance = {"run_id": run.run_id, "prompt": run.prompt_ref, "dataset": run.dataset_ref, "reviewer": reviewer,
                  "time": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    return add_cases(into, new, provenance=provenance)
