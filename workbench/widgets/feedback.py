"""FeedbackCollector: thumbs up/down, a rating, a comment and a correction per case of a run. Display only: the
store, the latest-review rule and the harvest into a new dataset version are `workbench.feedback`'s."""

from __future__ import annotations

from typing import Any

import pandas as pd

from ..datasets import load_dataset
from ..errors import Failure
from ..feedback import Feedback, FeedbackStore, Harvest, default_reviewer, feedback_path, harvest, select_cases
from ..settings import Settings
from .base import View
from .html import badge, esc, table

NONE = "–"


class FeedbackCollector(View):
    """Review a run's answers. `record(case_id, thumb=..., rating=..., comment=...)` or the widget's buttons write
    to `<home>/feedback/<run id>.jsonl`; `export()` writes the chosen cases as a new version of the run's dataset."""

    def __init__(
        self, run: Any, reviewer: str | None = None, settings: Settings | None = None, path: str | None = None
    ):
        self.run = run
        self.settings = settings or Settings.load()
        self.reviewer = reviewer or default_reviewer()
        self.store = FeedbackStore(path or feedback_path(run, self.settings), self.settings)
        cases = run.cases()
        self.cases = cases[cases["repeat"] == cases["repeat"].min()].reset_index(drop=True)

    @property
    def case_ids(self) -> list[str]:
        return list(self.cases["case_id"])

    def record(
        self,
        case_id: str,
        thumb: str | None = None,
        rating: int | None = None,
        comment: str = "",
        correction: str | None = None,
    ) -> Feedback:
        """Store one review of `case_id`'s answer (durably: the line is fsynced before this returns)."""
        feedback = self.store.append(
            Feedback.on_case(
                self.run,
                case_id,
                self.reviewer,
                self.cases,
                thumb=thumb,
                rating=rating,
                comment=comment,
                correction=correction or None,
            )
        )
        if self._widget is not None:
            self._table.value = self.html()
        return feedback

    def feedback(self) -> pd.DataFrame:
        """The current feedback, one row per case and reviewer."""
        return self.store.latest()

    def export(
        self,
        which: str = "down",
        into: Any = None,
        reviewed_by: str | None = None,
        failed: bool = False,
        guardrails: bool = False,
    ) -> Harvest:
        """Harvest the cases whose reviews match `which` (`down`, `up`, `low`, `rated<=N`, `all`), and with `failed` /
        `guardrails` also the run's failed / guardrail-triggering ones, into a new version of the run's dataset (or
        of `into`), as `workbench feedback harvest` does. `reviewed_by` keeps one reviewer's reviews only."""
        reviews = self.store.latest()
        if reviewed_by:
            reviews = reviews[reviews["reviewer"] == reviewed_by]
        source = load_dataset(self.run.dataset_ref, self.settings.datasets_dir)
        reasons = select_cases(self.run, reviews, failed=failed, guardrails=guardrails, which=which)
        return harvest(self.run, source, reasons, reviews, into=into, reviewer=self.reviewer)

    def render(self) -> str:
        latest = self.store.latest()
        mine = (
            {r.case_id: r for r in latest[latest["reviewer"] == self.reviewer].itertuples()} if not latest.empty else {}
        )
        rows = []
        for case in self.cases.itertuples():
            f = mine.get(case.case_id)
            thumb = (
                ""
                if f is None or not isinstance(f.thumb, str)
                else badge("👍 up" if f.thumb == "up" else "👎 down", "good" if f.thumb == "up" else "bad")
            )
            rating = "" if f is None or pd.isna(f.rating) else badge(f"{int(f.rating)}/5")
            answer = (
                f'<div class="wb-error">error: {esc(case.error)}</div>'
                if isinstance(case.error, str)
                else f'<div class="wb-text wb-wide">{esc(case.output)}</div>'
            )
            rows.append(
                [
                    esc(case.case_id),
                    answer,
                    thumb + rating,
                    esc(f.comment if f is not None else ""),
                    esc(f.correction if f is not None and isinstance(f.correction, str) else ""),
                ]
            )
        reviewed = len(mine)
        head = (
            f"<div><b>{esc(self.run.prompt_ref)}</b> on {esc(self.run.dataset_ref)} · reviewer {esc(self.reviewer)} · "
            f'{reviewed} of {len(self.cases)} cases reviewed · <span class="wb-muted">{esc(self.store.path)}</span></div>'
        )
        return head + table(rows, ["case", "answer", "feedback", "comment", "correction"])

    def build(self) -> Any:
        import ipywidgets as w

        ids = self.case_ids
        if not ids:
            return w.HTML(self.html())
        case = w.Dropdown(options=ids, value=ids[0], description="case")
        answer = w.HTML()
        thumb = w.ToggleButtons(
            options=[(NONE, None), ("👍 up", "up"), ("👎 down", "down")], value=None, description="thumb"
        )
        rating = w.ToggleButtons(
            options=[(NONE, None), *[(str(n), n) for n in range(1, 6)]], value=None, description="rating"
        )
        comment = w.Textarea(description="comment", layout=w.Layout(width="60%"))
        correction = w.Textarea(
            description="correction", placeholder="optional: a better answer", layout=w.Layout(width="60%")
        )
        save, prev, nxt = (
            w.Button(description="save", button_style="primary"),
            w.Button(description="◀"),
            w.Button(description="▶"),
        )
        which = w.Dropdown(options=["down", "up", "low", "rated<=2", "all"], value="down", description="export")
        export, status = w.Button(description="export as dataset version"), w.Label()
        self._table = w.HTML(self.html())

        def show(_: Any = None) -> None:
            row = self.cases[self.cases["case_id"] == case.value].iloc[0]
            text = f"error: {row['error']}" if isinstance(row["error"], str) else row["output"]
            answer.value = f'<div class="wb-view"><pre class="wb-text">{esc(text)}</pre></div>'
            latest = self.store.latest()
            mine = (
                latest[(latest["case_id"] == case.value) & (latest["reviewer"] == self.reviewer)]
                if not latest.empty
                else latest
            )
            last = mine.iloc[-1] if len(mine) else None
            thumb.value = last["thumb"] if last is not None and isinstance(last["thumb"], str) else None
            rating.value = int(last["rating"]) if last is not None and not pd.isna(last["rating"]) else None
            comment.value = last["comment"] if last is not None else ""
            correction.value = last["correction"] if last is not None and isinstance(last["correction"], str) else ""

        def on_save(_: Any) -> None:
            try:
                self.record(
                    case.value,
                    thumb=thumb.value,
                    rating=rating.value,
                    comment=comment.value,
                    correction=correction.value,
                )
                status.value = f"saved {case.value}"
            except Failure as exc:  # bad input or a store that failed: said on the status line
                status.value = str(exc)

        def on_export(_: Any) -> None:
            try:
                status.value = self.export(which=which.value).report()
            except Failure as exc:  # bad input or a store that failed: said on the status line
                status.value = str(exc)

        def step(delta: int) -> None:
            case.value = ids[(ids.index(case.value) + delta) % len(ids)]

        case.observe(show, names="value")
        save.on_click(on_save)
        export.on_click(on_export)
        prev.on_click(lambda _: step(-1))
        nxt.on_click(lambda _: step(1))
        show()
        return w.VBox(
            [
                w.HBox([prev, case, nxt]),
                answer,
                thumb,
                rating,
                comment,
                correction,
                w.HBox([save, which, export]),
                status,
                self._table,
            ]
        )
