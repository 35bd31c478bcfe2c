"""Metadata filters: a configuration's `retrieval.filters` as a Chroma `where` clause, and the same test in Python."""

from __future__ import annotations

from typing import Any

from ..errors import WorkbenchError

#: Metadata every chunk carries (see `chunking.split`); filters may name these.
KEYS = ("section", "source", "title", "format", "chunk", "start", "doc_hash", "chunks")
_SCALARS = (str, int, float, bool)


def where(filters: dict[str, Any]) -> dict[str, Any] | None:
    """`{"section": "billing"}` -> Chroma's where; a list value means any of its items."""
    clauses = []
    for key, value in filters.items():
        if key not in KEYS:
            raise WorkbenchError(f"retrieval.filters.{key}: unknown chunk metadata key; use one of {', '.join(KEYS)}")
        if isinstance(value, list):
            if not value or not all(isinstance(v, _SCALARS) for v in value):
                raise WorkbenchError(f"retrieval.filters.{key}: a list must hold one or more strings or numbers")
            clauses.append({key: {"$in": value}})
        elif isinstance(value, _SCALARS):
            clauses.append({key: {"$eq": value}})  # type: ignore[dict-item]
        else:
            raise WorkbenchError(
                f"retrieval.filters.{key}: use a string, a number or a list of them, not {type(value).__name__}"
            )
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


def matches(metadata: dict[str, Any], clause: dict[str, Any]) -> bool:
    """Evaluate a clause built by `where` against one chunk's metadata."""
    if "$and" in clause:
        return all(matches(metadata, c) for c in clause["$and"])
    ((key, test),) = clause.items()
    value = metadata.get(key)
    return value in test["$in"] if "$in" in test else value == test["$eq"]
