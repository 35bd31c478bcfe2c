"""Call a configuration's model: cache, concurrency bound, retries and fallbacks, usage, latency and cost
per call; known secrets are hidden from answers and errors before they are cached or returned.

A call may also ask for JSON of a pydantic class (`schema`) and for token log probabilities (`logprobs`):
each model of the chain gets them in its provider's own request options (`Provider.structured_output`,
`Provider.token_logprobs`), a provider that cannot enforce them gets none, and both are in the cache key."""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, fields
from functools import partial
from typing import Any

from pydantic import BaseModel

from .. import secrets
from ..plugins import provider
from ..prompts import ModelSpec, PromptSpec
from .cache import ResponseCache, request_key
from .factory import chat_model
from .local import runtime
from .pricing import cost
from .retry import Failed, Policy, call

#: Fields of a model spec that change how a call is made, not what it answers.
OPERATIONAL = {"timeout", "max_retries", "backoff", "max_wait", "max_concurrency", "requests_per_second"}


@dataclass(frozen=True)
class Response:
    """One model answer, or the error that stopped it."""

    text: str | None
    model: str
    latency_s: float
    input_tokens: int | None = None
    output_tokens: int | None = None
    cost: float | None = None
    cached: bool = False
    error: str | None = None
    redactions: int = 0  # personal data found and redacted from the text before it was cached or returned
    #: per generated token, when asked and given: {"token": text, "top": {alternative: log probability}}
    logprobs: list[dict[str, Any]] | None = None


