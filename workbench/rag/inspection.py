"""Inspection data: the chunks behind one answer as a DataFrame, and which of them ground the answer."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..errors import WorkbenchError
from ..prompts.schema import Retrieval
from ..settings import Settings
from .embeddings import Embedder
from .rerank import sentence_vectors, sentences
from .retriever import retriever_for

#: A chunk grounds the answer when some answer sentence is at least this similar to one of its sentences.
GROUNDING_THRESHOLD = 0.6


def inspect(
    target: Any,
    case_id: str | None = None,
    *,
    retrieval: Retrieval | None = None,
    settings: Settings | None = None,
    answer: str | None = None,
    threshold: float = GROUNDING_THRESHOLD,
) -> pd.DataFrame:
    """The retrieved chunks, one row each: rank, source, per-retriever scores, text, grounding.

    `inspect(run_result, "case-id")` reads the case's recorded `chunks` and answer (the run's output);
    `inspect("free query", retrieval=..., settings=...)` retrieves now (pass `answer=` to check grounding);
    `inspect(list_of_chunk_dicts, answer=...)` takes chunks as recorded.
    """
    if isinstance(target, str):
        if retrieval is None:
            raise WorkbenchError("inspect(query): pass retrieval= (a configuration's Retrieval block) to retrieve")

        chunks = retriever_for(retrieval, settings or Settings.load()).retrieve(target)
    elif isinstance(target, list):
        chunks = target
    else:
        chunks, recorded = _from_run(target, case_id)
        answer = recorded if answer is None else answer
    return frame(chunks, answer, threshold)


def frame(chunks: list[dict[str, Any]], answer: str | None, threshold: float = GROUNDING_THRESHOLD) -> pd.DataFrame:
    names = list(dict.fromkeys(name for c in chunks for name in c.get("scores", {})))
    rows = [
        {
            "rank": c.get("rank", i),
            "source": c.get("source"),
            **{f"score_{n}": c.get("scores", {}).get(n, np.nan) for n in names},
            "text": c.get("text", ""),
            "id": c.get("id"),
            "section": c.get("metadata", {}).get("section"),
        }
        for i, c in enumerate(chunks, start=1)
    ]
    table = pd.DataFrame(rows, columns=["rank", "source", *[f"score_{n}" for n in names], "text", "id", "section"])
    similarity = grounding([c.get("text", "") for c in chunks], answer) if answer and chunks else None
    table["grounding"] = similarity if similarity is not None else np.nan
    table["grounds"] = (table["grounding"] >= threshold) if similarity is not None else False
    table.attrs["answer"] = answer
    table.attrs["threshold"] = threshold
    return table


def grounding(texts: list[str], answer: str) -> list[float]:
    """Per chunk: the highest cosine similarity between any answer sentence and any sentence of the chunk."""
    embedder = Embedder()
    answer_vectors = embedder.encode(sentences(answer) or [answer])
    return [float((answer_vectors @ vectors.T).max()) for vectors in sentence_vectors(texts, embedder)]


def _from_run(result: Any, case_id: str | None) -> tuple[list[dict[str, Any]], str | None]:
    cases = result.cases() if hasattr(result, "cases") else result
    if case_id is None:
        raise WorkbenchError("inspect(run): pass the case id, such as inspect(result, 'billing-refund')")
    row = cases[cases["case_id"] == case_id]
    if row.empty:
        raise WorkbenchError(f"inspect: case '{case_id}' is not in this run; cases: {', '.join(cases['case_id'][:10])}")
    chunks = row.iloc[0]["chunks"]
    if chunks is None:
        raise WorkbenchError(
            f"inspect: case '{case_id}' has no retrieved chunks; its configuration has no retrieval block"
        )
    output = row.iloc[0]["output"]
    return chunks, (output if isinstance(output, str) and output else None)
