"""The plug-in contract: model providers and scorers register through Python entry points.

A package adds a provider by exposing a `Provider` under the `workbench.providers` entry-point group, and
scorers by exposing a module (whose `@scorer` factories register on import) under `workbench.scorers`.
The built-in providers (`local`, `openai`, `langchain`) and scorers are registered exactly that way, in the
workbench's own `pyproject.toml`: nothing else in the package names a provider. In a plug-in's
`pyproject.toml`:

    [project.entry-points."workbench.providers"]
    echo = "workbench_echo:PROVIDER"
    [project.entry-points."workbench.scorers"]
    echo = "workbench_echo.scorers"
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib.metadata import entry_points
from typing import Any

from .errors import WorkbenchError

#: A configuration's model spec (`workbench.prompts.ModelSpec`); typed loosely here, below the schema that names providers.
ModelSpec = Any

PROVIDERS_GROUP = "workbench.providers"
SCORERS_GROUP = "workbench.scorers"


def _no_problems(spec: ModelSpec) -> list[tuple[str, str]]:
    return []


def _unconstrained(response_model: type) -> dict[str, Any]:
    return {}


def _no_logprobs(top: int) -> dict[str, Any]:
    return {}


@dataclass(frozen=True)
class Provider:
    """Everything the workbench knows of one model provider, in one place."""

    name: str
    #: (model spec, rate limiter or None) -> a LangChain chat model
    chat_model: Callable[[ModelSpec, Any], Any]
    #: lint rules: (field under the model spec, message with the fix) for each problem
    check: Callable[[ModelSpec], list[tuple[str, str]]] = _no_problems
    #: calls in flight when the configuration does not say (`model.max_concurrency`)
    concurrency: int = 8
    #: False: calls cost nothing (local models); True: priced from the pricing table
    priced: bool = True
    #: request options that make the model answer JSON of a pydantic class (judges), where it can enforce it
    structured_output: Callable[[type], dict[str, Any]] = _unconstrained
    #: request options that make the model return each generated token's `top` likeliest alternatives with
    #: their log probabilities (OpenAI's `logprobs` format in `response_metadata`), where it can
    token_logprobs: Callable[[int], dict[str, Any]] = _no_logprobs


@cache
def provider_names() -> tuple[str, ...]:
    """The registered providers' names (read from package metadata; nothing is imported)."""
    return tuple(sorted({ep.name for ep in entry_points(group=PROVIDERS_GROUP)}))


@cache
def provider(name: str) -> Provider:
    """The registered provider `name`, loaded from its entry point."""
    found = [ep for ep in entry_points(group=PROVIDERS_GROUP) if ep.name == name]
    if not found:
        raise WorkbenchError(
            f"model.provider: '{name}' is not a registered provider; use one of "
            f"{', '.join(provider_names())} or install the plug-in that provides it"
        )
    loaded = found[0].load()
    if not isinstance(loaded, Provider) or loaded.name != name:
        raise WorkbenchError(
            f"entry point {found[0].value} ({PROVIDERS_GROUP}): not a workbench Provider named '{name}'"
        )
    return loaded


@cache
def load_scorer_plugins() -> tuple[str, ...]:
    """Import every module registered under `workbench.scorers`, so their `@scorer` factories register."""
    loaded = []
    for ep in entry_points(group=SCORERS_GROUP):
        try:
            ep.load()
        except Exception as exc:  # a broken plug-in is named, not a traceback from deep inside the registry
            raise WorkbenchError(
                f"scorer plug-in '{ep.name}' ({ep.value}) failed to load: {type(exc).__name__}: {exc}; "
                "fix or uninstall that package"
            ) from None
        loaded.append(ep.name)
    return tuple(loaded)
