"""Run a configuration over a dataset: bounded concurrency, cache-aware, a progress bar, errors per case."""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import math
import numbers
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from tqdm.auto import tqdm

from .budget import Budget, BudgetGuard
from .datasets import Case, Dataset
from .guardrails.policy import aapply_input_guardrails, aapply_output_guardrails
from .models import ModelClient, Response
from .prompts import Prompt
from .record import SCORER_ERROR, Call, RecordWriter
from .results import RunResult
from .scorers import Sample, Score, Scorer

#: Calls started but not yet written, at most: the run's memory is bounded by this, whatever the dataset's size.
WINDOW = 1_000
#: Calls whose messages are kept for traces: the first ones and as many that errored or failed a scorer.
TRACEABLE = 1_000
#: Cases whose plain scorers share one worker-thread hop.
BATCH = 32


class Retriever(Protocol):
    """What the runner needs of retrieval (built by `workbench.rag` from a configuration's retrieval block)."""

    def retrieve(self, query: str) -> list[dict[str, Any]]:
        """Ranked chunks: dicts with id, text, source, rank, scores (per retriever) and metadata."""

    def format(self, chunks: list[dict[str, Any]]) -> str:
        """The text that fills `{context}`."""

    def describe(self) -> dict[str, Any]:
        """Flat facts logged with the run (index identity and version, retrieval settings)."""


