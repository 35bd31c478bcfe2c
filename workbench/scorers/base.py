"""The scorer contract.

A scorer is declared as a factory whose keyword arguments configure it; the factory returns a
plain function `(sample) -> value`, sync or async, where a `Sample` holds the output, the case and
what the run retrieved. A factory that needs the project (a judge resolving its configuration) declares a
keyword-only `settings` parameter: the project's `Settings` are passed in, never recorded in the spec. `@scorer` registers the factory by
name and records the arguments of each instance, so a run's scorers are reproducible from
their specs. The value's type carries its meaning: bool = assertion, number = score,
str = label, None = not applicable; `Score` adds a reason.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..datasets import Case
from ..errors import WorkbenchError
from ..plugins import load_scorer_plugins
from ..settings import Settings

Value = bool | int | float | str | None
REGISTRY: dict[str, Callable[..., Scorer]] = {}


@dataclass(frozen=True)
class Sample:
    """What a scorer sees of one case: the output, the case, and the chunks retrieved for it (RAG)."""

    output: str
    case: Case
    chunks: list[dict[str, Any]] = field(default_factory=list)
    output_schema: dict[str, Any] | None = None  # the configuration's, for schema checks

    @property
    def contexts(self) -> list[str]:
        return [c["text"] for c in self.chunks]


@dataclass(frozen=True)
class Score:
    """A value with an optional reason; `passed` marks a number that also has a pass threshold."""

    value: Value
    reason: str | None = None
    passed: bool | None = None


@dataclass(frozen=True)
class Scorer:
    """A configured scorer: its name, the arguments it was built with, and the function."""

    name: str
    args: dict[str, Any]
    fn: Callable[[Sample], Any] = field(repr=False, compare=False)

    @property
    def spec(self) -> dict[str, Any]:
        return {"name": self.name, "args": self.args}

    async def score(self, sample: Sample) -> Score:
        value = self.fn(sample)
        if inspect.isawaitable(value):
            value = await value
        return value if isinstance(value, Score) else Score(value)


def scorer(factory: Callable[..., Callable[[Sample], Any]] | None = None, *, name: str | None = None):
    """Register a scorer factory; calling it returns a `Scorer` that remembers its arguments."""

    def register(factory: Callable[..., Callable[[Sample], Any]]) -> Callable[..., Scorer]:
        key = name or factory.__name__
        signature = inspect.signature(factory)
        wants_settings = "settings" in signature.parameters

        def build(*args: Any, settings: Settings | None = None, **kwargs: Any) -> Scorer:
            if wants_settings:
                kwargs["settings"] = settings or Settings.load()
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            recorded = {k: v for k, v in bound.arguments.items() if k != "settings"}
            json.dumps(recorded, default=str)  # specs must be loggable
            return Scorer(name=key, args=recorded, fn=factory(*bound.args, **bound.kwargs))

        build.__name__ = key
        build.__doc__ = factory.__doc__
        build.__wrapped__ = factory  # type: ignore[attr-defined]
        REGISTRY[key] = build
        return build

    return register(factory) if factory is not None else register


def get_scorer(name: str, settings: Settings | None = None, **args: Any) -> Scorer:
    """Build a registered scorer by name, such as `get_scorer("forbidden_terms", terms=["As an AI"])`.

    `settings` is the project a judge resolves its configuration in (default: the one found from here)."""
    if name not in REGISTRY:
        load_scorer_plugins()  # scorers of installed plug-ins register when their module is imported
    if name not in REGISTRY:
        raise WorkbenchError(f"scorer '{name}' is not registered; known: {', '.join(sorted(REGISTRY))}")
    try:
        return REGISTRY[name](settings=settings, **args)
    except TypeError as exc:
        raise WorkbenchError(f"scorer '{name}': {exc}") from None


def from_spec(spec: str | dict[str, Any], settings: Settings | None = None) -> Scorer:
    """`"name"` or `{"name": ..., "args": {...}}`, as logged with every run.

    A name `package.module:attribute` imports a custom scorer: a `@scorer` factory (built with the
    args) or a plain `(sample) -> value` function.
    """
    name, args = (spec, {}) if isinstance(spec, str) else (spec["name"], spec.get("args", {}))
    if ":" in name and name not in REGISTRY:
        return _import_scorer(name, args, settings)
    return get_scorer(name, settings, **args)


def _import_scorer(path: str, args: dict[str, Any], settings: Settings | None) -> Scorer:
    import importlib

    module, _, attribute = path.partition(":")
    try:
        target = getattr(importlib.import_module(module), attribute)
    except (ImportError, AttributeError) as exc:
        raise WorkbenchError(f"scorer '{path}': cannot import it ({exc}); check the module path") from None
    registered = getattr(target, "__name__", "")
    if getattr(target, "__wrapped__", None) is not None and REGISTRY.get(registered) is target:
        return get_scorer(registered, settings, **args)
    if args:
        raise WorkbenchError(
            f"scorer '{path}' is a plain function; it takes no arguments (decorate a factory with @scorer)"
        )
    return Scorer(name=path, args={}, fn=target)
