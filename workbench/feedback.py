"""The feedback loop: one annotations format and store, the latest-review rule, aggregation per configuration
version, and the one harvest that turns a run's failed, guardrail-triggering or poorly reviewed cases into a new
golden dataset version. The CLI (`workbench feedback`) and the FeedbackCollector widget both call these.

Why a JSONL file per run under `<home>/feedback/` and not the MLflow run: every click is one appended, fsynced
line, so nothing is lost when a kernel dies and two reviewers can write at once; it works for runs that were never
logged (`log=False`, saved Parquet runs); it is plain text to diff, grep and commit. `FeedbackStore.log_to_mlflow`
attaches the file to the run when the review is done.
"""

from __future__ import annotations

import csv
import getpass
import io
import os
import re
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .datasets import Dataset, add_cases, load_dataset
from .errors import WorkbenchError
from .jsonl import append_jsonl, messages, raise_problems, read_jsonl, validate_row
from .mlflow_store import client
from .results import RunResult
from .settings import Settings
from .tracking import log_review

THUMBS = ("up", "down")
SELECTIONS = "low, down, up, rated<=N (N from 1 to 5), reviewed, corrected or all"
LATEST_KEY = ["case_id", "reviewer", "run_id", "prompt_ref"]  # one current review per case, reviewer and version
REVIEW_FIELDS = ["reviewer", "time", "thumb", "rating", "comment", "output"]  # kept on a harvested case
HARVEST_KEYS = ("source_case", "kept_because", "feedback", "provenance")  # the metadata a harvest writes


class Feedback(BaseModel):
    """One review of one case's answer: a line of an annotations file (JSONL, or a CSV row with these columns)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    case_id: str = Field(min_length=1)
    reviewer: str
    thumb: str | None = None  # up | down
    rating: int | None = None  # 1..5
    comment: str = ""
    correction: str | None = None  # a better answer: the harvested case's expected answer
    output: str | None = None  # the answer reviewed
    run_id: str | None = None  # the run reviewed (and / or the configuration version, prompt_ref)
    prompt_ref: str | None = None
    dataset_ref: str | None = None
    dataset_hash: str | None = None
    time: str | None = None  # set by the store when missing

    @classmethod
    def validated(cls, **fields: Any) -> Feedback:
        """A review, or a `WorkbenchError` naming the case, the field and the fix."""
        try:
            return cls(**fields)
        except ValidationError as exc:
            raise WorkbenchError(f"feedback for '{fields.get('case_id')}': {'; '.join(messages(exc))}") from None

    @classmethod
    def on_case(
        cls, run: RunResult, case_id: str, reviewer: str, cases: pd.DataFrame | None = None, **label: Any
    ) -> Feedback:
        """`reviewer`'s label (thumb, rating, comment, correction) on `case_id`'s answer in `run`, recorded with that
        answer and the run's identity. `cases` is the run's case frame when the caller holds it already."""
        cases = run.cases() if cases is None else cases
        rows = cases[cases["case_id"] == case_id]
        if rows.empty:
            raise WorkbenchError(f"feedback: case '{case_id}' is not in run {run.run_id or run.prompt_ref}")
        output = rows.iloc[0]["output"]
        return cls.validated(
            case_id=case_id,
            reviewer=reviewer,
            **label,
            output=output if isinstance(output, str) else None,
            run_id=run.run_id,
            prompt_ref=run.prompt_ref,
            dataset_ref=run.dataset_ref,
            dataset_hash=run.dataset_hash,
        )

    @field_validator("thumb")
    @classmethod
    def _thumb(cls, value: str | None) -> str | None:
        if value not in (None, *THUMBS):
            raise ValueError(f"'{value}' is not one of up, down (or None)")
        return value

    @field_validator("rating", mode="before")
    @classmethod
    def _rating(cls, value: Any) -> Any:
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 5):
            raise ValueError(f"{value!r} must be a whole number from 1 to 5")
        return value

    @field_validator("reviewer")
    @classmethod
    def _reviewer(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("empty; name who reviewed")
        return value

    @model_validator(mode="after")
    def _something(self) -> Feedback:
        if (
            self.thumb is None
            and self.rating is None
            and not self.comment.strip()
            and not (self.correction or "").strip()
        ):
            raise ValueError("empty; give a thumb, a rating, a comment or a correction")
        return self


def default_reviewer() -> str:
    """`WORKBENCH_REVIEWER`, or the login name."""
    return os.environ.get("WORKBENCH_REVIEWER") or getpass.getuser()


def feedback_path(run: RunResult, settings: Settings) -> Path:
    """`<home>/feedback/<run id>.jsonl`; an unlogged run is keyed by configuration and dataset hash."""
    key = run.run_id or f"{run.prompt_ref}-{run.dataset_hash[:12]}"
    return settings.home / "feedback" / (re.sub(r"[^A-Za-z0-9@._-]+", "_", key) + ".jsonl")


def read_annotations(path: str | Path) -> list[Feedback]:
    """Every review in one file, oldest first: JSONL (as the store writes) or CSV with the same column names."""
    path = Path(path)
    if path.suffix.lower() != ".csv":
        return [row.value for row in read_jsonl(path, Feedback, what="annotations file", allow_empty=True)]
    try:
        data = path.read_bytes()
        text = data.decode("utf-8-sig")
    except OSError as exc:
        raise WorkbenchError(f"{path}: cannot read the annotations file: {exc.strerror}; check the path") from None
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise WorkbenchError(
            f"{path}:{line}: encoding: byte 0x{data[exc.start]:02x} is not UTF-8; save the file as UTF-8"
        ) from None
    reader = csv.DictReader(io.StringIO(text))
    header = reader.fieldnames or []
    unknown = [c for c in header if c not in Feedback.model_fields]
    if "case_id" not in header or "reviewer" not in header or unknown:
        raise WorkbenchError(
            f"{path}: columns: need case_id, reviewer and any of thumb, rating, comment, correction "
            f"(others: {', '.join(f for f in Feedback.model_fields if f not in ('case_id', 'reviewer'))}); "
            f"found {', '.join(header) or 'nothing'}"
        )
    records, problems = [], []
    try:
        for row in reader:
            cells = {k: _cell(k, v) for k, v in row.items() if k is not None and v not in (None, "")}
            value, found = validate_row(path, reader.line_num, cells, Feedback)
            if None in row:
                found.append(f"{path}:{reader.line_num}: row: more cells than columns; quote cells that hold commas")
            problems += found
            if value is not None and not found:
                records.append(value)
    except csv.Error as exc:
        problems.append(f"{path}:{reader.line_num}: csv: {exc}; save it as plain comma-separated text")
    raise_problems(problems)
    return records


def _cell(column: str, value: str) -> Any:
    if column == "rating" and re.fullmatch(r"\s*\d+(\.0*)?\s*", value):
        return int(float(value))
    return value


def latest(records: list[dict[str, Any]]) -> pd.DataFrame:
    """The current reviews: of the records (oldest first) for one case, reviewer and reviewed version
    (run id, configuration), the last wins. One row each, with Feedback's fields and `source`."""
    frame = pd.DataFrame(records, columns=[*Feedback.model_fields, "source"])
    frame["rating"] = pd.to_numeric(frame["rating"])
    return frame.drop_duplicates(LATEST_KEY, keep="last").reset_index(drop=True)


