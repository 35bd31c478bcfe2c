"""The logic behind ComparisonView, browser-free: one row per case, filters, sorting by score difference, pages."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import pandas as pd

from ..errors import WorkbenchError

#: Sort orders: the largest drop first, the largest gain first, or by case id.
SORTS = {"worst": "largest drop first", "best": "largest gain first", "case": "case id"}


@dataclass(frozen=True)
class CaseQuery:
    """What ComparisonView shows: filters, the sort order and the page (0-based)."""

    regressed_only: bool = False
    tag: str | None = None
    scorer: str | None = None  # restrict "regressed" and the sort key to this scorer
    sort: str = "worst"
    page: int = 0
    page_size: int = 10

    def __post_init__(self) -> None:
        if self.sort not in SORTS:
            raise WorkbenchError(f"sort: '{self.sort}' is not a sort order; use one of {', '.join(SORTS)}")
        if self.page_size < 1:
            raise WorkbenchError(f"page_size: {self.page_size} must be at least 1")


@dataclass(frozen=True)
class Page:
    rows: pd.DataFrame
    matching: int  # cases that pass the filters
    total: int  # cases in the comparison
    page: int  # the page shown (clamped)
    pages: int
    first: int  # the 0-based position of the page's first row among the matching cases


def parse_chunks(raw: Any) -> list[dict[str, Any]]:
    """A run's `chunks` cell (a list of chunk dicts, or None without retrieval) as a list."""
    return raw if isinstance(raw, list) else []


def _present(value: Any) -> bool:
    return not (value is None or (isinstance(value, float) and math.isnan(value)))


def _recorded_inputs(row: Any) -> dict[str, Any] | None:
    """The inputs as the run recorded them, when the dataset is not at hand."""
    value = row.get("inputs") if row is not None else None
    return value if isinstance(value, dict) else None


def case_table(comparison: Any, dataset: Any = None) -> pd.DataFrame:
    """One row per case: tags, inputs and expected answer (from `dataset`, when given; else the inputs the run
    recorded), both outputs and errors,
    both runs' retrieved chunks, per-scorer values with their change, the worst difference, and `regressed`.

    The first repeat's output stands for the case; the scores are the per-case means over repeats.
    """
    base = comparison.baseline.cases()
    cand = comparison.candidate.cases()
    base = base[base["repeat"] == base["repeat"].min()].set_index("case_id") if len(base) else base.set_index("case_id")
    cand = cand[cand["repeat"] == cand["repeat"].min()].set_index("case_id") if len(cand) else cand.set_index("case_id")
    golden = {c.id: c for c in dataset.cases} if dataset is not None else {}
    scores: dict[str, dict[str, dict[str, Any]]] = {}
    for row in comparison.cases.itertuples(index=False):
        scores.setdefault(row.case_id, {})[row.scorer] = {
            "baseline": row.baseline,
            "candidate": row.candidate,
            "diff": row.diff,
            "change": row.change,
        }
    rows = []
    for case_id in dict.fromkeys([*cand.index, *base.index]):
        b = base.loc[case_id] if case_id in base.index else None
        c = cand.loc[case_id] if case_id in cand.index else None
        case = golden.get(case_id)
        frame_tags = next((r["tags"] for r in (c, b) if r is not None and isinstance(r["tags"], str) and r["tags"]), "")
        tags = tuple(case.tags) if case is not None else tuple(t for t in frame_tags.split(",") if t)
        per = scores.get(case_id, {})
        diffs = [v["diff"] for v in per.values() if _present(v["diff"])]
        c_error = c["error"] if c is not None and _present(c["error"]) else None
        rows.append(
            {
                "case_id": case_id,
                "tags": tags,
                # the inputs as the run sent them (redacted when the configuration redacts), else the dataset's
                "inputs": _recorded_inputs(c if c is not None else b)
                or (dict(case.inputs) if case is not None else None),
                "expected": case.expected if case is not None else None,
                "baseline_output": b["output"] if b is not None and _present(b["output"]) else None,
                "candidate_output": c["output"] if c is not None and _present(c["output"]) else None,
                "baseline_error": b["error"] if b is not None and _present(b["error"]) else None,
                "candidate_error": c_error,
                "baseline_chunks": parse_chunks(b["chunks"]) if b is not None else [],
                "candidate_chunks": parse_chunks(c["chunks"]) if c is not None else [],
                "scores": per,
                "diff": min(diffs) if diffs else math.nan,
                "regressed": c_error is not None or any(v["change"] == "degraded" for v in per.values()),
            }
        )
    return pd.DataFrame(
        rows,
        columns=[
            "case_id",
            "tags",
            "inputs",
            "expected",
            "baseline_output",
            "candidate_output",
            "baseline_error",
            "candidate_error",
            "baseline_chunks",
            "candidate_chunks",
            "scores",
            "diff",
            "regressed",
        ],
    )


def tags_of(table: pd.DataFrame) -> list[str]:
    return sorted({t for tags in table["tags"] for t in tags})


def select(table: pd.DataFrame, query: CaseQuery) -> Page:
    """Filter, sort and cut one page; the page number is clamped to the pages there are."""
    if query.scorer is not None:
        known = {s for per in table["scores"] for s in per}
        if query.scorer not in known:
            raise WorkbenchError(
                f"scorer: '{query.scorer}' is not in this comparison; scorers: {', '.join(sorted(known))}"
            )
    rows = table
    if query.tag:
        rows = rows[rows["tags"].map(lambda tags: query.tag in tags)]
    if query.scorer is not None:
        rows = rows[rows["scores"].map(lambda per: query.scorer in per)]
        key = rows["scores"].map(lambda per: per[query.scorer]["diff"]).astype(float)
        regressed = rows["candidate_error"].notna() | rows["scores"].map(
            lambda per: per[query.scorer]["change"] == "degraded"
        )
    else:
        key = rows["diff"].astype(float)
        regressed = rows["regressed"]
    if query.regressed_only:
        rows, key = rows[regressed.astype(bool)], key[regressed.astype(bool)]
    if query.sort == "case":
        order = rows["case_id"].sort_values(kind="stable").index
    else:
        ascending = query.sort == "worst"
        order = key.sort_values(ascending=ascending, na_position="last", kind="stable").index
    rows = rows.loc[order]
    pages = max(1, math.ceil(len(rows) / query.page_size))
    page = min(max(query.page, 0), pages - 1)
    first = page * query.page_size
    shown = rows.iloc[first : first + query.page_size]
    return Page(rows=shown, matching=len(rows), total=len(table), page=page, pages=pages, first=first)


def turn(query: CaseQuery, step: int) -> CaseQuery:
    """The query on the next (+1) or previous (-1) page."""
    return replace(query, page=max(query.page + step, 0))
