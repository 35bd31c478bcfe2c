"""Turn a configuration's model spec into a LangChain chat model (retries and fallbacks: `client`, `retry`)."""

from __future__ import annotations

import functools
import importlib
import json
import os
from typing import Any
from urllib.parse import urlsplit

from langchain_core.language_models import BaseChatModel
from langchain_core.rate_limiters import InMemoryRateLimiter

from ..errors import WorkbenchError
from ..plugins import provider
from ..prompts import ModelSpec
from .local import LocalChatModel
from .retry import MalformedResponse, malformed


def chat_model(spec: ModelSpec) -> BaseChatModel:
    """One chat model for one spec, made by its provider (see `workbench.plugins`); one attempt per call
    (retries: `retry.call`)."""
    limiter = InMemoryRateLimiter(requests_per_second=spec.requests_per_second) if spec.requests_per_second else None
    return provider(spec.provider).chat_model(spec, limiter)


def local_chat_model(spec: ModelSpec, limiter: InMemoryRateLimiter | None) -> BaseChatModel:
    """The bundled GGUF models on llama.cpp."""
    return LocalChatModel(model_name=spec.name, rate_limiter=limiter, **spec.params.model_dump(exclude_none=True))


def openai_chat_model(spec: ModelSpec, limiter: InMemoryRateLimiter | None) -> BaseChatModel:
    """Any OpenAI-compatible endpoint (OpenAI, vLLM, Ollama, a llama.cpp server)."""
    params = spec.params.model_dump(exclude_none=True)
    return _checked_chat_openai()(**openai_arguments(spec, params), rate_limiter=limiter)


def langchain_chat_model(spec: ModelSpec, limiter: InMemoryRateLimiter | None) -> BaseChatModel:
    """Any importable LangChain chat model class, named by its path."""
    cls = _import_class(spec.name)
    params = spec.params.model_dump(exclude_none=True)
    return cls(**{**params, **spec.kwargs}, **({"rate_limiter": limiter} if limiter else {}))


def describe(spec: ModelSpec) -> dict[str, Any]:
    """The spec as logged: everything but secrets, which the spec never holds (keys come from the env)."""
    return spec.model_dump(mode="json", exclude_none=True)


def _api_key(spec: ModelSpec) -> str:
    if spec.api_key_env is None:
        return "not-needed"  # local servers (llama.cpp, vLLM, Ollama) accept any key
    key = os.environ.get(spec.api_key_env)
    if not key:
        raise WorkbenchError(
            f"model.api_key_env: environment variable {spec.api_key_env} is not set; export it before the run"
        )
    return key


def openai_arguments(spec: ModelSpec, params: dict[str, Any]) -> dict[str, Any]:
    """ChatOpenAI's arguments for an `openai` spec: one attempt per call (`retry.call` owns retries),
    `max_tokens` in the body for OpenAI-compatible servers (llama.cpp, vLLM, Ollama read only that field;
    ChatOpenAI sends OpenAI's `max_completion_tokens`), `top_k` in the body (not an OpenAI parameter),
    and the spec's `kwargs` (such as `default_headers`) passed through; the spec's own fields win over
    `kwargs` (lint refuses such kwargs, and any ChatOpenAI does not take)."""
    params = dict(params)
    extra = {key: params.pop(key) for key in ("top_k",) if key in params}
    if not is_openai(spec.base_url) and "max_tokens" in params:
        extra["max_tokens"] = params.pop("max_tokens")
    return {
        **spec.kwargs,
        "model": spec.name,
        "base_url": spec.base_url,
        "api_key": _api_key(spec),
        "timeout": spec.timeout,
        "max_retries": 0,
        **params,
        **({"extra_body": extra} if extra else {}),
    }


def is_openai(base_url: str | None) -> bool:
    """Whether requests go to OpenAI's own API (no base URL, or api.openai.com)."""
    return base_url is None or (urlsplit(base_url).hostname or "").endswith("api.openai.com")


@functools.cache
def _checked_chat_openai() -> type[BaseChatModel]:
    from langchain_openai import ChatOpenAI

    class CheckedChatOpenAI(ChatOpenAI):
        """ChatOpenAI that takes a 200 without choices (or not a completion at all) for what it is: a
        transient `MalformedResponse` quoting what came back, not an IndexError further down."""

        def _create_chat_result(self, response: Any, generation_info: dict | None = None) -> Any:
            if not isinstance(response, dict) and not hasattr(response, "model_dump"):
                raise MalformedResponse(malformed(200, str(response), "a body that is not a chat completion"))
            data = response if isinstance(response, dict) else response.model_dump(exclude_unset=True)
            if not data.get("choices"):
                raise MalformedResponse(malformed(200, json.dumps(data, default=str), "no choices"))
            return super()._create_chat_result(response, generation_info)

    return CheckedChatOpenAI


def _import_class(path: str) -> type[BaseChatModel]:
    module, _, name = path.rpartition(".")
    try:
        cls = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as exc:
        raise WorkbenchError(f"model.name: cannot import {path} ({exc}); install its package or fix the path") from None
    if not (isinstance(cls, type) and issubclass(cls, BaseChatModel)):
        raise WorkbenchError(f"model.name: {path} is not a LangChain chat model class")
    return cls