def load_annotations(paths: list[str | Path]) -> pd.DataFrame:
    """The current reviews in annotation files (the FeedbackCollector's JSONL, or JSONL / CSV with its fields)."""
    return latest([{**record.model_dump(), "source": str(path)} for path in paths for record in read_annotations(path)])


class FeedbackStore:
    """The append-only annotations file of one run. With the project's `settings`, each review of a logged run
    also becomes human assessments on the case's MLflow trace (`tracking.log_review`)."""

    def __init__(self, path: str | Path, settings: Settings | None = None):
        self.path = Path(path)
        self.settings = settings

    def append(self, feedback: Feedback) -> Feedback:
        """Write one line and fsync it (stamped with the time if it has none): on disk when this returns."""
        stamped = (
            feedback
            if feedback.time
            else feedback.model_copy(update={"time": datetime.now(UTC).isoformat(timespec="seconds")})
        )
        append_jsonl(self.path, [stamped])
        if self.settings is not None and stamped.run_id:
            try:
                log_review(stamped, self.settings)
            except Exception as exc:  # the review is on disk; `log_to_mlflow` attaches it again later
                warnings.warn(f"review of '{stamped.case_id}' not logged to MLflow: {exc}", stacklevel=2)
        return stamped

    def records(self) -> list[Feedback]:
        """Every record in the file, oldest first."""
        return read_annotations(self.path) if self.path.exists() else []

    def latest(self) -> pd.DataFrame:
        """The current reviews (see `latest`)."""
        return latest([{**record.model_dump(), "source": str(self.path)} for record in self.records()])

    def log_to_mlflow(self, run_id: str, settings: Settings) -> None:
        """Attach the annotations file to the run, under `feedback/`, and each current review of the run as
        human assessments on its case's trace (again: they replace the reviewer's earlier ones)."""
        if not self.path.exists():
            raise WorkbenchError(f"{self.path}: no feedback recorded yet")
        client(settings).log_artifact(run_id, str(self.path), artifact_path="feedback")
        for row in self.latest().to_dict("records"):
            if row["run_id"] in (None, run_id):
                fields = {k: (None if pd.isna(v) else v) for k, v in row.items() if k in Feedback.model_fields}
                log_review(Feedback(**{**fields, "run_id": run_id}), settings)


