"""The human review queue: rules route a run's cases to people, and their labels are feedback records.

`route` picks the cases worth a person's time, each with why: a judge that could not grade (`judge_error`) or graded
near its pass line (`judge_borderline`), a judge that disagrees with the objective checks (`disagreement`), a
guardrail that fired (`guardrails`), low user feedback (`low_feedback`), and a seeded random `audit` sample.
`ReviewQueue` keeps the routed items beside the run's feedback store, in `<home>/review/<run key>.jsonl` (one
appended, fsynced line per item), and `label` writes a reviewer's decision (pass/fail, a 1-5 rating, a corrected
answer) to the run's `feedback.FeedbackStore`. So reviewed labels are feedback like any other: `feedback.harvest`
takes them (`--which reviewed`), and `labeled_items` turns them into a labeled set for judge calibration.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from .calibration import LabeledItem
from .datasets import load_dataset
from .errors import WorkbenchError
from .feedback import Feedback, FeedbackStore, default_reviewer, feedback_path, select_cases
from .jsonl import append_jsonl, read_jsonl
from .results import RunResult
from .settings import Settings

RULES = ("judge_error", "judge_borderline", "disagreement", "guardrails", "low_feedback")
VERDICTS = {"pass": "up", "fail": "down"}  # a review label is stored as the feedback thumb
MARGIN = 0.25  # a judge value this close below its pass line, or closer above it, is borderline (one grade of 1-5)
GUARDRAIL_SCORERS = ("pii_free", "injection_free", "guardrail_policy")


class ReviewItem(BaseModel):
    """One case routed to people: a line of the queue file."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    case_id: str = Field(min_length=1)
    reasons: list[str]  # rule: detail, e.g. "judge_error: llm_judge could not grade"
    run_id: str | None = None
    prompt_ref: str
    dataset_ref: str
    dataset_hash: str
    queued: str  # time, ISO 8601 UTC


def is_judge(spec: dict[str, Any]) -> bool:
    """A scorer that asks a model for its verdict: `llm_judge`, or any scorer configured with a `judge`."""
    return spec.get("name") == "llm_judge" or "judge" in (spec.get("args") or {})


def pass_line(spec: dict[str, Any]) -> float:
    """Where a judge's 0..1 value passes: `llm_judge`'s `pass_at` on its scale, else 0.5."""
    args = spec.get("args") or {}
    if spec.get("name") == "llm_judge":
        low, high = args.get("low", 1), args.get("high", 5)
        return (args.get("pass_at", 4) - low) / (high - low)
    return float(args.get("threshold", 0.5))


def route(
    run: RunResult,
    rules: tuple[str, ...] | list[str] = RULES,
    annotations: pd.DataFrame | None = None,
    audit: int = 0,
    seed: int = 0,
    margin: float = MARGIN,
    max_rating: int = 2,
    queued: set[str] | frozenset[str] = frozenset(),
) -> dict[str, list[str]]:
    """The run's cases for people, each with why (rule: detail), in the run's order. `annotations` are the current
    user reviews (`feedback.latest`) read by `low_feedback` (thumbs down or rated at most `max_rating`); `audit`
    adds that many other cases (neither routed nor already `queued`) drawn at random with `seed`."""
    unknown = [rule for rule in rules if rule not in RULES]
    if unknown:
        raise WorkbenchError(f"--rules: unknown rule(s) {', '.join(unknown)}; use any of {', '.join(RULES)}")
    if audit < 0:
        raise WorkbenchError(f"--audit: {audit} is negative; give a number of cases to sample")
    reasons: dict[str, list[str]] = {}

    def add(case_id: str, reason: str) -> None:
        reasons.setdefault(case_id, [])
        if reason not in reasons[case_id]:
            reasons[case_id].append(reason)

    specs = {spec["name"]: spec for spec in run.scorers}
    judges = {name for name, spec in specs.items() if is_judge(spec)}
    objective = {name for name in specs if name not in judges and name not in GUARDRAIL_SCORERS}
    for row in run.record.itertuples():
        if isinstance(row.error, str):
            continue  # no answer: nothing to judge
        scores = {s["scorer"]: s for s in row.scores}
        checks = [s.get("passed") for name, s in scores.items() if name in objective and s.get("passed") is not None]
        for name in judges & set(scores):
            score = scores[name]
            if isinstance(score.get("error"), str):
                if "judge_error" in rules:
                    add(row.case_id, f"judge_error: {name} could not grade")
                continue
            value, passed, line = score.get("value"), score.get("passed"), pass_line(specs[name])
            if "judge_borderline" in rules and value is not None and line - margin <= value < line + margin:
                add(row.case_id, f"judge_borderline: {name} {value:.2f}, passes at {line:.2f}")
            verdict = passed if passed is not None else (None if value is None else value >= line)
            if "disagreement" in rules and verdict is not None and checks and verdict != all(checks):
                add(
                    row.case_id,
                    f"disagreement: {name} {'passed' if verdict else 'failed'}, the checks "
                    f"{'passed' if all(checks) else 'failed'}",
                )
    if "guardrails" in rules:
        fired = run.record.set_index("case_id")["guardrails"]
        for case_id in select_cases(run, failed=False, guardrails=True, which=None):  # type: ignore[arg-type]
            add(case_id, f"guardrails: {', '.join(sorted(set(fired.loc[[case_id]].dropna())))}")
    if "low_feedback" in rules and annotations is not None:
        for case_id in select_cases(
            run, annotations, failed=False, guardrails=False, which="low", max_rating=max_rating
        ):
            add(case_id, "low_feedback: thumbs down or rated low")
    order = list(dict.fromkeys(run.record["case_id"]))
    rest = [case_id for case_id in order if case_id not in reasons and case_id not in queued]
    for case_id in random.Random(seed).sample(rest, min(audit, len(rest))):
        add(case_id, f"audit: random sample (seed {seed})")
    return {case_id: reasons[case_id] for case_id in order if case_id in reasons}


