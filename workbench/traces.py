"""MLflow traces of a run's cases, written after the run from what it recorded, so tracing never slows calls.

Each traced case is one trace linked to the run: a root span with the case's inputs and output, and
children for retrieval (query and chunks), the model call (messages, answer, tokens, latency, cost,
model, cache) and scoring (each scorer's value and reason). Every score is also an MLflow assessment on its
trace (feedback named after the scorer, with its value and rationale), which the MLflow UI's trace view and
`mlflow.search_traces` show. Traces go straight to the project's store, built on the workbench's own tracer.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

import pandas as pd

from .results import RunResult

DEFAULT_TRACES = 25
TRACE_BATCH = 100  # traces whose spans go to the store in one `log_spans` (one request to a server)


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
    tracking_uri: str,
    limit: int | None = DEFAULT_TRACES,
) -> int:
    """Write traces for the sampled calls into the store at `tracking_uri`, linked to the run `run_id`; returns how
    many. The traces are built in memory and written in batches (a trace row each, then the batch's spans at once),
    without MLflow's global tracer: nothing waits in a background queue and MLflow's global URI is not read."""
    from mlflow.tracing.client import TracingClient

    keys = sample_calls(result, limit)
    record = result.calls_of(keys)
    store = TracingClient(tracking_uri)
    for at in range(0, len(keys), TRACE_BATCH):
        batch = [
            _trace(result, dataset_cases, record.loc[k], k, experiment_id, run_id) for k in keys[at : at + TRACE_BATCH]
        ]
        for trace in batch:
            store.start_trace(trace.info)  # its tags, the run link and the assessments, in one write
        try:
            store.log_spans(experiment_id, [span for trace in batch for span in trace.data.spans])
        except NotImplementedError:  # a store without span logging keeps each trace's spans as an artifact
            for trace in batch:
                store._upload_trace_data(trace.info, trace.data)
    return len(keys)


def _trace(
    result: RunResult, dataset_cases: dict[str, Any], first: Any, key: tuple[str, int], experiment_id: str, run_id: str
) -> Any:
    """One case's trace: a root span with the case's inputs and output; children for retrieval, the model call and
    scoring; every score as feedback on the trace."""
    from mlflow.entities import Trace, TraceData, TraceInfo, TraceLocation, TraceState
    from mlflow.tracing.constant import (
        MAX_CHARS_IN_TRACE_INFO_METADATA,
        TRACE_SCHEMA_VERSION,
        TRACE_SCHEMA_VERSION_KEY,
        SpanAttributeKey,
        TraceMetadataKey,
        TraceTagKey,
    )
    from mlflow.tracing.utils import aggregate_usage_from_spans
    from mlflow.tracing.utils.truncation import set_request_response_preview

    case_id, repeat = key
    call, case = result.calls[key], dataset_cases[case_id]
    start = call["started_ns"]
    end = start + int((first["latency_s"] or 0) * 1e9)
    inputs = call.get("inputs", case.inputs)
    name = f"{result.prompt_ref} {case_id}"
    root = _span(name, "CHAIN", None, start, inputs)
    root.set_attributes(
        {"case_id": case_id, "repeat": str(repeat), "prompt": result.prompt_ref, "dataset": result.dataset_ref}
    )
    children = []
    if chunks := first["chunks"] or []:
        retrieval = _span("retrieval", "RETRIEVER", root, start, {"query": next(iter(inputs.values()), "")})
        children.append(_end(retrieval, {"chunks": chunks}, start))
    usage: dict[str, Any] = {
        "input_tokens": _int(first["input_tokens"]),
        "output_tokens": _int(first["output_tokens"]),
        "latency_s": float(first["latency_s"]),
        "cost_usd": _num(first["cost"]),
        "model": first["model"],
        "cached": bool(first["cached"]),
    }
    if usage["input_tokens"] is not None and usage["output_tokens"] is not None:  # MLflow's Tokens column
        usage[SpanAttributeKey.CHAT_USAGE] = {
            "input_tokens": usage["input_tokens"],
            "output_tokens": usage["output_tokens"],
            "total_tokens": usage["input_tokens"] + usage["output_tokens"],
        }
    model = _span(first["model"] or "model", "CHAT_MODEL", root, start, {"messages": call["messages"]})
    model.set_attributes(usage)
    children.append(_end(model, {"text": first["output"], "error": first["error"]}, end))
    scores = {score["scorer"]: {k: v for k, v in score.items() if k != "scorer"} for score in first["scores"]}
    children.append(_end(_span("scorers", "EVALUATOR", root, end, {"expected": case.expected}), scores, end))
    flags = {"error": first["error"], "guardrails": first["guardrails"], "blocked": bool(first["blocked"]) or None}
    root.set_attributes({k: v for k, v in flags.items() if v})
    root.set_status("ERROR" if first["error"] else "OK")
    spans = [_end(root, {"output": first["output"]}, end), *children]

    def preview(attribute: str) -> str:  # the traces list's Request and Response columns
        return json.dumps(spans[0].get_attribute(attribute), default=str)[:MAX_CHARS_IN_TRACE_INFO_METADATA]

    metadata = {
        TRACE_SCHEMA_VERSION_KEY: str(TRACE_SCHEMA_VERSION),
        TraceMetadataKey.SOURCE_RUN: run_id,
        TraceMetadataKey.INPUTS: preview(SpanAttributeKey.INPUTS),
        TraceMetadataKey.OUTPUTS: preview(SpanAttributeKey.OUTPUTS),
    }
    if tokens := aggregate_usage_from_spans(spans):
        metadata[TraceMetadataKey.TOKEN_USAGE] = json.dumps(tokens)
    info = TraceInfo(
        trace_id=root.trace_id,
        trace_location=TraceLocation.from_experiment_id(experiment_id),
        request_time=start // 1_000_000,
        execution_duration=(end - start) // 1_000_000,
        state=TraceState.ERROR if first["error"] else TraceState.OK,
        trace_metadata=metadata,
        tags={TraceTagKey.TRACE_NAME: name, CASE_TAG: case_id, REPEAT_TAG: str(repeat)},
        assessments=_feedback(root.trace_id, first["scores"]),
    )
    data = TraceData(spans)
    set_request_response_preview(info, data)
    return Trace(info, data)


def _span(name: str, kind: str, parent: Any, start: int, inputs: dict) -> Any:
    """A live MLflow span on the workbench's own tracer (never MLflow's global one: nothing exports it)."""
    from mlflow.entities import LiveSpan
    from mlflow.tracing.utils import generate_trace_id_v3
    from opentelemetry.trace import set_span_in_context

    context = set_span_in_context(parent._span) if parent is not None else None
    otel = _tracer().start_span(name, context=context, start_time=start)
    span = LiveSpan(otel, parent.trace_id if parent is not None else generate_trace_id_v3(otel), kind)
    span.set_inputs(inputs)
    return span


def _end(span: Any, outputs: dict, end: int) -> Any:
    """The span ended at `end` with its outputs, as the immutable span that is stored."""
    span.set_outputs(outputs)
    span._span.end(end_time=end)
    return span.to_immutable_span()


@lru_cache(maxsize=1)
def _tracer() -> Any:
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider

    return TracerProvider(resource=Resource.get_empty()).get_tracer("workbench.traces")


def _feedback(trace_id: str, scores: list[dict[str, Any]]) -> list[Any]:
    """Each score as feedback on the trace (what `mlflow.log_feedback` writes), stored with the trace."""
    from mlflow.entities import AssessmentError, AssessmentSource, AssessmentSourceType, Feedback

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
    return feedback


def assessment_value(score: dict[str, Any]) -> Any:
    """A pass/fail score (its value is its verdict) as a bool, a label as text, a number as a number."""
    value, passed = score["value"], score["passed"]
    if score["label"] is not None:
        return score["label"]
    if passed is not None and value == float(passed):
        return bool(passed)
    return None if value is None or pd.isna(value) else float(value)


def _int(value: Any) -> int | None:
    return None if pd.isna(value) else int(value)


def _num(value: Any) -> float | None:
    return None if pd.isna(value) else float(value)