def aggregate(annotations: pd.DataFrame) -> pd.DataFrame:
    """Per configuration version: reviews, cases, reviewers, share of thumbs up, mean rating."""
    frame = annotations.assign(
        version=annotations["prompt_ref"].fillna(annotations["run_id"]).fillna("(unknown)"),
        up=annotations["thumb"].map({"up": 1.0, "down": 0.0}),
    )
    return frame.groupby("version").agg(
        reviews=("case_id", "size"),
        cases=("case_id", "nunique"),
        reviewers=("reviewer", "nunique"),
        thumbs_up_rate=("up", "mean"),
        mean_rating=("rating", "mean"),
    )


def reviews_of(run: RunResult, annotations: pd.DataFrame | None) -> pd.DataFrame:
    """The current reviews of `run`'s cases: of this run (by id) or of its configuration version."""
    if annotations is None or annotations.empty:
        return latest([])
    mine = (annotations["run_id"].eq(run.run_id) if run.run_id else False) | annotations["prompt_ref"].eq(
        run.prompt_ref
    )
    return annotations[mine & annotations["case_id"].isin(set(run.frame["case_id"]))]


def select_cases(
    run: RunResult,
    annotations: pd.DataFrame | None = None,
    *,
    failed: bool = True,
    guardrails: bool = True,
    which: str = "low",
    max_rating: int = 2,
) -> dict[str, list[str]]:
    """The run's cases worth keeping, each with why: `failed` (an error or a failed check), `guardrails` (a guardrail
    triggered), `feedback` (a review matches `which`: `low` = thumbs down or rated at most `max_rating`; `down`;
    `up`; `rated<=N`; `reviewed` = labelled pass/fail or rated (the review queue's labels); `corrected` = with a
    corrected answer; `all`; None = reviews select nothing)."""
    reasons: dict[str, list[str]] = {}
    frame = run.frame
    if failed:
        for case_id in frame.loc[frame["error"].notna() | frame["passed"].eq(False).fillna(False), "case_id"].unique():
            reasons.setdefault(case_id, []).append("failed")
    if guardrails and "guardrails" in frame:
        for case_id in frame.loc[frame["guardrails"].notna(), "case_id"].unique():
            reasons.setdefault(case_id, []).append("guardrails")
    if which is not None:
        reviews = reviews_of(run, annotations)
        for case_id in reviews.loc[_matching(reviews, which, max_rating), "case_id"].unique():
            reasons.setdefault(case_id, []).append("feedback")
    return reasons


def _matching(reviews: pd.DataFrame, which: str, max_rating: int) -> pd.Series:
    thumb, rating = reviews["thumb"], reviews["rating"]
    if which == "low":
        return thumb.eq("down") | rating.le(max_rating)
    if which in THUMBS:
        return thumb.eq(which)
    if which == "all":
        return pd.Series(True, index=reviews.index)
    if which == "reviewed":  # a reviewer's label: pass/fail (the thumb) or a rating, as the review queue writes
        return thumb.notna() | rating.notna()
    if which == "corrected":
        return reviews["correction"].map(lambda c: isinstance(c, str) and bool(c.strip()))
    if m := re.fullmatch(r"rated<=([1-5])", which):
        return rating.le(int(m.group(1)))
    raise WorkbenchError(f"which: '{which}' is not a selection of reviews; use {SELECTIONS}")


@dataclass(frozen=True)
class Harvest:
    """What a harvest wrote: the new dataset version, the ids it added, the cases it skipped and why."""

    dataset: Dataset
    added: list[str]
    skipped: dict[str, str]

    def report(self) -> str:
        new = self.dataset
        lines = [f"wrote {new.path}: {new.ref}, {len(new)} cases (+{len(self.added)}), hash {new.hash[:12]}"]
        if self.skipped:
            lines.append(
                f"skipped {len(self.skipped)} case(s) already in the dataset: "
                + "; ".join(f"{case} ({why})" for case, why in self.skipped.items())
            )
        return "\n".join(lines)