def queue_path(run: RunResult, settings: Settings) -> Path:
    """`<home>/review/<run key>.jsonl`: named as the run's feedback file, which holds the labels."""
    return settings.home / "review" / feedback_path(run, settings).name


class ReviewQueue:
    """The review queue of one run: its routed items (`items`) and the labels given (the run's feedback store)."""

    def __init__(self, run: RunResult, settings: Settings | None = None, reviewer: str | None = None):
        self.run = run
        self.settings = settings or Settings.load()
        self.reviewer = reviewer or default_reviewer()
        self.path = queue_path(run, self.settings)
        self.store = FeedbackStore(feedback_path(run, self.settings), self.settings)

    def items(self) -> list[ReviewItem]:
        """Every routed case, in the order queued (a case queued twice once, with all its reasons)."""
        if not self.path.exists():
            return []
        merged: dict[str, ReviewItem] = {}
        for row in read_jsonl(self.path, ReviewItem, what="review queue", allow_empty=True):
            item = row.value
            if item.case_id in merged:
                item = merged[item.case_id].model_copy(
                    update={"reasons": list(dict.fromkeys([*merged[item.case_id].reasons, *item.reasons]))}
                )
            merged[item.case_id] = item
        return list(merged.values())

    def add(self, reasons: dict[str, list[str]]) -> list[ReviewItem]:
        """Queue the routed cases not queued yet for these reasons; returns the lines written."""
        known = {item.case_id: set(item.reasons) for item in self.items()}
        now = datetime.now(UTC).isoformat(timespec="seconds")
        new = [
            ReviewItem(
                case_id=case_id,
                reasons=[r for r in why if r not in known.get(case_id, set())],
                run_id=self.run.run_id,
                prompt_ref=self.run.prompt_ref,
                dataset_ref=self.run.dataset_ref,
                dataset_hash=self.run.dataset_hash,
                queued=now,
            )
            for case_id, why in reasons.items()
        ]
        new = [item for item in new if item.reasons]
        if new:
            append_jsonl(self.path, new)
        return new

    def labels(self) -> pd.DataFrame:
        """The current review labels (the latest per case and reviewer) of queued cases: feedback with a thumb or rating."""
        reviews = self.store.latest()
        queued = {item.case_id for item in self.items()}
        return reviews[reviews["case_id"].isin(queued) & (reviews["thumb"].notna() | reviews["rating"].notna())]

    def status(self) -> pd.DataFrame:
        """One row per queued case: why, and its label (pass/fail, rating, correction, reviewer) when reviewed."""
        labels = self.labels().drop_duplicates("case_id", keep="last").set_index("case_id")
        rows = []
        for item in self.items():
            label = labels.loc[item.case_id] if item.case_id in labels.index else None
            rows.append(
                {
                    "case_id": item.case_id,
                    "reasons": "; ".join(item.reasons),
                    "reviewed": label is not None,
                    "label": None if label is None else {"up": "pass", "down": "fail"}.get(label["thumb"]),
                    "rating": None if label is None or pd.isna(label["rating"]) else int(label["rating"]),
                    "correction": None
                    if label is None or not isinstance(label["correction"], str)
                    else label["correction"],
                    "reviewer": None if label is None else label["reviewer"],
                }
            )
        return pd.DataFrame(
            rows, columns=["case_id", "reasons", "reviewed", "label", "rating", "correction", "reviewer"]
        )

    def label(
        self,
        case_id: str,
        verdict: str | None = None,
        rating: int | None = None,
        correction: str | None = None,
        comment: str = "",
    ) -> Feedback:
        """Record a reviewer's decision on a queued case as a feedback record (fsynced before this returns). What is
        not given is kept from this reviewer's current label, so one click (a rating) never erases another (pass)."""
        if verdict not in (None, *VERDICTS):
            raise WorkbenchError(f"label: '{verdict}' is not a verdict; use pass or fail")
        if verdict is None and rating is None and not (correction or "").strip():
            raise WorkbenchError(f"label for '{case_id}': give pass/fail, a rating from 1 to 5 or a corrected answer")
        current = self.store.latest()
        current = current[(current["case_id"] == case_id) & (current["reviewer"] == self.reviewer)]
        thumb = VERDICTS.get(verdict)  # type: ignore[arg-type]
        if len(current):
            last = current.iloc[-1]
            thumb = thumb or (last["thumb"] if isinstance(last["thumb"], str) else None)
            rating = rating if rating is not None else (None if pd.isna(last["rating"]) else int(last["rating"]))
            correction = (
                correction
                if (correction or "").strip()
                else (last["correction"] if isinstance(last["correction"], str) else None)
            )
            comment = comment or last["comment"] or ""
        return self.store.append(
            Feedback.on_case(
                self.run,
                case_id,
                self.reviewer,
                thumb=thumb,
                rating=rating,
                comment=comment,
                correction=(correction or "").strip() or None,
            )
        )


