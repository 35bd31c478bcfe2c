"""Shadow replay: run a candidate configuration offline over logged traffic and compare it with production.

The traffic's requests become a temporary dataset (ids and line numbers kept, no expected answers);
the candidate runs over it with `runner.arun`, exactly as an evaluation does, and nothing is logged
unless asked. What production answered becomes a `RunResult` too, scored by the same scorers, so
`compare` pairs the two per request (McNemar or permutation test, bootstrap interval, verdict).
Beside the scorers, every request gets the semantic similarity of the two answers (bundled MiniLM),
their lengths, and the guardrails each one triggers.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .aio import run_sync
from .compare import Comparison, compare
from .datasets import Case, Dataset
from .errors import WorkbenchError
from .guardrails.policy import GuardrailPolicy, aapply_output_guardrails
from .prompts import lock_hash
from .record import Call, record_frame
from .results import RunResult
from .run_context import RunContext, build_scorers
from .runner import score_case
from .scorers import Sample, Scorer, get_scorer
from .settings import Settings

SIMILAR = 0.7  # answers at least this similar count as "the same answer" in the summary


@dataclass
class ReplayResult:
    """The candidate's run, production's answers as a run, their comparison, and one row per request."""

    candidate: RunResult
    production: RunResult
    comparison: Comparison
    frame: pd.DataFrame  # id, ts, input, production/candidate output, similarity, words, guardrails
    traffic: pd.DataFrame | None = field(default=None, repr=False)  # the logged requests replayed

    def summary(self) -> pd.DataFrame:
        """Per metric: production, candidate, difference, p-value, verdict; similarity of the answers."""
        table = self.comparison.table.rename(columns={"baseline": "production"})
        table = table[["n", "production", "candidate", "diff", "ci_low", "ci_high", "p_value", "test", "verdict"]]
        ok = self.frame["similarity"].dropna()
        similar = pd.DataFrame(
            [
                {
                    "n": len(ok),
                    "production": np.nan,
                    "candidate": ok.mean(),
                    "diff": np.nan,
                    "ci_low": ok.quantile(0.1) if len(ok) else np.nan,
                    "ci_high": ok.quantile(0.9) if len(ok) else np.nan,
                    "p_value": np.nan,
                    "test": f"share >= {SIMILAR}: {(ok >= SIMILAR).mean():.2f}" if len(ok) else "none",
                    "verdict": "",
                }
            ],
            index=pd.Index(["similarity_to_production"], name="scorer"),
        )
        return pd.concat([similar, table])

    def report(self) -> str:
        t = self.candidate.totals()
        head = (
            f"shadow replay of {self.candidate.prompt_ref} on {len(self.frame)} logged requests "
            f"({self.candidate.dataset_ref}); production was {self.production.prompt_ref}"
        )
        body = self.summary().to_string(float_format=lambda x: f"{x:.3f}")
        return f"{head}\n{body}\ncandidate errors {t['errors']}  latency p50 {t['latency_p50_s']:.2f}s  model calls {t['model_calls']}"


def traffic_dataset(traffic: pd.DataFrame, name: str, path: Path) -> Dataset:
    """The requests as cases: id, inputs, and where they were logged; version 0 marks a temporary set."""
    cases = [
        Case(id=str(row.id), inputs=row.inputs, metadata={"ts": row.ts.isoformat(), "prompt_ref": row.prompt_ref})
        for row in traffic.itertuples()
    ]
    lines = [int(x) for x in traffic["line"]] if "line" in traffic else []
    return Dataset(name=name, version=0, path=path, cases=cases, lines=lines)


def replay(
    candidate: str,
    traffic: str | Path | pd.DataFrame,
    scorers: list[Scorer | str | dict] | None = None,
    guardrails: GuardrailPolicy | dict | None = None,
    limit: int | None = None,
    sample: int | None = None,
    seed: int = 0,
    settings: Settings | None = None,
    log: bool = False,
    concurrency: int | None = None,
    progress: bool = True,
    on_call: Callable[[Mapping[str, Any]], None] | None = None,
) -> ReplayResult:
    """Replay `candidate` (`name@version`) over logged traffic (a file from `load_traffic`, or its frame,
    already windowed with `drift.window` if wanted). `limit` keeps the first n requests, `sample` a seeded
    random n. Scorers see no expected answer, so pick reference-free ones; `guardrails` (a policy) adds its
    scorer, and its `pii_allow` applies to `pii_free`. With `log`, the candidate's run goes to MLflow.
    `on_call(row)` sees each of the candidate's calls as it is recorded (live metrics)."""
    from .drift.traffic import load_traffic  # the drift package loads matplotlib and the embedder's stack

    settings = settings or Settings.load()
    path = Path(traffic.attrs.get("path", "traffic.jsonl")) if isinstance(traffic, pd.DataFrame) else Path(traffic)
    frame = traffic if isinstance(traffic, pd.DataFrame) else load_traffic(path)
    if sample is not None:
        frame = frame.sample(n=min(sample, len(frame)), random_state=seed).sort_values("ts")
    if limit is not None:
        frame = frame.head(limit)
    if frame.empty:
        raise WorkbenchError(f"{path}: no requests to replay; widen the window or raise limit")
    policy = GuardrailPolicy.parse(guardrails) if guardrails is not None else None
    with RunContext.build(
        candidate, settings, _scorers(scorers, policy, settings), concurrency=concurrency, on_call=on_call
    ) as context:
        dataset = traffic_dataset(frame, f"traffic:{path.stem}", path)
        run = context.run(dataset, progress=progress)
    prompt, built = context.prompt, context.scorers
    production = run_sync(production_run(frame, dataset, built, prompt.spec.output_schema))
    result = ReplayResult(run, production, compare(production, run), _requests(frame, run, policy), frame)
    if log:
        _log(result, prompt, dataset, settings)
    return result


