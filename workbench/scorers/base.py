"""The scorer contract.

A scorer is declared as a factory whose keyword arguments configure it; the factory returns a
plain function `(sample) -> value`, sync or async, where a `Sample` holds the output, the case and
what the run retrieved. `@scorer` registers the factory by
name and records the arguments of each instance, so a run's scorers are reproducible from
their specs. The value's type carries its meaning: bool = assertion, number = score,
str = label, None = not applicable; `Score` adds a reason.
"""

from __future__ import annotations

import inspect
import json
from dataclasses import dataclass, field
from typing import Any, Callable

from ..datasets import Case
from ..errors import WorkbenchError

Value = bool | int | float | str | None
REGISTRY: dict[str, Callable[..., "Scorer"]] = {}


@dataclass(frozen=True)
class Sample:
    """What a scorer sees of one case: the output, the case, and the chunks retrieved for it (RAG)."""

    output: str
    case: Case
    chunks: list[dict[str, Any]] = field(default_factory=list)

    @property
    def contexts(self) -> list[str]:
        return [c["text"] for c in self.chunks]


@dataclass(frozen=True)
class Score:
    value: Value
    reason: str | None = None


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

        def build(*args: Any, **kwargs: Any) -> Scorer:
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            recorded = {k: v for k, v in bound.arguments.items()}
            json.dumps(recorded, default=str)  # specs must be loggable
            return Scorer(name=key, args=recorded, fn=factory(*bound.args, **bound.kwargs))

        build.__name__ = key
        build.__doc__ = factory.__doc__
        build.__wrapped__ = factory
        REGISTRY[key] = build
        return build

    return register(factory) if factory is not None else register


def get_scorer(name: str, **args: Any) -> Scorer:
    """Build a registered scorer by name, such as `get_scorer("forbidden_terms", terms=["As an AI"])`."""
    if name not in REGISTRY:
        raise WorkbenchError(f"scorer '{name}' is not registered; known: {', '.join(sorted(REGISTRY))}")
    try:
        return REGISTRY[name](**args)
    except TypeError as exc:
        raise WorkbenchError(f"scorer '{name}': {exc}") from None


def from_spec(spec: str | dict[str, Any]) -> Scorer:
    """`"name"` or `{"name": ..., "args": {...}}`, as logged with every run."""
    if isinstance(spec, str):
        return get_scorer(spec)
    return get_scorer(spec["name"], **spec.get("args", {}))