async def arun(
    prompt: Prompt,
    dataset: Dataset,
    scorers: list[Scorer],
    client: ModelClient,
    retriever: Retriever | None = None,
    repeats: int = 1,
    seed_offset: int = 0,
    budget: Budget | None = None,
    progress: bool = True,
    on_call: Callable[[Mapping[str, Any]], None] | None = None,
    spool: Path | None = None,
) -> RunResult:
    """Evaluate every case `repeats` times; a model or scorer error is recorded on its case and the run completes.

    With `repeats` > 1 or a `seed_offset`, repeat r uses seed `configuration seed + seed_offset + r` and
    bypasses the cache, so the runs measure the model's non-determinism rather than replay it.
    With a `budget`, calls that would exceed it are not made: the result keeps what ran and says why it stopped.
    `on_call(row)` sees each call's record row (see `record.RECORD`) as soon as it is recorded (live metrics).

    Memory stays bounded: at most `WINDOW` calls are in flight or waiting for an earlier one, rows are written
    in dataset order to a Parquet spool file (in `spool`, a folder; the system's temporary one by default)
    one row group at a time, and `RunResult.calls` (what traces need) keeps `TRACEABLE` ordinary calls and
    as many that errored or failed a scorer.
    """
    dataset.check_variables(prompt.variables)
    start = time.perf_counter()
    calls_before = client.calls
    total = len(dataset) * repeats
    work = enumerate((case, r) for case in dataset.cases for r in range(repeats))
    writer = RecordWriter(spool)
    done: dict[int, Call | None] = {}  # finished calls waiting for an earlier one; None: not made
    order = {"next": 0, "made": 0, "kept": 0, "flagged": 0}
    waiting: dict[int, asyncio.Future] = {}  # by the number of written calls a worker waits for
    calls: dict[tuple[str, int], dict[str, Any]] = {}
    thread = ScoringThread()
    fresh = repeats > 1 or seed_offset != 0
    base_seed = prompt.spec.model.params.seed or 0

    guard = BudgetGuard(budget, prompt.spec.model.params.max_tokens, client.price) if budget else None
    retrieval, schema, policy = prompt.spec.retrieval, prompt.spec.output_schema, prompt.spec.guardrails
    if retrieval and retriever is None:
        raise ValueError(f"{prompt.ref} has a retrieval block; pass a retriever")

    async def one(case: Case, repeat: int) -> Call | None:
        """One call's record row; None when the budget stopped it before it was made."""
        inputs, triggered = case.inputs, []
        if policy:
            checked = await aapply_input_guardrails(case.inputs, policy)
            inputs, triggered = checked.inputs, checked.triggered
            if checked.blocked:
                response = Response(text=policy.fallback_answer, model=prompt.spec.model.name, latency_s=0.0)
                return await record(case, repeat, response, [], inputs, triggered, blocked=True)
        chunks, context = [], None
        if retrieval and retriever is not None:
            try:
                chunks = await asyncio.to_thread(retriever.retrieve, str(inputs[retrieval.query_variable]))
            except Exception as exc:  # a failed retrieval is this case's error; the run goes on
                response = Response(
                    text=None,
                    model=prompt.spec.model.name,
                    latency_s=0.0,
                    error=f"retrieval: {type(exc).__name__}: {exc}",
                )
                return await record(case, repeat, response, [], inputs, triggered)
            context = retriever.format(chunks)
        messages = prompt.render(inputs, context=context)
        reservation = None
        if guard and (fresh or client.cached(messages) is None):  # cached answers spend nothing
            if reason := guard.over_request_limit(messages):
                response = Response(text=None, model=prompt.spec.model.name, latency_s=0.0, error=reason)
                return await record(case, repeat, response, chunks, inputs, triggered)
            if (reservation := await guard.reserve(messages)) is None:
                return None  # the budget is spent: this call is not made
        calls[(case.id, repeat)] = {"messages": messages, "inputs": inputs, "started_ns": time.time_ns()}
        if fresh:
            response = await client.acall(messages, seed=base_seed + seed_offset + repeat, use_cache=False)
        else:
            response = await client.acall(messages)
        if reservation and guard:
            await guard.settle(
                reservation, messages, response.input_tokens, response.output_tokens, response.cost, response.cached
            )
        blocked = False
        if response.redactions:
            triggered = triggered + ["pii:output"]
        if policy and response.text is not None:
            checked_output = await aapply_output_guardrails(response.text, policy, schema)
            triggered, blocked = triggered + checked_output.triggered, checked_output.blocked
            response = replace(response, text=checked_output.text)
        return await record(case, repeat, response, chunks, inputs, triggered, blocked)

    async def record(
        case: Case,
        repeat: int,
        response: Response,
        chunks: list,
        inputs: dict,
        triggered: list[str],
        blocked: bool = False,
    ) -> Call:
        sample = Sample(response.text or "", case, chunks, schema)
        row: Call = {
            "case_id": case.id,
            "repeat": repeat,
            "inputs": inputs,
            "output": response.text,
            "error": response.error,
            "latency_s": response.latency_s,
            "input_tokens": response.input_tokens,
            "output_tokens": response.output_tokens,
            "cost": response.cost,
            "cached": response.cached,
            "model": response.model,
            "tags": ",".join(case.tags),
            "chunks": chunks if retrieval else None,
            "guardrails": ",".join(dict.fromkeys(triggered)) or None,
            "blocked": blocked,
            "scores": await score_case(scorers, sample, response.error, thread),
        }
        if on_call is not None:
            on_call(row)
        return row

    def keep_call(row: Call) -> None:
        """Forget the messages of a call that traces will not need (bounded: `TRACEABLE` of each kind)."""
        key = (row["case_id"], row["repeat"])
        flagged = row["error"] is not None or any(s["passed"] is False or s["error"] for s in row["scores"])
        kind = "flagged" if flagged else "kept"
        if key in calls and order[kind] < TRACEABLE:
            order[kind] += 1
        else:
            calls.pop(key, None)

    def finished(index: int, row: Call | None) -> None:
        """Write the rows that no earlier call is waiting for, in dataset order."""
        done[index] = row
        while order["next"] in done:
            ready = done.pop(order["next"])
            if ready is not None:
                keep_call(ready)
                writer.add(ready)
                order["made"] += 1
            order["next"] += 1
            if (gate := waiting.pop(order["next"], None)) is not None:
                gate.set_result(None)

    with tqdm(total=total, desc=prompt.ref, unit="call", disable=not progress) as bar:

        async def worker() -> None:
            for index, (case, repeat) in work:  # shared by the workers: each call is taken once
                if index >= order["next"] + WINDOW:  # wait until the call WINDOW places earlier is written
                    gate = waiting[index - WINDOW + 1] = asyncio.get_running_loop().create_future()
                    await gate
                finished(index, await one(case, repeat))
                bar.update()

        await asyncio.gather(*(worker() for _ in range(min(WINDOW, total))))

    record_rows, spooled = writer.close()
    made = order["made"]
    return RunResult(
        params=retriever.describe() if retrieval and retriever is not None else {},
        prompt_ref=prompt.ref,
        prompt_hash=prompt.hash,
        dataset_ref=dataset.ref,
        dataset_hash=dataset.hash,
        record=record_rows,
        spool=spooled,
        scorers=[s.spec for s in scorers],
        model_calls=client.calls - calls_before,
        duration_s=time.perf_counter() - start,
        repeats=repeats,
        seed_offset=seed_offset,
        stopped=f"{guard.stopped}; {total - made} of {total} calls not made" if guard and guard.stopped else None,
        calls=calls,
    )