def queue(
    run: RunResult,
    settings: Settings,
    rules: tuple[str, ...] | list[str] = RULES,
    audit: int = 0,
    seed: int = 0,
    margin: float = MARGIN,
) -> tuple[ReviewQueue, list[ReviewItem]]:
    """Route `run`'s cases (user feedback from its feedback store) and queue the new ones."""
    review = ReviewQueue(run, settings)
    annotations = review.store.latest()
    queued = {item.case_id for item in review.items()}
    return review, review.add(route(run, rules, annotations, audit=audit, seed=seed, margin=margin, queued=queued))


def queues(settings: Settings) -> pd.DataFrame:
    """Every review queue of the project: file, configuration, dataset, cases queued and reviewed."""
    rows = []
    for path in sorted((settings.home / "review").glob("*.jsonl")):
        items = [row.value for row in read_jsonl(path, ReviewItem, what="review queue", allow_empty=True)]
        if not items:
            continue
        labelled = FeedbackStore(settings.home / "feedback" / path.name).latest()
        queued = {item.case_id for item in items}
        done = set(labelled.loc[labelled["thumb"].notna() | labelled["rating"].notna(), "case_id"]) & queued
        first = items[0]
        rows.append(
            {
                "queue": path.stem,
                "run": first.run_id or "(not logged)",
                "configuration": first.prompt_ref,
                "dataset": first.dataset_ref,
                "queued": len(queued),
                "reviewed": len(done),
                "open": len(queued - done),
            }
        )
    return pd.DataFrame(rows, columns=["queue", "run", "configuration", "dataset", "queued", "reviewed", "open"])


def labeled_items(run: RunResult, settings: Settings) -> list[LabeledItem]:
    """The run's reviewed labels as a labeled set for `calibration.calibrate`: one item per case and reviewer with a
    pass/fail label (else the rating as a 1-5 grade); the input, the reviewed answer, the expected answer."""
    reviews = FeedbackStore(feedback_path(run, settings)).latest()
    reviews = reviews[reviews["thumb"].notna() | reviews["rating"].notna()]
    if reviews.empty:
        raise WorkbenchError(
            f"{feedback_path(run, settings)}: no reviewed labels (pass/fail or a rating) for run "
            f"{run.run_id or run.prompt_ref}; label cases with the ReviewQueue first"
        )
    expected = {}
    try:
        dataset = load_dataset(run.dataset_ref, settings.datasets_dir)
        if dataset.hash == run.dataset_hash:
            expected = {case.id: case.expected for case in dataset.cases}
    except WorkbenchError:
        pass  # a temporary dataset (replayed traffic) or one that is gone: no expected answers
    cases = run.cases().drop_duplicates("case_id").set_index("case_id")
    items = []
    for review in reviews.itertuples():
        case = cases.loc[review.case_id]
        output = review.output if isinstance(review.output, str) else case["output"]
        label = (
            {"up": "pass", "down": "fail"}.get(review.thumb) if isinstance(review.thumb, str) else int(review.rating)
        )
        items.append(
            LabeledItem(
                id=f"{review.case_id}/{review.reviewer}",
                input=case["inputs"] or {},
                output=output or "",
                expected=expected.get(review.case_id),
                human_label=label,
                reviewer=review.reviewer,
                notes=review.comment or None,
            )
        )
    return items


def write_labels(run: RunResult, settings: Settings, path: str | Path | None = None) -> Path:
    """`labeled_items` as a labeled JSONL file (default `<home>/review/labels/<run key>.jsonl`), written whole."""
    path = Path(path) if path else settings.home / "review" / "labels" / queue_path(run, settings).name
    items = labeled_items(run, settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text("".join(item.model_dump_json(exclude_none=True) + "\n" for item in items), encoding="utf-8")
    tmp.replace(path)
    return path


__all__ = ["RULES", "ReviewItem", "ReviewQueue", "labeled_items", "queue", "queues", "route", "write_labels"]
