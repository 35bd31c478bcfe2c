"""Run budgets: stop a run before it spends more tokens or money than allowed, and say so.

Each call reserves a conservative estimate before it starts: its prompt's UTF-8 bytes (a token is at
least one byte) plus a per-message allowance for the chat template, then 1.25 times the largest
tokens-per-byte ratio seen so far; and the configuration's `max_tokens` of output. It settles at the
provider's reported usage when it ends.
A call that does not fit waits for in-flight calls to settle; when nothing is in flight and it still
does not fit, the run stops scheduling calls and keeps what it has.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

DEFAULT_OUTPUT_TOKENS = 1024  # the estimate when a configuration sets no max_tokens
TEMPLATE_TOKENS = 8  # per message, for role markers and separators
MARGIN = 1.25


@dataclass(frozen=True)
class Budget:
    """Limits for one run: total tokens, total cost (USD), and the tokens of any single request."""

    max_tokens: int | None = None
    max_cost_usd: float | None = None
    max_request_tokens: int | None = None

    def __bool__(self) -> bool:
        return any(v is not None for v in (self.max_tokens, self.max_cost_usd, self.max_request_tokens))


@dataclass
class Reservation:
    tokens: int
    cost: float


class BudgetGuard:
    """Shared by a run's concurrent calls: reserve before a call, settle after it."""

    def __init__(self, budget: Budget, max_output_tokens: int | None, price: Callable[[int, int], float | None]):
        self.budget = budget
        self.max_output = max_output_tokens or DEFAULT_OUTPUT_TOKENS
        self.price = price
        self.spent_tokens = 0
        self.spent_cost = 0.0
        self._reserved = Reservation(0, 0.0)
        self._in_flight = 0
        self._tokens_per_byte = 1.0
        self._observed = 0.0
        self.stopped: str | None = None
        self._condition = asyncio.Condition()

    def estimate(self, messages: list[dict[str, str]]) -> tuple[int, int]:
        """Estimated (input, output) tokens of a request; never below what it can cost."""
        size = sum(len(m["content"].encode()) for m in messages)
        return int(size * self._tokens_per_byte) + TEMPLATE_TOKENS * (len(messages) + 1), self.max_output

    def over_request_limit(self, messages: list[dict[str, str]]) -> str | None:
        limit = self.budget.max_request_tokens
        tokens = sum(self.estimate(messages))
        if limit is not None and tokens > limit:
            return f"request over the per-request token limit: about {tokens} tokens > {limit}"
        return None

    async def reserve(self, messages: list[dict[str, str]]) -> Reservation | None:
        """A reservation, or None once the budget is spent (the run then stops scheduling calls)."""
        tokens_in, tokens_out = self.estimate(messages)
        want = Reservation(tokens_in + tokens_out, self.price(tokens_in, tokens_out) or 0.0)
        async with self._condition:
            while True:
                if self.stopped:
                    return None
                reason = self._exceeds(want)
                if reason is None:
                    self._reserved.tokens += want.tokens
                    self._reserved.cost += want.cost
                    self._in_flight += 1
                    return want
                if self._in_flight == 0:
                    self.stopped = reason
                    self._condition.notify_all()
                    return None
                await self._condition.wait()

    async def settle(
        self,
        reservation: Reservation,
        messages: list[dict[str, str]],
        input_tokens: int | None,
        output_tokens: int | None,
        cost: float | None,
        cached: bool,
    ) -> None:
        async with self._condition:
            self._reserved.tokens -= reservation.tokens
            self._reserved.cost -= reservation.cost
            self._in_flight -= 1
            if not cached:
                used_in = input_tokens if input_tokens is not None else reservation.tokens - self.max_output
                used_out = output_tokens if output_tokens is not None else self.max_output
                self.spent_tokens += used_in + used_out
                self.spent_cost += cost if cost is not None else reservation.cost
                size = sum(len(m["content"].encode()) for m in messages)
                if input_tokens and size:
                    self._observed = max(self._observed, input_tokens / size)
                    self._tokens_per_byte = min(1.0, self._observed * MARGIN)
            self._condition.notify_all()

    def _exceeds(self, want: Reservation) -> str | None:
        b = self.budget
        if b.max_tokens is not None and self.spent_tokens + self._reserved.tokens + want.tokens > b.max_tokens:
            return f"token budget {b.max_tokens} reached ({self.spent_tokens} spent)"
        if b.max_cost_usd is not None and self.spent_cost + self._reserved.cost + want.cost > b.max_cost_usd:
            return f"cost budget ${b.max_cost_usd:g} reached (${self.spent_cost:.4f} spent)"
        return None
