"""Judge calibration: how often does a judge (any scorer) agree with people on a labeled set?

A labeled set is JSONL, one human decision a line: id, input, output, expected (optional),
human_label ("pass"/"fail" or a 1-5 grade), reviewer, notes (optional). Grades count as a pass at
`pass_at` (4 by default). The scorer grades every item; agreement is measured on the items it graded
(accuracy, Cohen's kappa and the confusion matrix from scikit-learn, plus how many failures it
catches); items it could not grade are counted as coverage, never as agreement. Kappa comes with a
percentile bootstrap interval over the graded items (`kappa_low`, `kappa_high`: 2,000 seeded resamples,
95%); the gate trusts a judge on the interval's lower bound. With 1-5 labels and a
judge that grades on a scale (`low`/`high` arguments, as `llm_judge`), grades are also compared
directly (exact, within one, quadratic-weighted kappa).
A threshold sweep shows where a numeric judge's pass line agrees best with people.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .aio import run_sync
from .datasets import Case
from .jsonl import read_jsonl
from .mlflow_store import client
from .run_context import build_scorers
from .runner import score_sample
from .scorers import Sample
from .settings import Settings
from .tracking import experiment_id

LABELS = ["pass", "fail"]
#: the bootstrap of kappa's interval: resamples, confidence, seed (the same items give the same interval)
RESAMPLES, CONFIDENCE, SEED = 2000, 0.95, 0


class LabeledItem(BaseModel):
    """One human decision about one answer."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str = Field(min_length=1)
    input: str | dict[str, Any]
    output: str
    expected: str | None = None
    human_label: Literal["pass", "fail"] | int = Field(union_mode="left_to_right")
    reviewer: str = Field(min_length=1)
    notes: str | None = None

    @field_validator("human_label", mode="wrap")
    @classmethod
    def _label(cls, value: Any, handler: Any) -> str | int:
        try:
            label = handler(value)
        except ValidationError:
            raise ValueError('write "pass", "fail" or a grade from 1 to 5') from None
        if isinstance(label, int) and not 1 <= label <= 5:
            raise ValueError(f'{label} is outside 1-5; write "pass", "fail" or 1-5')
        return label


def load_labels(path: str | Path) -> list[LabeledItem]:
    """Every labeled item; any bad line is named with its field and fix."""
    return [row.value for row in read_jsonl(path, LabeledItem, what="labeled set", unique="id")]


@dataclass
class CalibrationReport:
    """Agreement of one scorer with human labels; `frame` holds one row per item."""

    scorer: dict[str, Any]
    labels_path: str
    labels_hash: str
    frame: pd.DataFrame
    pass_at: int = 4
    metrics: dict[str, float] = field(default_factory=dict)
    confusion: pd.DataFrame = field(default_factory=pd.DataFrame)
    thresholds: pd.DataFrame = field(default_factory=pd.DataFrame)
    by_reviewer: pd.DataFrame = field(default_factory=pd.DataFrame)

    def report(self) -> str:
        m = self.metrics
        lines = [
            f"{self.scorer['name']} {json.dumps(self.scorer.get('args', {}))} on {self.labels_path}",
            f"items {m['n']:.0f}  graded {m['graded']:.0f} (coverage {m['coverage']:.2f})  "
            f"accuracy {m['accuracy']:.3f}  Cohen's kappa {m['kappa']:.3f} "
            f"[{CONFIDENCE:.0%} CI {m['kappa_low']:.3f}, {m['kappa_high']:.3f}]",
            f"judge pass rate {m['judge_pass_rate']:.2f} vs human {m['human_pass_rate']:.2f}  "
            f"failures caught {m['fail_recall']:.2f}  fail precision {m['fail_precision']:.2f}",
        ]
        if m["coverage"] < 0.8:
            lines.append(
                f"WARNING: the judge graded only {m['graded']:.0f} of {m['n']:.0f} items; agreement on so few "
                "says little (see the errors column for its raw answers)"
            )
        if "grade_exact" in m:
            lines.append(
                f"grades: exact {m['grade_exact']:.2f}  within one {m['grade_within_one']:.2f}  "
                f"quadratic kappa {m['grade_kappa_quadratic']:.3f}"
            )
        lines.append("confusion (rows human, columns judge):\n" + self.confusion.to_string())
        return "\n".join(lines)

    def log_to_mlflow(self, settings: Any, experiment: str = "judge-calibration") -> str:
        """One MLflow run: params, metrics, the items and confusion matrix as tables, a heat map. All or nothing."""
        from mlflow.entities import Metric, Param, RunTag

        project = client(settings)
        run_id = project.create_run(
            experiment_id(experiment, settings), run_name=f"{self.scorer['name']} on {Path(self.labels_path).name}"
        ).info.run_id
        try:
            facts = {
                "scorer": json.dumps(self.scorer),
                "labels.path": self.labels_path,
                "labels.hash": self.labels_hash,
                "labels.items": len(self.frame),
                "pass_at": self.pass_at,
                "kappa.interval": f"{CONFIDENCE:.0%} percentile bootstrap, {RESAMPLES} resamples, seed {SEED}",
            }
            tags = {"workbench.calibration": self.scorer["name"], "workbench.labels_hash": self.labels_hash}
            now = int(time.time() * 1000)
            project.log_batch(
                run_id,
                metrics=[Metric(k, float(v), now, 0) for k, v in self.metrics.items() if np.isfinite(v)],
                params=[Param(k, str(v)) for k, v in facts.items()],
                tags=[RunTag(k, v) for k, v in tags.items()],
            )
            project.log_table(
                run_id,
                self.frame.astype(object).where(self.frame.notna(), None),
                artifact_file="calibration/items.json",
            )
            project.log_table(
                run_id,
                self.confusion.rename_axis("human").reset_index(),
                artifact_file="calibration/confusion_matrix.json",
            )
            if len(self.thresholds):
                project.log_table(run_id, self.thresholds, artifact_file="calibration/thresholds.json")
            project.log_figure(run_id, self.plot_confusion(), "calibration/confusion_matrix.png")
        except BaseException:
            project.set_terminated(run_id, status="FAILED")
            project.delete_run(run_id)
            raise
        project.set_terminated(run_id)
        return run_id

    def plot_confusion(self) -> Any:
        """The confusion matrix as a heat map (a matplotlib Figure)."""
        from matplotlib.figure import Figure

        figure = Figure(figsize=(4, 3.2), layout="constrained")
        ax = figure.add_subplot()
        ax.imshow(self.confusion.to_numpy(), cmap="Blues")
        ax.set_xticks(range(len(self.confusion.columns)), [f"judge {c}" for c in self.confusion.columns])
        ax.set_yticks(range(len(self.confusion.index)), [f"human {i}" for i in self.confusion.index])
        for (i, j), value in np.ndenumerate(self.confusion.to_numpy()):
            ax.text(j, i, str(value), ha="center", va="center")
        m = self.metrics
        ax.set_title(
            f"{self.scorer['name']}: kappa {m['kappa']:.2f} [{m['kappa_low']:.2f}, {m['kappa_high']:.2f}]", fontsize=10
        )
        return figure


