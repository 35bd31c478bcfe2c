"""Text checks shared by scorers and guardrails: whitespace-folded matching and JSON Schema conformance."""

from __future__ import annotations

import json
import re
from typing import Any


def normalise(text: str, ignore_case: bool = True) -> str:
    """Whitespace collapsed (and casefolded unless `ignore_case` is False), for containment checks."""
    text = re.sub(r"\s+", " ", text).strip()
    return text.casefold() if ignore_case else text


def json_payload(text: str) -> Any:
    """The JSON in an output, allowing a fenced ```json block around it; raises `json.JSONDecodeError`."""
    fenced = re.search(r"```(?:json)?\s*(.*?)```", text, re.DOTALL)
    return json.loads(fenced.group(1) if fenced else text)


def schema_problem(text: str, schema: dict[str, Any]) -> str | None:
    """Why `text` is not JSON conforming to `schema`, or None when it is."""
    try:
        payload = json_payload(text)
    except json.JSONDecodeError as exc:
        return f"not JSON: {exc.msg}"
    import jsonschema  # imported when a schema is checked: jsonschema's own imports take seconds

    errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(payload), key=lambda e: list(e.path))
    if not errors:
        return None
    where = "/".join(map(str, errors[0].path)) or "(root)"
    return f"{where}: {errors[0].message}" + (f" (+{len(errors) - 1} more)" if len(errors) > 1 else "")
