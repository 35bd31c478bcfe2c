"""ComparisonView: two runs side by side per case, with a word-level diff, score badges and chunks on demand."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import pandas as pd

from ..datasets import load_dataset
from ..errors import WorkbenchError
from ..settings import Settings
from .base import View
from .cases import SORTS, CaseQuery, Page, case_table, select, tags_of
from .html import badge, esc, fmt, score_badge, table, word_diff

ALL = "(all)"


def load_case_dataset(comparison: Any, settings: Settings | None = None) -> Any:
    """The golden dataset the runs used (for inputs and expected answers), or None when it is not available
    in this project or its content changed since the runs."""

    settings = settings or Settings.load()
    try:
        dataset = load_dataset(comparison.candidate.dataset_ref, settings.datasets_dir)
    except WorkbenchError:
        return None
    return dataset if dataset.hash == comparison.candidate.dataset_hash else None


def render_chunks(chunks: list[dict[str, Any]]) -> str:
    """Retrieved chunks as a table: rank, source, per-retriever scores, text."""
    if not chunks:
        return '<span class="wb-muted">no chunks retrieved</span>'
    names = list(dict.fromkeys(n for c in chunks for n in (c.get("scores") or {})))
    rows = [
        [
            esc(c.get("rank", i)),
            esc(c.get("source")),
            *[fmt((c.get("scores") or {}).get(n)) for n in names],
            f'<div class="wb-text wb-wide">{esc(c.get("text"))}</div>',
        ]
        for i, c in enumerate(chunks, start=1)
    ]
    return table(rows, ["rank", "source", *names, "text"], numeric=range(2, 2 + len(names)))


def render_case(row: pd.Series, baseline: str, candidate: str) -> str:
    """One case card: tags, inputs, expected answer, both outputs with the word diff, score badges, chunks."""
    changes = []
    for name, s in row["scores"].items():
        kind = {"improved": "good", "degraded": "bad", "failed": "warn"}.get(s["change"], "neutral")
        diff = "" if not isinstance(s["diff"], float) or math.isnan(s["diff"]) else f" {s['diff']:+.2f}"
        changes.append(badge(f"{name}{diff}", kind, s["change"]))
    head = (
        f"<h4>{esc(row['case_id'])} "
        + "".join(badge(t) for t in row["tags"])
        + " "
        + (badge("regressed", "bad") if row["regressed"] else "")
        + "</h4>"
    )
    parts = [head]
    if isinstance(row["inputs"], dict):
        inputs = "".join(
            f'<div><b>{esc(k)}</b>: <span class="wb-text">{esc(v)}</span></div>' for k, v in row["inputs"].items()
        )
        parts.append(inputs)
        if isinstance(row["expected"], str) and row["expected"]:
            parts.append(f'<div><b>expected</b>: <span class="wb-text">{esc(row["expected"])}</span></div>')
    else:
        parts.append(
            '<div class="wb-muted">inputs unavailable: the dataset file is not in this project or changed</div>'
        )
    left, right = word_diff(row["baseline_output"], row["candidate_output"])
    sides = []
    for label, ref, text, error, key in [
        ("baseline", baseline, left, row["baseline_error"], "baseline"),
        ("candidate", candidate, right, row["candidate_error"], "candidate"),
    ]:
        badges = "".join(score_badge(n, s[key]) for n, s in row["scores"].items())
        body = (
            f'<div class="wb-error">error: {esc(error)}</div>'
            if isinstance(error, str)
            else f'<pre class="wb-text">{text}</pre>'
        )
        sides.append(f'<div><b>{label}</b> <span class="wb-muted">{esc(ref)}</span>{body}<div>{badges}</div></div>')
    parts.append(f'<div class="wb-cols">{"".join(sides)}</div>')
    parts.append(f"<div>change: {''.join(changes) or badge('not scored')}</div>")
    b_chunks, c_chunks = row["baseline_chunks"], row["candidate_chunks"]
    if b_chunks or c_chunks:
        parts.append(
            f"<details><summary>retrieved chunks (baseline {len(b_chunks)}, candidate {len(c_chunks)})</summary>"
            f'<div class="wb-cols"><div>{render_chunks(b_chunks)}</div><div>{render_chunks(c_chunks)}</div></div>'
            "</details>"
        )
    return f'<div class="wb-case">{"".join(parts)}</div>'


def render_page(page: Page, query: CaseQuery, baseline: str, candidate: str, dataset_ref: str) -> str:
    filters = [
        f
        for f in [
            "regressed only" if query.regressed_only else "",
            f"tag {query.tag}" if query.tag else "",
            f"scorer {query.scorer}" if query.scorer else "",
        ]
        if f
    ]
    shown = f"{page.first + 1}–{page.first + len(page.rows)}" if len(page.rows) else "0"
    head = (
        f"<div><b>{esc(baseline)}</b> → <b>{esc(candidate)}</b> on {esc(dataset_ref)}: cases {shown} of "
        f"{page.matching}"
        + (f" matching ({esc(', '.join(filters))}; {page.total} in all)" if filters else "")
        + f", sorted by {esc(SORTS[query.sort])}, page {page.page + 1} of {page.pages}</div>"
    )
    cards = "".join(render_case(row, baseline, candidate) for _, row in page.rows.iterrows())
    return head + (cards or '<div class="wb-muted">no case matches the filters</div>')


class ComparisonView(View):
    """Browse a `Comparison` case by case: filters (regressed only, tag, scorer), sort by score difference, pages.

    `dataset` supplies inputs and expected answers (default: the runs' dataset in this project, when its hash matches).
    """

    def __init__(
        self,
        comparison: Any,
        dataset: Any = None,
        settings: Settings | None = None,
        regressed_only: bool = False,
        tag: str | None = None,
        scorer: str | None = None,
        sort: str = "worst",
        page_size: int = 10,
    ):
        self.comparison = comparison
        self.dataset = dataset if dataset is not None else load_case_dataset(comparison, settings)
        self.table = case_table(comparison, self.dataset)
        self.query = CaseQuery(regressed_only=regressed_only, tag=tag, scorer=scorer, sort=sort, page_size=page_size)
        self.page = select(self.table, self.query)  # validates the query

    def update(self, **changes: Any) -> Page:
        """Change filters, sort or page (`view.update(tag="billing", page=0)`); returns the page now shown."""
        query = replace(self.query, **changes)
        page = select(self.table, query)
        self.query, self.page = replace(query, page=page.page), page
        if self._widget is not None:
            self._refresh()
        return page

    def render(self) -> str:
        c = self.comparison
        return render_page(
            self.page, self.query, c.baseline.prompt_ref, c.candidate.prompt_ref, c.candidate.dataset_ref
        )

    def build(self) -> Any:
        import ipywidgets as w

        scorers = sorted({s for per in self.table["scores"] for s in per})
        self._controls = {
            "regressed_only": w.Checkbox(value=self.query.regressed_only, description="regressed only", indent=False),
            "tag": w.Dropdown(options=[ALL, *tags_of(self.table)], value=self.query.tag or ALL, description="tag"),
            "scorer": w.Dropdown(options=[ALL, *scorers], value=self.query.scorer or ALL, description="scorer"),
            "sort": w.Dropdown(
                options=[(label, key) for key, label in SORTS.items()], value=self.query.sort, description="sort"
            ),
        }
        self._prev, self._next = w.Button(description="◀ previous"), w.Button(description="next ▶")
        self._label, self._body = w.Label(), w.HTML()
        self._syncing = False

        def changed(name: str, value: Any) -> None:
            if not self._syncing:  # a person changed the control, not _refresh
                self.update(page=0, **{name: None if value == ALL else value})

        for name, control in self._controls.items():
            control.observe(lambda change, name=name: changed(name, change["new"]), names="value")
        self._prev.on_click(lambda _: self.update(page=self.query.page - 1))
        self._next.on_click(lambda _: self.update(page=self.query.page + 1))
        box = w.VBox([w.HBox(list(self._controls.values())), w.HBox([self._prev, self._label, self._next]), self._body])
        self._widget = box
        self._refresh()
        return box

    def _refresh(self) -> None:
        self._syncing = True  # controls follow programmatic updates (view.update(tag=...))
        try:
            for name, control in self._controls.items():
                value = getattr(self.query, name)
                control.value = ALL if value is None else value
        finally:
            self._syncing = False
        self._label.value = f"page {self.page.page + 1} of {self.page.pages}"
        self._prev.disabled = self.page.page == 0
        self._next.disabled = self.page.page >= self.page.pages - 1
        self._body.value = self.html()
