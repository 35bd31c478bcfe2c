"""Run a configuration over a dataset: bounded concurrency, cache-aware, a progress bar, errors per case."""

from __future__ import annotations

import asyncio
import json
import math
import numbers
import threading
import time
from dataclasses import replace
from typing import Any, Coroutine, Protocol, TypeVar

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from .datasets import Case, Dataset
from .guardrails.policy import aapply_input_guardrails, aapply_output_guardrails
from .budget import Budget, BudgetGuard
from .models import ModelClient, Response
from .prompts import Prompt
from .results import COLUMNS, SCORER_ERROR, RunResult
from .scorers import Sample, Scorer

T = TypeVar("T")


class Retriever(Protocol):
    """What the runner needs of retrieval (built by `workbench.rag` from a configuration's retrieval block)."""

    def retrieve(self, query: str) -> list[dict[str, Any]]:
        """Ranked chunks: dicts with id, text, source, rank, scores (per retriever) and metadata."""

    def format(self, chunks: list[dict[str, Any]]) -> str:
        """The text that fills `{context}`."""

    def describe(self) -> dict[str, Any]:
        """Flat facts logged with the run (index identity and version, retrieval settings)."""


async def arun(prompt: Prompt, dataset: Dataset, scorers: list[Scorer], client: ModelClient,
               retriever: Retriever | None = None, repeats: int = 1, seed_offset: int = 0,
               budget: Budget | None = None, progress: bool = True) -> RunResult:
    """Evaluate every case `repeats` times; a model or scorer error is recorded on its case and the run completes.

    With `repeats` > 1 or a `seed_offset`, repeat r uses seed `configuration seed + seed_offset + r` and
    bypasses the cache, so the runs measure the model's non-determinism rather than replay it.
    With a `budget`, calls that would exceed it are not made: the result keeps what ran and says why it stopped.
    """
    dataset.check_variables(prompt.variables)
    start = time.perf_counter()
    calls_before = client.calls
    work = [(case, r) for case in dataset.cases for r in range(repeats)]
    rows: list[list[dict[str, Any]]] = [[] for _ in work]
    calls: dict[tuple[str, int], dict[str, Any]] = {}
    fresh = repeats > 1 or seed_offset != 0
    base_seed = prompt.spec.model.params.seed or 0

    guard = BudgetGuard(budget, prompt.spec.model.params.max_tokens, client.price) if budget else None
    retrieval, schema, policy = prompt.spec.retrieval, prompt.spec.output_schema, prompt.spec.guardrails
    if retrieval and retriever is None:
        raise ValueError(f"{prompt.ref} has a retrieval block; pass a retriever")

    async def one(index: int, case: Case, repeat: int) -> None:
        inputs, triggered = case.inputs, []
        if policy:
            checked = await aapply_input_guardrails(case.inputs, policy)
            inputs, triggered = checked.inputs, checked.triggered
            if checked.blocked:
                response = Response(text=policy.fallback_answer, model=prompt.spec.model.name, latency_s=0.0)
                return await record(index, case, repeat, response, [], inputs, triggered, blocked=True)
        chunks, context = [], None
        if retrieval:
            try:
                chunks = await asyncio.to_thread(retriever.retrieve, str(inputs[retrieval.query_variable]))
            except Exception as exc:  # a failed retrieval is this case's error; the run goes on
                response = Response(text=None, model=prompt.spec.model.name, latency_s=0.0,
                                    error=f"retrieval: {type(exc).__name__}: {exc}")
                return await record(index, case, repeat, response, [], inputs, triggered)
            context = retriever.format(chunks)
        messages = prompt.render(inputs, context=context)
        reservation = None
        if guard and (fresh or client.cached(messages) is None):  # cached answers spend nothing
            if reason := guard.over_request_limit(messages):
                response = Response(text=None, model=prompt.spec.model.name, latency_s=0.0, error=reason)
                return await record(index, case, repeat, response, chunks, inputs, triggered)
            if (reservation := await guard.reserve(messages)) is None:
                return  # the budget is spent: this call is not made
        calls[(case.id, repeat)] = {"messages": messages, "inputs": inputs, "started_ns": time.time_ns()}
        if fresh:
            response = await client.acall(messages, seed=base_seed + seed_offset + repeat, use_cache=False)
        else:
            response = await client.acall(messages)
        if reservation:
            await guard.settle(reservation, messages, response.input_tokens, response.output_tokens, response.cost,
                               response.cached)
        blocked = False
        if response.redactions:
            triggered = triggered + ["pii:output"]
        if policy and response.text is not None:
            checked_output = await aapply_output_guardrails(response.text, policy, schema)
            triggered, blocked = triggered + checked_output.triggered, checked_output.blocked
            response = replace(response, text=checked_output.text)
        await record(index, case, repeat, response, chunks, inputs, triggered, blocked)

    async def record(index: int, case: Case, repeat: int, response: Response, chunks: list, inputs: dict,
                     triggered: list[str], blocked: bool = False) -> None:
        base = {"repeat": repeat, "inputs": json.dumps(inputs, ensure_ascii=False),
                "guardrails": ",".join(dict.fromkeys(triggered)) or None, "blocked": blocked, "chunks": json.dumps(chunks) if retrieval else None, "case_id": case.id, "output": response.text, "error": response.error, "latency_s": response.latency_s,
                "input_tokens": response.input_tokens, "output_tokens": response.output_tokens, "cost": response.cost,
                "cached": response.cached, "model": response.model, "tags": ",".join(case.tags)}
        for scorer in scorers:
            rows[index].append({**base, **await score_sample(scorer, Sample(response.text or "", case, chunks, schema), response.error)})
        if not scorers:
            rows[index].append({**base, "scorer": None})

    with tqdm(total=len(work), desc=prompt.ref, unit="call", disable=not progress) as bar:
        async def tracked(index: int, case: Case, repeat: int) -> None:
            await one(index, case, repeat)
            bar.update()

        await asyncio.gather(*(tracked(i, case, r) for i, (case, r) in enumerate(work)))

    frame = pd.DataFrame([row for case_rows in rows for row in case_rows], columns=COLUMNS)
    skipped = sum(1 for case_rows in rows if not case_rows)
    frame = frame.astype({"repeat": "int64", "value": "float64", "passed": "boolean", "input_tokens": "Int64", "output_tokens": "Int64",
                          "cost": "float64", "cached": "bool", "blocked": "bool"})
    return RunResult(params=retriever.describe() if retrieval else {}, prompt_ref=prompt.ref, prompt_hash=prompt.hash, dataset_ref=dataset.ref, dataset_hash=dataset.hash,
                     frame=frame, scorers=[s.spec for s in scorers], model_calls=client.calls - calls_before,
                     duration_s=time.perf_counter() - start, repeats=repeats, seed_offset=seed_offset,
                     stopped=f"{guard.stopped}; {skipped} of {len(work)} calls not made" if guard and guard.stopped else None,
                     calls=calls)