def harvest(
    run: RunResult,
    source: Dataset,
    reasons: dict[str, list[str]],
    annotations: pd.DataFrame | None = None,
    into: Dataset | None = None,
    reviewer: str | None = None,
) -> Harvest:
    """Write the next version of `into` (default: the newest version of `source`, the dataset version the run used)
    with the selected cases appended, through `datasets.add_cases`.

    A new case keeps the original's inputs, contexts, checks and tags (plus why it was kept); its expected answer is
    the latest correction among its reviews, else the original's; its id is `<case id>-<run id prefix>`; its
    metadata holds `source_case`, `kept_because` and the reviews. The version's provenance names the run, the
    configuration, the dataset, the reviewers, who decided (`reviewer`) and the time. A case that would add nothing
    is skipped and named in `Harvest.skipped`: its new id is already in `into` (this run was harvested before), or
    `into` already holds the case (itself or an earlier harvest of it) with the same inputs and expected answer, as
    when failed golden cases would be copied back into their own dataset. Nothing left to add is an error.
    """
    into = into or load_dataset(source.name, source.path.parent.parent)
    label = run.run_id or run.prompt_ref
    if source.hash != run.dataset_hash:
        raise WorkbenchError(
            f"{source.path}: its cases changed since run {label} (hash {source.hash[:12]}, the run used "
            f"{run.dataset_hash[:12]}); pass the dataset version the run used"
        )
    if not reasons:
        raise WorkbenchError(f"run {label}: no failed, guardrail-triggering or selected reviewed cases to harvest")
    golden = {case.id: case for case in source.cases}
    reviews = reviews_of(run, annotations)
    suffix = (run.run_id or run.prompt_hash)[:8]
    ids = {case.id for case in into.cases}
    present: dict[str, list[Any]] = {}
    for case in into.cases:
        present.setdefault(case.metadata.get("source_case", case.id), []).append(case)
    new, skipped = [], {}
    for case_id, why in reasons.items():
        original, mine = golden[case_id], reviews[reviews["case_id"] == case_id]
        corrections = [c for c in mine["correction"] if isinstance(c, str) and c.strip()]
        expected = corrections[-1] if corrections else original.expected
        new_id = f"{case_id}-{suffix}"
        twin = next(
            (c for c in present.get(case_id, []) if c.inputs == original.inputs and c.expected == expected), None
        )
        if new_id in ids or twin is not None:
            skipped[case_id] = (
                f"'{new_id}' is already in {into.ref}" if new_id in ids else f"as '{twin.id}' in {into.ref}"  # type: ignore[union-attr]
            )
            continue
        kept = {k: v for k, v in original.metadata.items() if k not in HARVEST_KEYS}  # not an earlier harvest's
        metadata = {**kept, "source_case": case_id, "kept_because": why}
        if len(mine):
            metadata["feedback"] = [_plain(review) for review in mine[REVIEW_FIELDS].to_dict("records")]
        new.append(
            {
                **original.model_dump(mode="json"),
                "id": new_id,
                "expected": expected,
                "metadata": metadata,
                "tags": list(dict.fromkeys([*original.tags, *why])),
            }
        )
    if not new:
        raise WorkbenchError(
            f"nothing to add to {into.ref}: every selected case is already there ("
            + "; ".join(f"{case} {why}" for case, why in skipped.items())
            + "); harvest into another dataset (--into), or record a correction"
        )
    used = reviews[reviews["case_id"].isin([case["metadata"]["source_case"] for case in new])]
    provenance = {
        "source": "harvest",
        "run_id": run.run_id,
        "prompt": run.prompt_ref,
        "dataset": run.dataset_ref,
        "reviewer": reviewer,
        "reviewers": sorted(set(used["reviewer"])),
        "annotations": sorted(set(used["source"].dropna())),
        "time": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    written = add_cases(into, new, provenance=provenance)  # type: ignore[arg-type]
    return Harvest(written, [case["id"] for case in new], skipped)


def _plain(review: dict[str, Any]) -> dict[str, Any]:
    out = {k: (None if not isinstance(v, (str, list, dict)) and pd.isna(v) else v) for k, v in review.items()}
    if out.get("rating") is not None:
        out["rating"] = int(out["rating"])  # type: ignore[arg-type]
    return out
