"""One engine for every job that runs a configuration: evaluation, comparison, shadow replay, cost estimates.

`RunContext.build` turns a pinned configuration and a project into what a run needs (the response cache,
the model client with its output redactor, the retriever, the scorers, the budget), so guardrails,
redaction, budgets, cache and traces behave the same whoever runs the cases. Use it as a context manager:
it closes the cache.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .aio import run_sync
from .budget import Budget
from .datasets import Dataset
from .guardrails.pii import find_pii, replace_findings
from .models import ModelClient, ResponseCache, load_pricing
from .prompts import GuardrailPolicy, Prompt, resolve
from .results import RunResult
from .runner import Retriever, arun
from .scorers import DEFAULT_SCORERS, Scorer, from_spec
from .settings import Settings

ScorerLike = Scorer | str | dict[str, Any]


@dataclass
class RunContext:
    """A configuration ready to run in one project: client, cache, retriever, scorers and budget."""

    prompt: Prompt
    settings: Settings
    client: ModelClient
    scorers: list[Scorer]
    retriever: Retriever | None = None
    budget: Budget | None = None
    cache: ResponseCache | None = None
    on_call: Callable[[Mapping[str, Any]], None] | None = None  # sees each record row as it is made (live metrics)

    @classmethod
    def build(
        cls,
        prompt: str | Prompt,
        settings: Settings,
        scorers: Sequence[ScorerLike] | None = None,
        concurrency: int | None = None,
        budget: Budget | None = None,
        on_call: Callable[[Mapping[str, Any]], None] | None = None,
    ) -> RunContext:
        """`prompt` is `name@version` (resolved in the project) or a loaded `Prompt`; scorers default to the built-ins."""
        prompt = resolve(prompt, settings.prompts_dir) if isinstance(prompt, str) else prompt
        built = build_scorers(list(DEFAULT_SCORERS) if scorers is None else scorers, settings)
        retriever = None
        if prompt.spec.retrieval:
            from .rag import retriever_for  # chromadb and the embedding model load only for RAG configurations

            retriever = retriever_for(prompt.spec.retrieval, settings)
        cache = ResponseCache(settings.cache_path) if settings.cache else None
        try:
            client = ModelClient(
                prompt.spec,
                cache=cache,
                pricing=load_pricing(settings.pricing_path),
                concurrency=concurrency,
                redact=output_redactor(prompt.spec.guardrails),
            )
        except BaseException:
            if cache is not None:
                cache.close()
            raise
        return cls(prompt, settings, client, built, retriever, budget, cache, on_call)

    async def arun(self, dataset: Dataset, repeats: int = 1, seed_offset: int = 0, progress: bool = True) -> RunResult:
        """Every case of `dataset` (x `repeats`) through the runner."""
        return await arun(
            self.prompt,
            dataset,
            self.scorers,
            self.client,
            retriever=self.retriever,
            repeats=repeats,
            seed_offset=seed_offset,
            budget=self.budget,
            progress=progress,
            on_call=self.on_call,
        )

    def run(self, dataset: Dataset, repeats: int = 1, seed_offset: int = 0, progress: bool = True) -> RunResult:
        """`arun` from plain code or a notebook."""
        return run_sync(self.arun(dataset, repeats, seed_offset, progress))

    def close(self) -> None:
        if self.cache is not None:
            self.cache.close()

    def __enter__(self) -> RunContext:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def build_scorers(scorers: Sequence[ScorerLike], settings: Settings) -> list[Scorer]:
    """Scorers from specs (`"name"`, `{"name", "args"}`, `module:function`) or built ones, in the project's settings."""
    return [s if isinstance(s, Scorer) else from_spec(s, settings) for s in scorers]


def output_redactor(policy: GuardrailPolicy | None) -> Callable[[str], tuple[str, int]] | None:
    """When a configuration asks to redact personal data, the client redacts answers before caching them."""
    if policy is None or policy.pii != "redact":
        return None

    def redact(text: str) -> tuple[str, int]:
        findings = find_pii(text, policy.pii_kinds, policy.pii_regions, policy.pii_allow)
        return replace_findings(text, findings), len(findings)

    return redact