class ModelClient:
    """Calls one configuration's model, then each fallback, each with its own retry budget
    (`Policy`); `calls` counts requests that reached a model."""

    def __init__(
        self,
        spec: PromptSpec,
        cache: ResponseCache | None = None,
        pricing: dict[str, dict[str, float]] | None = None,
        concurrency: int | None = None,
        redact: Callable[[str], tuple[str, int]] | None = None,
    ):
        self.spec = spec
        self.cache = cache
        self.pricing = pricing or {}
        self.concurrency = concurrency or spec.model.max_concurrency or provider(spec.model.provider).concurrency
        self.calls = 0
        self.redact = redact
        self.chain = [(m, chat_model(m)) for m in [spec.model, *spec.fallbacks]]
        self._models = {"model": _keyed(spec.model), "fallbacks": [_keyed(m) for m in spec.fallbacks]}
        for model, _ in self.chain:
            secrets.remember_spec(model)
        self._semaphores: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # one per event loop

    @property
    def deadline(self) -> float:
        """The longest one call can take: the sum of each model's retry budget, waits included."""
        return sum(Policy.of(m).budget for m, _ in self.chain)

    def price(self, input_tokens: int, output_tokens: int) -> float | None:
        """What a call of the primary model with this usage costs (None when the pricing table lacks it)."""
        return cost(self.spec.model.provider, self.spec.model.name, input_tokens, output_tokens, self.pricing)

    def request(
        self,
        messages: list[dict[str, str]],
        seed: int | None = None,
        schema: type[BaseModel] | None = None,
        logprobs: int | None = None,
    ) -> dict[str, Any]:
        """The fully resolved request, as the cache keys it."""
        request: dict[str, Any] = {**self._models, "messages": messages}
        if seed is not None:
            request["seed"] = seed
        if schema is not None:
            request["output_schema"] = schema.model_json_schema()
        if logprobs:
            request["top_logprobs"] = logprobs
        return request

    async def acall(
        self,
        messages: list[dict[str, str]],
        seed: int | None = None,
        use_cache: bool = True,
        schema: type[BaseModel] | None = None,
        logprobs: int | None = None,
    ) -> Response:
        """One answer. `seed` overrides the configuration's; `use_cache=False` neither reads nor writes the cache;
        `schema`: ask for JSON of this class where the provider can enforce it; `logprobs`: ask for each token's
        that many likeliest alternatives where the provider gives them."""
        request = self.request(messages, seed, schema, logprobs)
        key = request_key(request) if self.cache is not None and use_cache else None
        if key and self.cache is not None and (hit := self.cache.get(key)):
            return self._hit(hit)
        return await self._call(messages, seed, key, schema, logprobs)

    def cached(self, messages: list[dict[str, str]]) -> Response | None:
        """The cached answer to this request, if there is one (no model call)."""
        hit = self.cache.get(request_key(self.request(messages))) if self.cache is not None else None
        return self._hit(hit) if hit else None

    def _hit(self, hit: dict[str, Any]) -> Response:
        # hidden again on the way out: a key learnt since (or an older cache) never reaches a result
        text = hit.get("text")
        return Response(**{**hit, "text": secrets.hide(text) if text is not None else None, "cached": True})

    async def _call(
        self,
        messages: list[dict[str, str]],
        seed: int | None,
        key: str | None,
        schema: type[BaseModel] | None = None,
        logprobs: int | None = None,
    ) -> Response:
        loop = asyncio.get_running_loop()
        semaphore = self._semaphores.get(loop) or self._semaphores.setdefault(loop, asyncio.Semaphore(self.concurrency))
        async with semaphore:
            self.calls += 1
            start = time.perf_counter()
            chat = [(m["role"], m["content"]) for m in messages]
            errors = []
            for spec, model in self.chain:
                options = _options(spec, seed, schema, logprobs)
                try:
                    message = await call(partial(model.ainvoke, chat, **options), Policy.of(spec))
                    break
                except Failed as exc:  # recorded per case; the next model is tried, the run goes on
                    errors.append(f"{spec.name}: {exc}" if len(self.chain) > 1 else str(exc))
            else:
                return Response(
                    text=None,
                    model=self.spec.model.name,
                    latency_s=time.perf_counter() - start,
                    error=secrets.hide("; ".join(errors)),
                )
            latency = time.perf_counter() - start
        response = self._response(spec, message, latency)
        if key and self.cache is not None:
            self.cache.put(key, {f.name: getattr(response, f.name) for f in fields(response) if f.name != "cached"})
        return response

    def _response(self, spec: ModelSpec, message: Any, latency: float) -> Response:
        usage = message.usage_metadata or {}
        tokens_in, tokens_out = usage.get("input_tokens"), usage.get("output_tokens")
        text = secrets.hide(message.content if isinstance(message.content, str) else message.text)
        hidden = text != (message.content if isinstance(message.content, str) else message.text)
        text, redactions = self.redact(text) if self.redact else (text, 0)
        # tokens would spell out what was hidden or redacted: an answer that had any keeps none
        logprobs = None if hidden or redactions else _token_logprobs(message.response_metadata.get("logprobs"))
        return Response(
            text=text,
            model=spec.name,
            latency_s=latency,
            input_tokens=tokens_in,
            output_tokens=tokens_out,
            redactions=redactions,
            cost=cost(spec.provider, spec.name, tokens_in, tokens_out, self.pricing),
            logprobs=logprobs,
        )


def _options(spec: ModelSpec, seed: int | None, schema: type[BaseModel] | None, logprobs: int | None) -> dict[str, Any]:
    """One model's request options for a call, in its provider's terms."""
    kind = provider(spec.provider)
    return {
        **({} if seed is None else {"seed": seed}),
        **(kind.structured_output(schema) if schema is not None else {}),
        **(kind.token_logprobs(logprobs) if logprobs else {}),
    }


def _token_logprobs(given: Any) -> list[dict[str, Any]] | None:
    """OpenAI's chat `logprobs` ({"content": [{"token", "logprob", "top_logprobs": [...]}]}) made compact;
    None when the answer has none or they are not of that shape (a provider's reply is untrusted)."""
    try:
        return [
            {
                "token": str(t["token"]),
                "top": {str(a["token"]): float(a["logprob"]) for a in t.get("top_logprobs") or []}
                | {str(t["token"]): float(t["logprob"])},
            }
            for t in given["content"]
        ]
    except (KeyError, TypeError, ValueError):
        return None


def _keyed(model: ModelSpec) -> dict[str, Any]:
    """What of a model spec a request's cache key covers: all but the operational fields, and a local model's
    runtime (an answer cached from another llama.cpp is not this one's)."""
    keyed = {k: v for k, v in model.model_dump(mode="json", exclude_none=True).items() if k not in OPERATIONAL}
    return {**keyed, "runtime": runtime()} if model.provider == "local" else keyed
