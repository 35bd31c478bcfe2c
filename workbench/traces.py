"""MLflow traces of a run's cases, written after the run from what it recorded, so tracing never slows calls.

Each traced case is one trace linked to the run: a root span with the case's inputs and output, and
children for retrieval (query and chunks), the model call (messages, answer, tokens, latency, cost,
model, cache) and scoring (each scorer's value and reason). Every score is also an MLflow assessment on its
trace (feedback named after the scorer, with its value and rationale), which the MLflow UI's trace view and
`mlflow.search_traces` show. The caller points MLflow at the project's store (`mlflow_store.scope`).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from .results import RunResult

DEFAULT_TRACES = 25


def sample_calls(result: RunResult, limit: int | None) -> list[tuple[str, int]]:
    """Which calls to trace: all when `limit` is None; otherwise errors, then failed checks, then the rest."""
    keys = list(result.calls)
    if limit is None or len(keys) <= limit:
        return keys
    frame = result.score_rows()
    flags = pd.DataFrame({"error": frame["error"].notna(), "failed": frame["passed"].eq(False).fillna(False)})
    worst = flags.groupby([frame["case_id"], frame["repeat"]], sort=False).any()
    rank = {key: (not row.error, not row.failed) for key, row in zip(worst.index, worst.itertuples())}
    return sorted(keys, key=lambda k: rank.get(k, (True, True)))[:limit]


CASE_TAG, REPEAT_TAG = "workbench.case_id", "workbench.repeat"  # trace tags: a case's trace is found by them


def log_traces(
    result: RunResult,
    dataset_cases: dict[str, Any],
    experiment_id: str,
    run_id: str,
    limit: int | None = DEFAULT_TRACES,
) -> int:
    """Write traces for the sampled calls, linked to the run `run_id`; returns how many."""
    import mlflow
    from mlflow.tracing.constant import TraceMetadataKey

    keys = sample_calls(result, limit)
    record = result.calls_of(keys)
    for case_id, repeat in keys:
        call, first = result.calls[(case_id, repeat)], record.loc[(case_id, repeat)]
        start = call["started_ns"]
        end = start + int((first["latency_s"] or 0) * 1e9)
        case = dataset_cases[case_id]
        root = mlflow.start_span_no_context(
            f"{result.prompt_ref} {case_id}",
            span_type="CHAIN",
            inputs=call.get("inputs", case.inputs),
            start_time_ns=start,
            experiment_id=experiment_id,
            tags={CASE_TAG: case_id, REPEAT_TAG: str(repeat)},
            metadata={TraceMetadataKey.SOURCE_RUN: run_id},
            attributes={
                "case_id": case_id,
                "repeat": str(repeat),
                "prompt": result.prompt_ref,
                "dataset": result.dataset_ref,
            },
        )
        chunks = first["chunks"] or []
        if chunks:
            _child(
                root,
                "retrieval",
                "RETRIEVER",
                {"query": next(iter(call.get("inputs", case.inputs).values()), "")},
                {"chunks": chunks},
                {},
                start,
                start,
            )
        usage: dict[str, Any] = {
            "input_tokens": _int(first["input_tokens"]),
            "output_tokens": _int(first["output_tokens"]),
            "latency_s": float(first["latency_s"]),
            "cost_usd": _num(first["cost"]),
            "model": first["model"],
            "cached": bool(first["cached"]),
        }
        if usage["input_tokens"] is not None and usage["output_tokens"] is not None:  # MLflow's Tokens column
            usage["mlflow.chat.tokenUsage"] = {
                "input_tokens": usage["input_tokens"],
                "output_tokens": usage["output_tokens"],
                "total_tokens": usage["input_tokens"] + usage["output_tokens"],
            }
        _child(
            root,
            first["model"] or "model",
            "CHAT_MODEL",
            {"messages": call["messages"]},
            {"text": first["output"], "error": first["error"]},
            usage,
            start,
            end,
        )
        scores = {score["scorer"]: {k: v for k, v in score.items() if k != "scorer"} for score in first["scores"]}
        _child(root, "scorers", "EVALUATOR", {"expected": case.expected}, scores, {}, end, end)
        _assess(root.trace_id, first["scores"])
        flags = {"error": first["error"], "guardrails": first["guardrails"], "blocked": bool(first["blocked"]) or None}
        root.end(
            outputs={"output": first["output"]},
            attributes={k: v for k, v in flags.items() if v} or None,
            status="ERROR" if first["error"] else "OK",
            end_time_ns=end,
        )
    return len(keys)


def _assess(trace_id: str, scores: list[dict[str, Any]]) -> None:
    """Each score as feedback on the trace, added before the trace ends so it is exported with it (no extra
    round trip to the store per score; what `mlflow.log_feedback` does for the active trace)."""
    from mlflow.entities import AssessmentError, AssessmentSource, AssessmentSourceType, Feedback
    from mlflow.tracing.trace_manager import InMemoryTraceManager

    feedback = []
    for score in scores:
        source = AssessmentSource(source_type=AssessmentSourceType.CODE, source_id=f"workbench:{score['scorer']}")
        metadata = {"passed": str(score["passed"]).lower()} if score["passed"] is not None else None
        error = AssessmentError(error_code="SCORER_ERROR", error_message=score["error"]) if score["error"] else None
        feedback.append(
            Feedback(
                name=score["scorer"],
                value=None if error else assessment_value(score),
                error=error,
                rationale=score["reason"] or None,
                source=source,
                metadata=metadata,
                trace_id=trace_id,
            )
        )
    with InMemoryTraceManager.get_instance().get_trace(trace_id) as trace:
        if trace is not None:
            trace.info.assessments.extend(feedback)


def assessment_value(score: dict[str, Any]) -> Any:
    """A pass/fail score (its value is its verdict) as a bool, a label as text, a number as a number."""
    value, passed = score["value"], score["passed"]
    if score["label"] is not None:
        return score["label"]
    if passed is not None and value == float(passed):
        return bool(passed)
    return None if value is None or pd.isna(value) else float(value)


def _child(parent, name: str, kind: str, inputs: dict, outputs: dict, attributes: dict, start: int, end: int) -> None:
    import mlflow

    span = mlflow.start_span_no_context(
        name, span_type=kind, parent_span=parent, inputs=inputs, attributes=attributes, start_time_ns=start
    )
    span.end(outputs=outputs, end_time_ns=end)


def _int(value: Any) -> int | None:
    return None if pd.isna(value) else int(value)


def _num(value: Any) -> float | None:
    return None if pd.isna(value) else float(value)
