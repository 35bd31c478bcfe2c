"""The built-in providers, registered through the `workbench.providers` entry points like any plug-in."""

from __future__ import annotations

import functools
import json
import re
from typing import Any

from pydantic import BaseModel

from ..plugins import Provider
from ..prompts.schema import LOCAL_MODELS, ModelSpec

CLASS_PATH = re.compile(r"[A-Za-z_][\w.]*\.[A-Za-z_]\w*")
#: ChatOpenAI arguments the `openai` provider sets from a spec's own fields, and the field to write instead.
OPENAI_FROM_SPEC = {
    "model": "name",
    "model_name": "name",
    "base_url": "base_url",
    "openai_api_base": "base_url",
    "api_key": "api_key_env",
    "openai_api_key": "api_key_env",
    "timeout": "timeout",
    "request_timeout": "timeout",
    "max_retries": "max_retries",
    "rate_limiter": "requests_per_second",
    "max_tokens": "params.max_tokens",
    "max_completion_tokens": "params.max_tokens",
    "temperature": "params.temperature",
    "top_p": "params.top_p",
    "seed": "params.seed",
    "stop": "params.stop",
    "stop_sequences": "params.stop",
    "extra_body": "params",
    "frequency_penalty": "params.frequency_penalty",
    "presence_penalty": "params.presence_penalty",
}


def _no_endpoint(spec: ModelSpec) -> list[tuple[str, str]]:
    return [
        (key, "only the openai provider takes " + key)
        for key in ("base_url", "api_key_env")
        if getattr(spec, key) is not None
    ]


def _check_local(spec: ModelSpec) -> list[tuple[str, str]]:
    problems = _no_endpoint(spec)
    if spec.name not in LOCAL_MODELS:
        problems.insert(0, ("name", f"unknown local model '{spec.name}'; use one of {', '.join(LOCAL_MODELS)}"))
    return problems + [
        (f"kwargs.{key}", "the local provider takes no kwargs; remove it (inference parameters go in params:)")
        for key in spec.kwargs
    ]


def _check_openai(spec: ModelSpec) -> list[tuple[str, str]]:
    """kwargs go to ChatOpenAI: refuse those the spec's own fields set and those ChatOpenAI does not take."""
    problems = []
    for key in spec.kwargs:
        if key in OPENAI_FROM_SPEC:
            problems.append((f"kwargs.{key}", f"set from the spec's own field; write {OPENAI_FROM_SPEC[key]}: instead"))
        elif key not in _chat_openai_arguments():
            problems.append(
                (
                    f"kwargs.{key}",
                    f"ChatOpenAI takes no argument '{key}', so the openai provider cannot "
                    "pass it on; remove it or use the langchain provider",
                )
            )
    return problems


@functools.cache
def _chat_openai_arguments() -> set[str]:
    from langchain_openai import ChatOpenAI  # the openai provider's class: loaded when an openai spec is linted

    fields = ChatOpenAI.model_fields
    return set(fields) | {f.alias for f in fields.values() if f.alias}


def _check_langchain(spec: ModelSpec) -> list[tuple[str, str]]:
    problems = _no_endpoint(spec)
    if not CLASS_PATH.fullmatch(spec.name):
        problems.insert(0, ("name", "a langchain model's name is the class path, such as langchain_openai.ChatOpenAI"))
    return problems


def _grammar(response_model: type[BaseModel]) -> dict[str, Any]:
    """A llama.cpp sampling grammar (llguidance) for the JSON Schema: even a small model emits JSON of the right
    shape. No extra keys, and at most four spaces or newlines between tokens: with the free whitespace of
    `response_format`, Gemma 3 270M wrote tabs until max_tokens cut the grade off, and added keys of its own;
    with none at all, SmolLM2's answers changed for the worse (ragas answer relevancy 0.11 against 0.3+)."""
    schema = {
        **response_model.model_json_schema(),
        "additionalProperties": False,
        "x-guidance": {"whitespace_pattern": "[ \\n]{0,4}"},
    }
    return {"grammar": "%llguidance {}\nstart: %json " + json.dumps(schema)}


def _json_schema(response_model: type[BaseModel]) -> dict[str, Any]:
    """`json_schema` structured output (OpenAI, vLLM, llama.cpp server, recent Ollama)."""
    return {
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": response_model.__name__, "schema": response_model.model_json_schema()},
        }
    }


def _logprobs(top: int) -> dict[str, Any]:
    """OpenAI's chat `logprobs` (llama-cpp-python's chat completion and OpenAI-compatible servers take the same)."""
    return {"logprobs": True, "top_logprobs": top}


def _chat_model(name: str) -> Any:
    """The factory's `name`, imported when a model is built (LangChain's imports take a second; lint needs none)."""

    def build(spec: ModelSpec, rate_limiter: Any) -> Any:
        from . import factory  # LangChain: imported when a model is built, not when a spec is linted

        return getattr(factory, name)(spec, rate_limiter)

    build.__name__ = name
    return build


LOCAL = Provider(
    "local",
    _chat_model("local_chat_model"),
    _check_local,
    concurrency=1,
    priced=False,
    structured_output=_grammar,
    token_logprobs=_logprobs,
)
OPENAI = Provider(
    "openai",
    _chat_model("openai_chat_model"),
    _check_openai,
    structured_output=_json_schema,
    token_logprobs=_logprobs,
)
LANGCHAIN = Provider("langchain", _chat_model("langchain_chat_model"), _check_langchain)
