"""Pinned configurations: `prompts/<name>/<semver>.yaml`."""

from .lint import Problem, check
from .schema import LOCAL_MODELS, GuardrailPolicy, ModelSpec, Params, PromptSpec, Retrieval
from .store import Prompt, content_hash, diff, load_prompt, lock_hash, names, production, promote, resolve, versions

__all__ = [
    "LOCAL_MODELS",
    "GuardrailPolicy",
    "ModelSpec",
    "Params",
    "Problem",
    "Prompt",
    "PromptSpec",
    "Retrieval",
    "check",
    "content_hash",
    "diff",
    "load_prompt",
    "lock_hash",
    "names",
    "production",
    "promote",
    "resolve",
    "versions",
]
