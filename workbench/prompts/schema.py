"""The pinned configuration's schema: what a `prompts/<name>/<semver>.yaml` may hold."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..plugins import provider_names
from ..yamlfiles import load_model, validate

LOCAL_MODELS = ("smollm2-135m", "gemma3-270m")
PiiKind = Literal["EMAIL", "PHONE", "CARD", "IBAN", "NATIONAL_ID"]
#: Kinds of personal data the guardrails find (see `workbench.guardrails.pii`).
KINDS: tuple[PiiKind, ...] = ("EMAIL", "PHONE", "CARD", "IBAN", "NATIONAL_ID")
#: Regions whose national phone formats count; numbers written with +<country code> are found in any.
DEFAULT_REGIONS = ("US", "GB", "DE", "FR", "NL")
#: Injection score at which a text counts as an injection attempt.
DEFAULT_THRESHOLD = 0.5


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


DEFAULT_FALLBACK = "Sorry, I can't help with that request. Please contact support."


class GuardrailPolicy(BaseModel):
    """What is checked, and what happens when a check fires."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, serialize_by_alias=True)
    pii: Literal["off", "detect", "redact", "block"] = "redact"
    pii_kinds: list[PiiKind] = list(KINDS)
    pii_allow: list[str] = []  # values that are not personal data here, e.g. the product's support address
    pii_regions: list[str] = list(DEFAULT_REGIONS)
    injection: bool = True
    injection_threshold: float = Field(DEFAULT_THRESHOLD, gt=0, le=1)
    injection_judge: str | None = None  # a pinned configuration `name@version` with one variable, text
    forbidden: list[str] = []
    schema_: bool = Field(False, alias="schema")  # check outputs against the configuration's output_schema
    fallback_answer: str = Field(DEFAULT_FALLBACK, min_length=1)

    @classmethod
    def load(cls, path: str | Path) -> GuardrailPolicy:
        """A policy from a YAML file; every problem is named with the file and the field."""
        return load_model(cls, path, "the guardrail policy")

    @classmethod
    def parse(cls, data: Any, source: str = "guardrails") -> GuardrailPolicy:
        """A policy from a mapping (a configuration's `guardrails:` block, a scorer's argument)."""
        return data if isinstance(data, GuardrailPolicy) else validate(cls, data or {}, source)


class Params(_Strict):
    """Inference parameters, passed to every provider that supports them."""

    temperature: float | None = Field(None, ge=0, le=2)
    max_tokens: int | None = Field(None, ge=1, le=32768)
    top_p: float | None = Field(None, gt=0, le=1)
    top_k: int | None = Field(None, ge=1, le=1000)
    seed: int | None = Field(None, ge=0)
    stop: list[str] | None = Field(None, max_length=4)
    frequency_penalty: float | None = Field(None, ge=-2, le=2)
    presence_penalty: float | None = Field(None, ge=-2, le=2)


class ModelSpec(_Strict):
    """Which model answers, and how it is called."""

    provider: str = "local"  # a registered provider (see workbench.plugins): local, openai, langchain or a plug-in's
    name: str = Field(min_length=1)
    params: Params = Params()
    base_url: str | None = None
    api_key_env: str | None = Field(None, pattern=r"^[A-Z_][A-Z0-9_]*$")
    kwargs: dict[str, Any] = {}
    timeout: float = Field(120.0, gt=0, le=3600)
    max_retries: int = Field(2, ge=0, le=10)
    backoff: float | None = Field(None, ge=0, le=60)  # seconds before the first retry (default 0.5), doubled after
    max_wait: float | None = Field(None, ge=0, le=600)  # longest wait between attempts, Retry-After too (default 30)
    max_concurrency: int | None = Field(None, ge=1, le=256)
    requests_per_second: float | None = Field(None, gt=0)

    @field_validator("provider")
    @classmethod
    def _registered(cls, value: str) -> str:
        if value not in provider_names():
            raise ValueError(
                f"'{value}' is not allowed; use one of {', '.join(provider_names())} "
                "(or install the plug-in that registers it)"
            )
        return value


class Message(_Strict):
    role: Literal["system", "user", "assistant"]
    content: str = Field(min_length=1)


class Retrieval(_Strict):
    """How context is retrieved for `{context}`; used by the RAG layer."""

    corpus: str = Field(min_length=1)
    query_variable: str = "question"
    mode: Literal["semantic", "bm25", "hybrid"] = "semantic"
    k: int = Field(4, ge=1, le=100)
    chunk_size: int = Field(500, ge=50, le=8000)
    chunk_overlap: int = Field(50, ge=0)
    rerank: Literal["none", "mmr", "embedding"] = "none"
    filters: dict[str, Any] = {}

    @model_validator(mode="after")
    def _overlap_below_size(self) -> Retrieval:
        if self.chunk_overlap >= self.chunk_size:
            raise ValueError("chunk_overlap must be smaller than chunk_size")
        return self


class PromptSpec(_Strict):
    """The whole pinned configuration. Its canonical JSON is what the content hash covers."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    description: str = Field(min_length=1)
    model: ModelSpec
    fallbacks: list[ModelSpec] = []
    variables: list[str] = []
    messages: list[Message] = Field(min_length=1)
    retrieval: Retrieval | None = None
    output_schema: dict[str, Any] | None = None
    guardrails: GuardrailPolicy | None = None
    tags: list[str] = []

    @field_validator("output_schema")
    @classmethod
    def _is_json_schema(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None:
            import jsonschema

            try:
                jsonschema.Draft202012Validator.check_schema(value)
            except jsonschema.SchemaError as exc:
                raise ValueError(f"not a valid JSON Schema: {exc.message}") from None
        return value


#: Keys a user might try, and what to write instead.
HINTS = {
    "version": "the version is the file name (prompts/<name>/<semver>.yaml); remove this key",
    "api_key": "API keys come from environment variables only; write api_key_env: OPENAI_API_KEY",
    "fallback": "write fallbacks: a list of model specs",
    "model_name": "write name:",
    "max_new_tokens": "write max_tokens:",
}


def content_hash(spec: PromptSpec) -> str:
    """sha256 over the canonical configuration: key order, comments and layout do not count, and neither
    do unset optional blocks, so adding an optional field to the schema keeps every existing hash."""
    canonical = json.dumps(
        spec.model_dump(mode="json", exclude_none=True, by_alias=True), sort_keys=True, separators=(",", ":")
    )
    return hashlib.sha256(canonical.encode()).hexdigest()
