"""RetrievalInspector: a query box, k and mode controls, ranked chunks with per-retriever scores and sources,
and the passages that ground an answer highlighted."""

from __future__ import annotations

from typing import Any

import pandas as pd

from ..errors import Failure, WorkbenchError
from ..prompts import resolve
from ..prompts.schema import Retrieval
from ..rag import inspect
from ..rag.inspection import grounding
from ..rag.rerank import sentences
from ..settings import Settings
from .base import View
from .html import badge, esc, fmt, table

MODES = ("semantic", "bm25", "hybrid")


def as_retrieval(target: Any, settings: Settings) -> Retrieval:
    """A `Retrieval` block, a `Prompt` with one, or a configuration reference such as `rag-support@1.1.0`."""
    if isinstance(target, Retrieval):
        return target
    if isinstance(target, str):
        target = resolve(target, settings.prompts_dir)
    retrieval = getattr(getattr(target, "spec", None), "retrieval", None)
    if retrieval is None:
        raise WorkbenchError(
            f"RetrievalInspector: {getattr(target, 'ref', target)!s} has no retrieval block; "
            "pass a RAG configuration such as rag-support@1.1.0 or its spec.retrieval"
        )
    return retrieval


def spans(text: str, passages: list[str]) -> list[tuple[int, int]]:
    """Where each passage occurs in `text` (in order, non-overlapping); passages not found are skipped."""
    out: list[tuple[int, int]] = []
    at = 0
    for passage in passages:
        start = text.find(passage, at)
        if start < 0:
            start = text.find(passage)
            if start < 0 or any(s < start + len(passage) and start < e for s, e in out):
                continue
        out.append((start, start + len(passage)))
        at = start + len(passage)
    return sorted(out)


def mark(text: str, regions: list[tuple[int, int]]) -> str:
    """`text` escaped, with each region wrapped in <mark>."""
    out, at = [], 0
    for start, end in regions:
        out.append(esc(text[at:start]))
        out.append(f'<mark class="wb-ground">{esc(text[start:end])}</mark>')
        at = end
    out.append(esc(text[at:]))
    return "".join(out)


def grounding_passages(text: str, answer: str, threshold: float) -> list[str]:
    """The sentences of a chunk at least `threshold` similar to some sentence of the answer."""
    parts = sentences(text)
    if not parts or not answer:
        return []
    return [s for s, score in zip(parts, grounding(parts, answer)) if score >= threshold]


def render_inspection(chunks: pd.DataFrame, query: str, retrieval: Retrieval) -> str:
    """The ranked chunks: rank, source, per-retriever scores, grounding, text with grounding passages marked."""
    answer, threshold = chunks.attrs.get("answer"), chunks.attrs.get("threshold", 0.6)
    score_columns = [c for c in chunks.columns if c.startswith("score_")]
    head = (
        f"<div><b>query</b>: {esc(query)} · mode {badge(retrieval.mode)} k {badge(retrieval.k)} "
        f"rerank {badge(retrieval.rerank)} · corpus {esc(retrieval.corpus)}</div>"
    )
    if answer:
        grounded = int(chunks["grounds"].sum())
        head += (
            f'<div><b>answer</b>: <span class="wb-text">{esc(answer)}</span> '
            f"{badge(f'{grounded} of {len(chunks)} chunks ground it', 'good' if grounded else 'warn')}</div>"
        )
    if chunks.empty:
        return head + '<div class="wb-muted">no chunks retrieved</div>'
    rows, classes = [], []
    for _, c in chunks.iterrows():
        text = str(c["text"])
        regions = spans(text, grounding_passages(text, answer, threshold)) if answer and c["grounds"] else []
        rows.append(
            [
                esc(c["rank"]),
                esc(c["source"]),
                *[fmt(c[s]) for s in score_columns],
                fmt(c["grounding"]) + (" " + badge("grounds", "good") if c["grounds"] else ""),
                f'<div class="wb-text wb-wide">{mark(text, regions)}</div>',
            ]
        )
        classes.append("wb-grounds" if c["grounds"] else "")
    header = ["rank", "source", *[s.removeprefix("score_") for s in score_columns], "grounding", "text"]
    return head + table(rows, header, numeric=range(2, 3 + len(score_columns)), row_classes=classes)


class RetrievalInspector(View):
    """Retrieve for a query with a configuration's retrieval settings; change k and the mode; paste an answer
    to see which passages ground it. `retrieval` is a `Retrieval`, a `Prompt`, or a reference like `rag-support@1.1.0`."""

    def __init__(
        self,
        retrieval: Any,
        settings: Settings | None = None,
        query: str = "",
        answer: str = "",
        k: int | None = None,
        mode: str | None = None,
    ):
        self.settings = settings or Settings.load()
        self.base = as_retrieval(retrieval, self.settings)
        self.query, self.answer = query, answer
        self.k, self.mode = k or self.base.k, mode or self.base.mode
        self.chunks: pd.DataFrame | None = None
        if query:
            self.search()

    @property
    def retrieval(self) -> Retrieval:
        """The configuration's retrieval block with the chosen k and mode."""
        if self.mode not in MODES:
            raise WorkbenchError(f"mode: '{self.mode}' is not a retrieval mode; use one of {', '.join(MODES)}")
        return Retrieval.model_validate({**self.base.model_dump(), "k": self.k, "mode": self.mode})

    def search(
        self, query: str | None = None, answer: str | None = None, k: int | None = None, mode: str | None = None
    ) -> pd.DataFrame:
        """Retrieve now; returns the chunks frame (see `workbench.rag.inspect`)."""

        self.query = self.query if query is None else query
        self.answer = self.answer if answer is None else answer
        self.k, self.mode = k or self.k, mode or self.mode
        if not self.query.strip():
            raise WorkbenchError("RetrievalInspector: the query is empty; type a question")
        self.chunks = inspect(self.query, retrieval=self.retrieval, settings=self.settings, answer=self.answer or None)
        if self._widget is not None:
            self._body.value = self.html()
        return self.chunks

    def render(self) -> str:
        if self.chunks is None:
            return '<div class="wb-muted">type a query and press retrieve</div>'
        return render_inspection(self.chunks, self.query, self.retrieval)

    def build(self) -> Any:
        import ipywidgets as w

        query = w.Text(value=self.query, description="query", layout=w.Layout(width="60%"))
        k = w.IntSlider(value=self.k, min=1, max=20, description="k")
        mode = w.Dropdown(options=list(MODES), value=self.mode, description="mode")
        answer = w.Textarea(
            value=self.answer,
            description="answer",
            placeholder="optional: an answer to ground",
            layout=w.Layout(width="60%"),
        )
        button, status = w.Button(description="retrieve", button_style="primary"), w.Label()
        self._body = w.HTML(self.html())

        def run(_: Any = None) -> None:
            try:
                self.search(query.value, answer.value, k.value, mode.value)
                status.value = ""
            except Failure as exc:  # bad input or a store that failed: said on the status line
                status.value = str(exc)

        button.on_click(run)
        return w.VBox([query, w.HBox([k, mode]), answer, w.HBox([button, status]), self._body])
