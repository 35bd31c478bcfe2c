"""Retries as configured: a timeout per attempt, waits that follow the server's `Retry-After` or an
exponential backoff, and a budget per model that counts every wait, so a fallback always gets its own.

A model spec's `max_retries`, `timeout`, `backoff` (first wait, doubled each retry, with jitter) and
`max_wait` (the longest wait, whether backoff or `Retry-After`) make its `Policy`; its budget is
`attempts x timeout + retries x max_wait`, and a whole call (the model, then each fallback) is bounded
by the sum of the budgets. Errors say what happened: the status and a short excerpt of what the server
sent, or `timed out after 12.0 s`, and which attempt it was.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from ..secrets import hide, remember_spec

T = TypeVar("T")
DEFAULT_BACKOFF = 0.5  # seconds before the first retry, as the openai SDK
DEFAULT_MAX_WAIT = 30.0  # the longest wait between attempts, a server's Retry-After included
EXCERPT = 160  # characters of a server's answer quoted in an error


class MalformedResponse(Exception):
    """A 2xx answer that is not a chat completion (not JSON, no choices): worth another attempt."""


class Failed(Exception):
    """Every attempt of one model failed; the message says what happened the last time, and when."""


@dataclass(frozen=True)
class Policy:
    attempts: int
    timeout: float
    backoff: float = DEFAULT_BACKOFF
    max_wait: float = DEFAULT_MAX_WAIT

    @classmethod
    def of(cls, spec: Any) -> Policy:
        backoff, max_wait = getattr(spec, "backoff", None), getattr(spec, "max_wait", None)
        return cls(
            attempts=spec.max_retries + 1,
            timeout=spec.timeout,
            backoff=DEFAULT_BACKOFF if backoff is None else backoff,
            max_wait=DEFAULT_MAX_WAIT if max_wait is None else max_wait,
        )

    @property
    def budget(self) -> float:
        """The longest this model can take: every attempt timing out, every wait at its cap."""
        return self.attempts * self.timeout + (self.attempts - 1) * self.max_wait

    def wait(self, attempt: int, retry_after: float | None) -> float:
        """Seconds before attempt `attempt + 1`: the server's Retry-After (capped), else jittered backoff."""
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_wait)
        return min(self.backoff * 2 ** (attempt - 1), self.max_wait) * random.uniform(0.75, 1.0)


async def call(make: Callable[[], Awaitable[T]], policy: Policy) -> T:
    """`await make()` until it succeeds, a non-transient error, or the last attempt; raises `Failed`."""
    for attempt in range(1, policy.attempts + 1):
        of = f"(attempt {attempt} of {policy.attempts})"
        start = time.perf_counter()
        try:
            async with asyncio.timeout(policy.timeout):  # in this task: no task per call, as `wait_for` makes
                return await make()
        except Exception as exc:
            transient, message, retry_after = explain(exc, time.perf_counter() - start, policy.timeout)
            if not transient or attempt == policy.attempts:
                raise Failed(f"{message} {of}") from exc
            wait = policy.wait(attempt, retry_after)
        await asyncio.sleep(wait)
    raise AssertionError("unreachable")


class Retrying:
    """A chat model whose `ainvoke` retries as its spec says and hides known secrets in the answer, for
    callers that hold a bare model (ragas' judge)."""

    def __init__(self, model: Any, spec: Any):
        self.model, self.policy = model, Policy.of(spec)
        remember_spec(spec)

    async def ainvoke(self, *args: Any, **kwargs: Any) -> Any:
        message = await call(lambda: self.model.ainvoke(*args, **kwargs), self.policy)
        if isinstance(message.content, str):
            message = message.model_copy(update={"content": hide(message.content)})
        return message


def explain(exc: BaseException, elapsed: float, timeout: float) -> tuple[bool, str, float | None]:
    """(worth another attempt, what happened, the server's Retry-After in seconds)."""
    import openai

    if isinstance(exc, (TimeoutError, openai.APITimeoutError)):
        return True, f"timed out after {min(elapsed, timeout):.1f} s", None
    if isinstance(exc, MalformedResponse):
        return True, hide(str(exc)), None
    if isinstance(exc, json.JSONDecodeError):  # the openai SDK parsing a 200 that is not JSON
        return True, malformed(200, exc.doc if isinstance(exc.doc, str) else "", "a body that is not JSON"), None
    status = getattr(exc, "status_code", None)
    if isinstance(status, int):
        response = getattr(exc, "response", None)
        headers = getattr(response, "headers", None) or {}
        should = str(headers.get("x-should-retry", "")).lower()
        transient = should == "true" or (should != "false" and (status in (408, 409, 429) or status >= 500))
        body = _text(response)
        return (
            transient,
            hide(f"HTTP {status}{_reason(response)}: {excerpt(body) if body else exc}"),
            retry_after(headers),
        )
    if isinstance(exc, (ConnectionError, openai.APIConnectionError)):
        cause = exc.__cause__ or exc.__context__
        detail = f"{type(exc).__name__}: {exc}" + (f" ({type(cause).__name__}: {cause})" if cause else "")
        return True, hide(detail), None
    return False, hide(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__), None


def malformed(status: int, body: str, problem: str) -> str:
    """The message for an answer that is not a chat completion."""
    return hide(f"the server answered HTTP {status} with {problem}: {excerpt(body) if body else '(empty body)'}")


def excerpt(text: str) -> str:
    """The start of what a server sent, secrets hidden before it is cut (so no half key survives)."""
    text = " ".join(hide(text).split())
    return repr(text if len(text) <= EXCERPT else text[:EXCERPT] + "...")


def retry_after(headers: Any) -> float | None:
    """Seconds from `retry-after-ms`, or `Retry-After` as seconds or an HTTP date; None when absent."""
    try:
        return float(headers.get("retry-after-ms")) / 1000
    except (TypeError, ValueError):
        pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        return email.utils.parsedate_to_datetime(value).timestamp() - time.time()
    except (TypeError, ValueError, IndexError):
        return None


def _text(response: Any) -> str:
    try:
        return response.text if response is not None else ""
    except Exception:  # noqa: BLE001 - a streamed body that was never read has no text to quote
        return ""


def _reason(response: Any) -> str:
    phrase = getattr(response, "reason_phrase", "") if response is not None else ""
    return f" {phrase}" if phrase else ""