async def production_run(
    traffic: pd.DataFrame, dataset: Dataset, scorers: list[Scorer], output_schema: dict[str, Any] | None = None
) -> RunResult:
    """What production answered, scored like a run, on the same dataset identity as the candidate's."""
    rows: list[Call] = [
        {
            "case_id": case.id,
            "repeat": 0,
            "inputs": case.inputs,
            "output": row.output,
            "error": None,
            "latency_s": row.latency_s,
            "input_tokens": row.input_tokens,
            "output_tokens": row.output_tokens,
            "model": row.prompt_ref,
            "tags": "",
            "scores": await score_case(scorers, Sample(row.output, case, [], output_schema)),
        }
        for row, case in zip(traffic.itertuples(), dataset.cases)
    ]
    refs = ", ".join(dict.fromkeys(traffic["prompt_ref"]))
    return RunResult(
        prompt_ref=f"production ({refs})",
        prompt_hash=hashlib.sha256(refs.encode()).hexdigest(),
        dataset_ref=dataset.ref,
        dataset_hash=dataset.hash,
        record=record_frame(rows),
        scorers=[s.spec for s in scorers],
    )


def _scorers(
    scorers: list[Scorer | str | dict] | None, policy: GuardrailPolicy | None, settings: Settings
) -> list[Scorer]:
    built = build_scorers(scorers or [], settings)
    words = Scorer(name="words", args={}, fn=lambda sample: float(len(sample.output.split())))
    defaults = [
        words,
        get_scorer("pii_free", allow=list(policy.pii_allow) if policy else []),
        get_scorer("injection_free"),
    ]
    if policy is not None:
        defaults.append(get_scorer("guardrail_policy", policy=policy.model_dump()))
    names = [s.name for s in built]
    return built + [s for s in defaults if s.name not in names]


def _requests(traffic: pd.DataFrame, run: RunResult, policy: GuardrailPolicy | None) -> pd.DataFrame:
    from .rag.embeddings import Embedder  # the embedding model loads only when answers are compared

    cases = run.cases().set_index("case_id")
    candidate = [cases.loc[str(i), "output"] if str(i) in cases.index else None for i in traffic["id"]]
    errors = [cases.loc[str(i), "error"] if str(i) in cases.index else "not run" for i in traffic["id"]]
    answered = [i for i, text in enumerate(candidate) if isinstance(text, str)]
    similarity = np.full(len(traffic), np.nan)
    if answered:
        vectors = Embedder().encode([traffic["output"].iloc[i] for i in answered] + [candidate[i] for i in answered])
        similarity[answered] = (vectors[: len(answered)] * vectors[len(answered) :]).sum(1)
    check = policy or GuardrailPolicy(pii="detect")
    texts = list(traffic["output"]) + [t for t in candidate if isinstance(t, str)]

    async def checked() -> list[str | None]:
        outcomes = await asyncio.gather(*(aapply_output_guardrails(t, check) for t in texts))
        return [",".join(o.triggered) or None for o in outcomes]

    fired = iter(run_sync(checked()))
    production_fired = [next(fired) for _ in range(len(traffic))]
    candidate_fired = [next(fired) if isinstance(t, str) else None for t in candidate]
    return pd.DataFrame(
        {
            "id": traffic["id"].astype(str).to_numpy(),
            "ts": traffic["ts"].to_numpy(),
            "input": traffic["input_text"].to_numpy(),
            "production_output": traffic["output"].to_numpy(),
            "candidate_output": candidate,
            "similarity": similarity,
            "production_words": traffic["output"].str.split().str.len().to_numpy(),
            "candidate_words": [len(t.split()) if isinstance(t, str) else np.nan for t in candidate],
            "production_guardrails": production_fired,
            "candidate_guardrails": candidate_fired,
            "candidate_error": errors,
        }
    )


def _log(result: ReplayResult, prompt: Any, dataset: Dataset, settings: Settings) -> None:
    """Log the candidate's run, then attach the per-request comparison and the summary to it."""
    from .mlflow_store import client  # mlflow takes seconds to import: only replays that log pay for it
    from .tracking import log_run  # (same)

    run_id = log_run(result.candidate, prompt, dataset, settings, traces=0)
    lock_hash(prompt, settings.prompts_dir)  # a logged run pins the configuration's hash, as `evaluate` does
    project = client(settings)
    project.log_table(run_id, result.frame.astype({"ts": str}), artifact_file="replay/requests.json")
    project.log_table(run_id, result.summary().reset_index(), artifact_file="replay/summary.json")
    project.set_tag(run_id, "workbench.replay", str(dataset.path))
    similarity = result.frame["similarity"].dropna()
    if len(similarity):
        project.log_metric(run_id, "replay.similarity_to_production.mean", float(similarity.mean()))