async def score_sample(scorer: Scorer, sample: Sample, error: str | None = None) -> dict[str, Any]:
    """One scorer on one sample, as result-frame columns; a scorer that raises marks its row with the error."""
    row: dict[str, Any] = {"scorer": scorer.name, "value": None, "passed": None, "label": None, "reason": None}
    if error is not None:
        return row
    try:
        score = await scorer.score(sample)
    except Exception as exc:  # a broken scorer marks its rows, not the run
        return {**row, "error": f"{SCORER_ERROR}{scorer.name}: {type(exc).__name__}: {exc}"}
    value = score.value
    if isinstance(value, (bool, np.bool_)):
        row.update(value=float(value), passed=bool(value))
    elif isinstance(value, numbers.Real) and math.isfinite(value):
        row.update(value=float(value), passed=score.passed)
    elif isinstance(value, str):
        row.update(label=value)
    elif value is not None:  # NaN, inf, a dict...: this row's scorer error, never a number in the statistics
        shown = repr(value)[:80] if isinstance(value, numbers.Real) else type(value).__name__
        return {**row, "error": f"{SCORER_ERROR}{scorer.name}: returned {shown}; return a bool, a finite number, "
                                f"a label (str) or a Score"}
    row["reason"] = score.reason
    return row


def _run(coro: Coroutine[Any, Any, T]) -> T:
    """A fresh event loop for one run: uvloop's (faster network I/O) where it is installed."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coro)


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine from plain code or from a notebook, whose event loop is already running."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return _run(coro)
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = _run(coro)
        except BaseException as exc:  # re-raised in the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]
