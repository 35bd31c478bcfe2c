"""The pinned configuration's schema: what a `prompts/<name>/<semver>.yaml` may hold."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..guardrails.policy import GuardrailPolicy

LOCAL_MODELS = ("smollm2-135m", "gemma3-270m")
PROVIDERS = ("local", "openai", "langchain")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


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

    provider: Literal["local", "openai", "langchain"] = "local"
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
