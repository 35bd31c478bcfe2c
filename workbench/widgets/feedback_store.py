"""Reviewer feedback on a run's answers: an append-only JSONL file under `.workbench/feedback/`, and its export
as a new golden dataset version.

Why a JSONL file and not the MLflow run: every click is one appended, fsynced line, so nothing is lost when a
kernel dies and two reviewers can write at once; it works for runs that were never logged (`log=False`, saved
Parquet runs); it is plain text to diff, grep and commit. `FeedbackStore.log_to_mlflow` attaches the file to
the run when the review is done.
"""

from __future__ import annotations

import getpass
import json
import os
import re
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import WorkbenchError
from ..files import locked
from ..settings import Settings

THUMBS = ("up", "down")


@dataclass(frozen=True)
class Feedback:
    """One review of one case's answer. Later records for the same case and reviewer supersede earlier ones."""

    case_id: str
    reviewer: str
    thumb: str | None = None  # up | down
    rating: int | None = None  # 1..5
    comment: str = ""
    correction: str | None = None  # a better answer; becomes the exported case's expected answer
    output: str | None = None  # the answer reviewed
    run_id: str | None = None
    prompt_ref: str | None = None
    dataset_ref: str | None = None
    dataset_hash: str | None = None
    time: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))

    def __post_init__(self) -> None:
        if self.thumb not in (None, *THUMBS):
            raise WorkbenchError(f"feedback for '{self.case_id}': thumb: '{self.thumb}' is not one of up, down (or None)")
        if self.rating is not None and (isinstance(self.rating, bool) or not isinstance(self.rating, int)
                                        or not 1 <= self.rating <= 5):
            raise WorkbenchError(f"feedback for '{self.case_id}': rating: {self.rating!r} must be a whole number from 1 to 5")
        if self.thumb is None and self.rating is None and not self.comment.strip() and not (self.correction or "").strip():
            raise WorkbenchError(f"feedback for '{self.case_id}': empty; give a thumb, a rating, a comment or a correction")
        if not self.reviewer.strip():
            raise WorkbenchError(f"feedback for '{self.case_id}': reviewer: empty; name who reviewed")


def default_reviewer() -> str:
    """`WORKBENCH_REVIEWER`, or the login name."""
    return os.environ.get("WORKBENCH_REVIEWER") or getpass.getuser()


def feedback_path(run: Any, settings: Settings) -> Path:
    """`<home>/feedback/<run id>.jsonl`; an unlogged run is keyed by configuration and dataset hash."""
    key = run.run_id or f"{run.prompt_ref}-{run.dataset_hash[:12]}"
    return settings.home / "feedback" / (re.sub(r"[^A-Za-z0-9@._-]+", "_", key) + ".jsonl")


class FeedbackStore:
    """The append-only feedback log of one run."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def append(self, feedback: Feedback) -> Feedback:
        """Write one line and fsync it: a record is on disk when this returns."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps(asdict(feedback), ensure_ascii=False) + "\n"
        with locked(self.path), open(self.path, "a", encoding="utf-8") as handle:  # whole lines, one writer at a time
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())
        return feedback

    def records(self) -> list[Feedback]:
        """Every record in the file, oldest first."""
        if not self.path.exists():
            return []
        out = []
        for number, line in enumerate(self.path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                out.append(Feedback(**json.loads(line)))
            except (ValueError, TypeError, WorkbenchError) as exc:
                raise WorkbenchError(f"{self.path}:{number}: not a feedback record ({exc}); fix or delete that line") from None
        return out

    def latest(self) -> pd.DataFrame:
        """The current feedback: the last record per case and reviewer."""
        records = [asdict(r) for r in self.records()]
        columns = list(Feedback.__dataclass_fields__)
        frame = pd.DataFrame(records, columns=columns)
        if frame.empty:
            return frame
        return frame.drop_duplicates(["case_id", "reviewer"], keep="last").reset_index(drop=True)

    def log_to_mlflow(self, run_id: str, settings: Settings) -> None:
        """Attach the feedback file to the run, under `feedback/`."""
        from mlflow import MlflowClient

        from ..tracking import use

        if not self.path.exists():
            raise WorkbenchError(f"{self.path}: no feedback recorded yet")
        use(settings)
        MlflowClient().log_artifact(run_id, str(self.path), artifact_path="feedback")


def export_cases(store: FeedbackStore, run: Any, dataset: Any, which: str = "down",
                 reviewer: str | None = None) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """New golden cases from reviewed answers, and their provenance.

    `which`: `down` (thumbs down), `up`, `rated<=N` (a rating of N or less) or `all`. Each case keeps the original's
    inputs, checks and tags (plus `feedback`); its expected answer is the latest correction, if any; its metadata holds
    the reviews (reviewer, time, thumb, rating, comment) and the run they came from.
    """
    feedback = store.latest()
    if feedback.empty:
        raise WorkbenchError(f"{store.path}: no feedback recorded yet; nothing to export")
    if reviewer:
        feedback = feedback[feedback["reviewer"] == reviewer]
    if which == "down" or which == "up":
        chosen = feedback[feedback["thumb"] == which]
    elif which == "all":
        chosen = feedback
    elif (m := re.fullmatch(r"rated<=([1-5])", which)):
        chosen = feedback[feedback["rating"].notna() & (feedback["rating"].astype(float) <= int(m.group(1)))]
    else:
        raise WorkbenchError(f"which: '{which}' is not a selection; use down, up, all or rated<=N (N from 1 to 5)")
    if chosen.empty:
        raise WorkbenchError(f"{store.path}: no feedback matches which='{which}'; nothing to export")
    golden = {c.id: c for c in dataset.cases}
    suffix = (run.run_id or run.dataset_hash)[:8]
    cases = []
    for case_id, reviews in chosen.groupby("case_id", sort=False):
        if case_id not in golden:
            raise WorkbenchError(f"feedback for '{case_id}': no such case in {dataset.path}; export into the run's dataset")
        original = golden[case_id]
        corrections = [c for c in reviews["correction"] if isinstance(c, str) and c.strip()]
        kept = reviews[["reviewer", "time", "thumb", "rating", "comment", "output"]].astype(object)
        cases.append({
            "id": f"{case_id}-fb-{suffix}",
            "inputs": dict(original.inputs),
            "expected": corrections[-1] if corrections else original.expected,
            "expected_contexts": list(original.expected_contexts),
            "checks": original.checks.model_dump(),
            "tags": list(dict.fromkeys([*original.tags, "feedback"])),
            "metadata": {**original.metadata, "source_case": case_id,
                         "feedback": kept.where(kept.notna(), None).to_dict("records")},
        })
    provenance = {"source": "feedback", "run_id": run.run_id, "prompt": run.prompt_ref, "dataset": run.dataset_ref,
                  "reviewers": sorted(set(chosen["reviewer"])), "time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                  "file": str(store.path)}
    return cases, provenance
