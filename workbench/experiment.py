"""One evaluation end to end: resolve, run, log to MLflow, lock the configuration's hash."""

from __future__ import annotations

from .datasets import load_dataset
from .models import ModelClient, ResponseCache, load_pricing
from .prompts import lock_hash, resolve
from .results import RunResult
from .runner import arun, run_sync
from .scorers import DEFAULT_SCORERS, Scorer, from_spec
from .settings import Settings


def evaluate(prompt_ref: str, dataset_ref: str, scorers: list[Scorer | str | dict] | None = None,
             settings: Settings | None = None, concurrency: int | None = None, log: bool = True,
             progress: bool = True) -> RunResult:
    """Run `name@version` over a dataset with the given scorers (the defaults when None)."""
    settings = settings or Settings.load()
    prompt = resolve(prompt_ref, settings.prompts_dir)
    dataset = load_dataset(dataset_ref, settings.datasets_dir)
    built = [s if isinstance(s, Scorer) else from_spec(s) for s in (scorers if scorers is not None else DEFAULT_SCORERS)]
    cache = ResponseCache(settings.cache_path) if settings.cache else None
    try:
        client = ModelClient(prompt.spec, cache=cache, pricing=load_pricing(settings.pricing_path), concurrency=concurrency)
        retriever = None
        if prompt.spec.retrieval:
            from .rag import retriever_for

            retriever = retriever_for(prompt.spec.retrieval, settings)
        result = run_sync(arun(prompt, dataset, built, client, retriever=retriever, progress=progress))
    finally:
        if cache is not None:
            cache.close()
    if log:
        from .tracking import log_run

        log_run(result, prompt, dataset, settings)
    lock_hash(prompt, settings.prompts_dir)
    return result
