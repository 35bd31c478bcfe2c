"""The built-in providers, registered through the `workbench.providers` entry points like any plug-in."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel

from ..plugins import Provider
from ..prompts.schema import LOCAL_MODELS, ModelSpec
from .factory import langchain_chat_model, local_chat_model, openai_chat_model

CLASS_PATH = re.compile(r"[A-Za-z_][\w.]*\.[A-Za-z_]\w*")


def _no_endpoint(spec: ModelSpec) -> list[tuple[str, str]]:
    return [(key, "only the openai provider takes " + key) for key in ("base_url", "api_key_env")
            if getattr(spec, key) is not None]


def _check_local(spec: ModelSpec) -> list[tuple[str, str]]:
    problems = _no_endpoint(spec)
    if spec.name not in LOCAL_MODELS:
        problems.insert(0, ("name", f"unknown local model '{spec.name}'; use one of {', '.join(LOCAL_MODELS)}"))
    return problems


def _check_langchain(spec: ModelSpec) -> list[tuple[str, str]]:
    problems = _no_endpoint(spec)
    if not CLASS_PATH.fullmatch(spec.name):
        problems.insert(0, ("name", "a langchain model's name is the class path, such as langchain_openai.ChatOpenAI"))
    return problems


def _grammar(response_model: type[BaseModel]) -> dict[str, Any]:
    """llama.cpp turns the JSON Schema into a sampling grammar: even a small model emits JSON of the right shape."""
    return {"response_format": {"type": "json_object", "schema": response_model.model_json_schema()}}


def _json_schema(response_model: type[BaseModel]) -> dict[str, Any]:
    """`json_schema` structured output (OpenAI, vLLM, llama.cpp server, recent Ollama)."""
    return {"response_format": {"type": "json_schema", "json_schema": {
        "name": response_model.__name__, "schema": response_model.model_json_schema()}}}


LOCAL = Provider("local", local_chat_model, _check_local, concurrency=1, priced=False, structured_output=_grammar)
OPENAI = Provider("openai", openai_chat_model, structured_output=_json_schema)
LANGCHAIN = Provider("langchain", langchain_chat_model, _check_langchain)
