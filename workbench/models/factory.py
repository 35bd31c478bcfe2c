"""Turn a configuration's model spec into a LangChain chat model, with retries and fallbacks."""

from __future__ import annotations

import importlib
import os
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.rate_limiters import InMemoryRateLimiter
from langchain_core.runnables import Runnable

from ..errors import WorkbenchError
from ..plugins import provider
from ..prompts import ModelSpec, PromptSpec
from .local import LocalChatModel


def transient_errors() -> tuple[type[BaseException], ...]:
    """Errors worth retrying: timeouts, lost connections, rate limits, 5xx."""
    import openai

    return (TimeoutError, ConnectionError, openai.APIConnectionError, openai.APITimeoutError,
            openai.RateLimitError, openai.InternalServerError)


def chat_model(spec: ModelSpec) -> BaseChatModel:
    """One chat model for one spec, made by its provider (see `workbench.plugins`); no retries here (see `runnable`)."""
    limiter = InMemoryRateLimiter(requests_per_second=spec.requests_per_second) if spec.requests_per_second else None
    return provider(spec.provider).chat_model(spec, limiter)


def local_chat_model(spec: ModelSpec, limiter: InMemoryRateLimiter | None) -> BaseChatModel:
    """The bundled GGUF models on llama.cpp."""
    return LocalChatModel(model_name=spec.name, rate_limiter=limiter, **spec.params.model_dump(exclude_none=True))


def openai_chat_model(spec: ModelSpec, limiter: InMemoryRateLimiter | None) -> BaseChatModel:
    """Any OpenAI-compatible endpoint (OpenAI, vLLM, Ollama, a llama.cpp server)."""
    from langchain_openai import ChatOpenAI

    params = spec.params.model_dump(exclude_none=True)
    return ChatOpenAI(model=spec.name, base_url=spec.base_url, api_key=_api_key(spec), timeout=spec.timeout,
                      max_retries=0, rate_limiter=limiter, **_openai_params(params))


def langchain_chat_model(spec: ModelSpec, limiter: InMemoryRateLimiter | None) -> BaseChatModel:
    """Any importable LangChain chat model class, named by its path."""
    cls = _import_class(spec.name)
    params = spec.params.model_dump(exclude_none=True)
    return cls(**{**params, **spec.kwargs}, **({"rate_limiter": limiter} if limiter else {}))


def runnable(prompt: PromptSpec) -> Runnable:
    """The primary model with retry on transient errors, then each fallback in order."""
    chain = [_with_retry(chat_model(m), m) for m in [prompt.model, *prompt.fallbacks]]
    return chain[0].with_fallbacks(chain[1:]) if len(chain) > 1 else chain[0]


def describe(spec: ModelSpec) -> dict[str, Any]:
    """The spec as logged: everything but secrets, which the spec never holds (keys come from the env)."""
    return spec.model_dump(mode="json", exclude_none=True)


def _with_retry(model: BaseChatModel, spec: ModelSpec) -> Runnable:
    if spec.max_retries == 0:
        return model
    return model.with_retry(retry_if_exception_type=transient_errors(), wait_exponential_jitter=True,
                            exponential_jitter_params={"max": 20},
                            stop_after_attempt=spec.max_retries + 1)


def _api_key(spec: ModelSpec) -> str:
    if spec.api_key_env is None:
        return "not-needed"  # local servers (llama.cpp, vLLM, Ollama) accept any key
    key = os.environ.get(spec.api_key_env)
    if not key:
        raise WorkbenchError(f"model.api_key_env: environment variable {spec.api_key_env} is not set; export it before the run")
    return key


def _openai_params(params: dict[str, Any]) -> dict[str, Any]:
    """ChatOpenAI names; top_k is not part of the OpenAI API and goes in the request body."""
    top_k = params.pop("top_k", None)
    return {**params, **({"extra_body": {"top_k": top_k}} if top_k is not None else {})}


def _import_class(path: str) -> type[BaseChatModel]:
    module, _, name = path.rpartition(".")
    try:
        cls = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as exc:
        raise WorkbenchError(f"model.name: cannot import {path} ({exc}); install its package or fix the path") from None
    if not (isinstance(cls, type) and issubclass(cls, BaseChatModel)):
        raise WorkbenchError(f"model.name: {path} is not a LangChain chat model class")
    return cls