def calibrate(
    scorer_spec: Any,
    labeled_path: str | Path,
    pass_at: int = 4,
    threshold: float = 0.5,
    settings: Settings | None = None,
) -> CalibrationReport:
    """Grade every labeled item with the scorer and measure agreement with the human labels.

    A score's own `passed` decides pass/fail; otherwise a bool is the decision and a number passes at
    `threshold`. `pass_at` turns 1-5 human grades into pass/fail. A judge scorer resolves its configuration
    in the project of `settings` (default: the one found from the current folder).
    """
    scorer = build_scorers([scorer_spec], settings or Settings.load())[0]
    path = Path(labeled_path)
    items = load_labels(path)
    rows = run_sync(_grade(scorer, items))
    frame = pd.DataFrame(rows)
    frame["human_pass"] = frame["human_label"].map(lambda x: x == "pass" if isinstance(x, str) else x >= pass_at)
    frame["judge_pass"] = [_decision(r, threshold) for r in rows]
    frame["agree"] = [None if j is None else bool(h == j) for h, j in zip(frame["human_pass"], frame["judge_pass"])]
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    report = CalibrationReport(scorer.spec, str(path), digest, frame, pass_at)
    _measure(report, scorer)
    return report


async def _grade(scorer: Any, items: list[LabeledItem]) -> list[dict[str, Any]]:
    async def one(item: LabeledItem) -> dict[str, Any]:
        inputs = item.input if isinstance(item.input, dict) else {"input": item.input}
        case = Case(id=item.id, inputs=inputs, expected=item.expected)
        row = await score_sample(scorer, Sample(item.output, case), None)
        return {
            "id": item.id,
            "reviewer": item.reviewer,
            "human_label": item.human_label,
            "judge_value": row["value"],
            "judge_passed": row["passed"],
            "judge_label": row["label"],
            "reason": row["reason"],
            "error": row.get("error"),
        }

    return list(await asyncio.gather(*(one(item) for item in items)))


def _decision(row: dict[str, Any], threshold: float) -> bool | None:
    if row.get("error"):
        return None
    if row["judge_passed"] is not None:
        return bool(row["judge_passed"])
    if row["judge_label"] in LABELS:
        return row["judge_label"] == "pass"
    return None if row["judge_value"] is None or np.isnan(row["judge_value"]) else bool(row["judge_value"] >= threshold)