async def score_sample(scorer: Scorer, sample: Sample, error: str | None = None) -> dict[str, Any]:
    """One scorer on one sample, as result-frame columns; a scorer that raises marks its row with the error."""
    return (await score_case([scorer], sample, error))[0]


async def score_case(
    scorers: list[Scorer], sample: Sample, error: str | None = None, thread: ScoringThread | None = None
) -> list[dict[str, Any]]:
    """Every scorer on one sample, one row each. Plain (CPU-bound) scorers run in a worker thread (`thread`
    batches several cases into one hop), so they never hold up the event loop, and with it the clocks of
    model calls in flight; async ones run on the loop."""
    if error is not None:
        return [_row(scorer, None) for scorer in scorers]
    plain = [s for s in scorers if not inspect.iscoroutinefunction(s.fn)]
    outcomes: dict[int, Any] = {}
    if plain:
        results = await (thread or ScoringThread()).run(plain, sample)
        outcomes.update((id(s), r) for s, r in zip(plain, results))
    rows = []
    for scorer in scorers:
        outcome = outcomes[id(scorer)] if id(scorer) in outcomes else _attempt(scorer.fn, sample)
        if inspect.isawaitable(outcome):
            try:
                outcome = await outcome
            except Exception as exc:  # a broken scorer marks its rows, not the run
                outcome = exc
        rows.append(_row(scorer, outcome))
    return rows


class ScoringThread:
    """Plain scorers of the cases that finish in the same turn of the event loop, run together in one
    worker-thread hop (up to `BATCH` cases each): the loop stays free, and the hop's cost is shared."""

    def __init__(self) -> None:
        self._batch: list[tuple[list[Scorer], Sample, asyncio.Future]] = []

    async def run(self, scorers: list[Scorer], sample: Sample) -> list[Any]:
        """Each scorer's outcome on `sample`: its value, or the exception it raised."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future = loop.create_future()
        if not self._batch:
            loop.call_soon(self._hop, loop)  # after every task this turn of the loop resumes has joined
        self._batch.append((scorers, sample, future))
        if len(self._batch) >= BATCH:
            self._hop(loop)
        return await future

    def _hop(self, loop: asyncio.AbstractEventLoop) -> None:
        batch, self._batch = self._batch, []
        if not batch:
            return

        def work() -> None:
            try:
                results = [[_attempt(s.fn, sample) for s in scorers] for scorers, sample, _ in batch]
            except BaseException as exc:  # KeyboardInterrupt, SystemExit: every waiting case sees it
                loop.call_soon_threadsafe(_settle, batch, None, exc)
            else:
                loop.call_soon_threadsafe(_settle, batch, results, None)

        loop.run_in_executor(None, contextvars.copy_context().run, work)


def _settle(
    batch: list[tuple[list[Scorer], Sample, asyncio.Future]],
    results: list[list[Any]] | None,
    error: BaseException | None,
) -> None:
    for index, (_, _, future) in enumerate(batch):
        if future.done():  # a cancelled run's futures stay cancelled
            continue
        if results is None:
            future.set_exception(error or RuntimeError("scoring failed"))
        else:
            future.set_result(results[index])


def _attempt(fn: Any, sample: Sample) -> Any:
    try:
        return fn(sample)
    except Exception as exc:  # a broken scorer marks its rows, not the run
        return exc


def _row(scorer: Scorer, outcome: Any) -> dict[str, Any]:
    """A scorer's value, `Score` or exception as the frame's columns (None: the case had no output to score).
    A value that is not a bool, a finite number, a label or None (NaN, inf, a dict...) is this row's scorer
    error, never a number in the statistics."""
    row: dict[str, Any] = {
        "scorer": scorer.name,
        "value": None,
        "passed": None,
        "label": None,
        "reason": None,
        "error": None,
    }
    if outcome is None:
        return row
    if isinstance(outcome, Exception):
        return {**row, "error": f"{SCORER_ERROR}{scorer.name}: {type(outcome).__name__}: {outcome}"}
    score = outcome if isinstance(outcome, Score) else Score(outcome)
    value = score.value
    if isinstance(value, (bool, np.bool_)):
        row.update(value=float(value), passed=bool(value))
    elif isinstance(value, numbers.Real) and math.isfinite(value):
        row.update(value=float(value), passed=score.passed)
    elif isinstance(value, str):
        row.update(label=value)
    elif value is not None:
        shown = repr(value)[:80] if isinstance(value, numbers.Real) else type(value).__name__
        return {
            **row,
            "error": f"{SCORER_ERROR}{scorer.name}: returned {shown}; return a bool, a finite number, "
            f"a label (str) or a Score",
        }
    row["reason"] = score.reason
    return row
