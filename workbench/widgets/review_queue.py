"""ReviewQueue: work through a run's review queue. Display only: routing, the queue file and the labels (feedback
records) are `workbench.review`'s."""

from __future__ import annotations

from typing import Any

from ..errors import Failure, WorkbenchError
from ..results import RunResult
from ..review import ReviewQueue as Queue
from ..settings import Settings
from .base import View
from .html import badge, esc, score_badge, table


class ReviewQueue(View):
    """The queued cases of `run`, each with why it was routed, its answer, the retrieved context, the scores and its
    label. `label(case_id, "pass" | "fail", rating=, correction=)` or the widget's one-click buttons record a label as
    feedback of the run, where calibration (`workbench calibrate --reviewed`) and harvest read it."""

    def __init__(self, run: RunResult, reviewer: str | None = None, settings: Settings | None = None):
        self.queue = Queue(run, settings, reviewer)
        self.run = run
        cases = run.record.sort_values("repeat").drop_duplicates("case_id")
        self.cases = {row["case_id"]: row for row in cases.to_dict("records")}

    @property
    def case_ids(self) -> list[str]:
        return [item.case_id for item in self.queue.items()]

    def label(
        self,
        case_id: str,
        verdict: str | None = None,
        rating: int | None = None,
        correction: str | None = None,
        comment: str = "",
    ) -> Any:
        """Record a label (see `review.ReviewQueue.label`) and refresh the view."""
        if case_id not in self.case_ids:
            raise WorkbenchError(
                f"review: case '{case_id}' is not queued for run {self.run.run_id or self.run.prompt_ref}"
            )
        feedback = self.queue.label(case_id, verdict, rating, correction, comment)
        if self._widget is not None:
            self._table.value = self.html()
        return feedback

    def case_html(self, case_id: str, reasons: list[str]) -> str:
        """One case: why it was routed, its inputs, answer, scores and retrieved chunks, every text escaped."""
        row = self.cases[case_id]
        why = "".join(badge(reason, "warn") for reason in reasons)
        inputs = "".join(f"<div><b>{esc(k)}</b>: {esc(v)}</div>" for k, v in (row["inputs"] or {}).items())
        answer = (
            f'<div class="wb-error">error: {esc(row["error"])}</div>'
            if isinstance(row["error"], str)
            else f'<pre class="wb-text">{esc(row["output"])}</pre>'
        )
        scores = " ".join(
            score_badge(s["scorer"], s["value"], s["passed"])
            + (f' <span class="wb-muted">{esc(s["error"])}</span>' if isinstance(s["error"], str) else "")
            for s in row["scores"]
        )
        chunks = "".join(
            f"<details><summary>{esc(c.get('rank', i + 1))}. {esc(c.get('source'))}</summary>"
            f'<pre class="wb-text">{esc(c.get("text"))}</pre></details>'
            for i, c in enumerate(row["chunks"] or [])
        )
        return f"<div><b>{esc(case_id)}</b> {why}</div>{inputs}{answer}<div>{scores}</div>" + (
            f"<div><b>context</b>{chunks}</div>" if chunks else ""
        )

    def render(self) -> str:
        status = self.queue.status()
        rows = []
        for item, state in zip(self.queue.items(), status.itertuples()):
            label = (
                ""
                if not state.reviewed
                else (
                    (
                        badge(state.label, "good" if state.label == "pass" else "bad")
                        if isinstance(state.label, str)
                        else ""
                    )
                    + (badge(f"{state.rating}/5") if state.rating is not None else "")
                    + f' <span class="wb-muted">{esc(state.reviewer)}</span>'
                )
            )
            correction = esc(state.correction) if isinstance(state.correction, str) else ""
            rows.append([self.case_html(item.case_id, item.reasons), label, correction])
        head = (
            f"<div><b>{esc(self.run.prompt_ref)}</b> on {esc(self.run.dataset_ref)} · review queue: "
            f"{int(status['reviewed'].sum())} of {len(status)} reviewed · reviewer {esc(self.queue.reviewer)} · "
            f'<span class="wb-muted">{esc(self.queue.path)}</span></div>'
        )
        return head + table(rows, ["case", "label", "corrected answer"])

    def build(self) -> Any:
        import ipywidgets as w

        items = {item.case_id: item for item in self.queue.items()}
        if not items:
            return w.HTML(self.html())
        ids = list(items)
        case = w.Dropdown(options=ids, value=ids[0], description="case")
        detail = w.HTML()
        passed, failed = (
            w.Button(description="pass", button_style="success"),
            w.Button(description="fail", button_style="danger"),
        )
        rating = w.ToggleButtons(options=[(str(n), n) for n in range(1, 6)], value=None, description="rating")
        correction = w.Textarea(
            description="corrected",
            placeholder="optional: the answer it should have given",
            layout=w.Layout(width="70%"),
        )
        save_correction, status = w.Button(description="save correction"), w.Label()
        prev, nxt = w.Button(description="◀"), w.Button(description="▶")
        self._table = w.HTML(self.html())

        def show(_: Any = None) -> None:
            detail.value = f'<div class="wb-view">{self.case_html(case.value, items[case.value].reasons)}</div>'
            rating.unobserve(on_rating, names="value")
            rating.value = None
            rating.observe(on_rating, names="value")
            correction.value = ""

        def save(**label: Any) -> None:
            try:
                self.label(case.value, **label)
                status.value = f"saved {case.value}: " + ", ".join(
                    f"{k} {v}" for k, v in label.items() if v is not None
                )
            except Failure as exc:  # bad input or a store that failed: said on the status line
                status.value = str(exc)

        def on_rating(change: Any) -> None:
            if change["new"] is not None:
                save(rating=change["new"])

        def step(delta: int) -> None:
            case.value = ids[(ids.index(case.value) + delta) % len(ids)]

        case.observe(show, names="value")
        rating.observe(on_rating, names="value")
        passed.on_click(lambda _: save(verdict="pass"))
        failed.on_click(lambda _: save(verdict="fail"))
        save_correction.on_click(lambda _: save(correction=correction.value))
        prev.on_click(lambda _: step(-1))
        nxt.on_click(lambda _: step(1))
        show()
        return w.VBox(
            [
                w.HBox([prev, case, nxt]),
                detail,
                w.HBox([passed, failed]),
                rating,
                correction,
                save_correction,
                status,
                self._table,
            ]
        )