def _measure(report: CalibrationReport, scorer: Any) -> None:
    from sklearn.metrics import accuracy_score, cohen_kappa_score

    frame = report.frame
    graded = frame[frame["judge_pass"].notna()]
    human = graded["human_pass"].map({True: "pass", False: "fail"}).tolist()
    judge = graded["judge_pass"].map({True: "pass", False: "fail"}).tolist()
    report.metrics = {
        "n": float(len(frame)),
        "graded": float(len(graded)),
        "coverage": len(graded) / len(frame),
        "accuracy": accuracy_score(human, judge) if judge else np.nan,
        "kappa": _kappa(cohen_kappa_score, human, judge),
        **dict(zip(("kappa_low", "kappa_high"), kappa_interval(_passes(human), _passes(judge)))),
        "human_pass_rate": float(frame["human_pass"].mean()),
        "judge_pass_rate": float(np.mean([j == "pass" for j in judge])) if judge else np.nan,
    }
    caught = sum(h == j == "fail" for h, j in zip(human, judge))
    report.metrics["fail_recall"] = caught / human.count("fail") if human.count("fail") else np.nan
    report.metrics["fail_precision"] = caught / judge.count("fail") if judge.count("fail") else np.nan
    everything = frame["judge_pass"].map({True: "pass", False: "fail"}).fillna("error")
    confusion = pd.crosstab(frame["human_pass"].map({True: "pass", False: "fail"}), everything)
    report.confusion = confusion.reindex(
        index=LABELS, columns=LABELS + (["error"] if "error" in confusion else []), fill_value=0
    )
    values = graded["judge_value"].astype(float)
    if len(graded) and values.notna().all() and not set(values) <= {0.0, 1.0}:
        report.thresholds = _sweep(graded["human_pass"].to_numpy(bool), values.to_numpy())
    graded_on_scale = "low" in scorer.args and "high" in scorer.args  # a judge that grades (llm_judge), not any number
    if (
        len(graded)
        and graded_on_scale
        and frame["human_label"].map(lambda x: isinstance(x, int)).all()
        and values.notna().all()
    ):
        low, high = scorer.args.get("low", 1), scorer.args.get("high", 5)
        scaled = (
            low + values.to_numpy() * (high - low) if values.max() <= 1 else values.to_numpy()
        )  # 0..1 back to the scale
        grades = np.clip(np.rint(1 + (scaled - low) * 4 / (high - low)), 1, 5).astype(int)  # the scale onto 1-5
        people = graded["human_label"].to_numpy(int)
        report.frame.loc[graded.index, "judge_grade"] = grades
        report.metrics.update(
            {
                "grade_exact": float(np.mean(grades == people)),
                "grade_within_one": float(np.mean(np.abs(grades - people) <= 1)),
                "grade_kappa_quadratic": _kappa(
                    cohen_kappa_score, people, grades, weights="quadratic", labels=[1, 2, 3, 4, 5]
                ),
            }
        )
    if len(frame):
        report.by_reviewer = frame.groupby("reviewer").agg(
            items=("id", "size"),
            graded=("judge_pass", "count"),
            agreement=("agree", lambda s: s.dropna().astype(float).mean()),
        )


def _kappa(function: Any, a: list, b: list, **kwargs: Any) -> float:
    if not len(a):
        return np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(
            function(a, b, **({"labels": LABELS} if "labels" not in kwargs and isinstance(a[0], str) else {}), **kwargs)
        )


def _passes(labels: list[str]) -> np.ndarray:
    return np.array([label == "pass" for label in labels], bool)


def kappa_interval(
    human: np.ndarray, judge: np.ndarray, resamples: int = RESAMPLES, confidence: float = CONFIDENCE, seed: int = SEED
) -> tuple[float, float]:
    """Cohen's kappa's percentile bootstrap interval for pass/fail decisions (bool arrays, one pair per item).

    Items are resampled with replacement; a resample where kappa is undefined (both sides all pass or all fail)
    is left out. NaN for no items or when no resample defines kappa.
    """
    human, judge = np.asarray(human, bool), np.asarray(judge, bool)
    if not len(human):
        return np.nan, np.nan
    picks = np.random.default_rng(seed).integers(0, len(human), size=(resamples, len(human)))
    h, j = human[picks], judge[picks]
    agree = (h == j).mean(axis=1)
    ph, pj = h.mean(axis=1), j.mean(axis=1)
    chance = ph * pj + (1 - ph) * (1 - pj)
    with np.errstate(divide="ignore", invalid="ignore"):
        kappas = np.where(chance < 1, (agree - chance) / (1 - chance), np.nan)
    kappas = kappas[np.isfinite(kappas)]
    if not len(kappas):
        return np.nan, np.nan
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(kappas, [tail, 100 - tail])
    return float(low), float(high)


def _sweep(human_pass: np.ndarray, values: np.ndarray) -> pd.DataFrame:
    """Accuracy and kappa of a numeric judge at each pass line it could use."""
    from sklearn.metrics import cohen_kappa_score

    rows = []
    for cut in np.unique(values):
        judge = values >= cut
        rows.append(
            {
                "threshold": float(cut),
                "judge_pass_rate": float(judge.mean()),
                "accuracy": float((judge == human_pass).mean()),
                "kappa": _kappa(cohen_kappa_score, list(human_pass), list(judge)),
            }
        )
    return pd.DataFrame(rows)
