"""A simulated chat model of known quality: a LangChain chat model whose answer to a case is right with probability
`accuracy` (decided by a hash of the question and the model's `seed`, so versions with other seeds answer
independently) and whose service time is `latency` seconds times a lognormal jitter (asyncio.sleep: a remote
model's wait, not CPU work)."""

from __future__ import annotations

import asyncio
import hashlib
import math
import time
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult

PROMPT = """\
name: {name}
description: A simulated model of known quality.
model:
  provider: langchain
  name: tests.simulated.SimulatedChatModel
  params: {{seed: {seed}}}
  kwargs: {{accuracy: {accuracy}, latency: {latency}}}
  max_concurrency: {concurrency}
  max_retries: 0
variables: [question, answer]
messages:
  - role: user
    content: "{{question}} The answer is {{answer}}"
"""


class SimulatedChatModel(BaseChatModel):
    accuracy: float = 0.7
    latency: float = 0.01
    jitter: float = 0.2
    seed: int = 0
    temperature: float | None = None
    max_tokens: int | None = None

    @property
    def _llm_type(self) -> str:
        return "simulated"

    def _draw(self, text: str, salt: str, seed: int) -> float:
        digest = hashlib.sha256(f"{seed}|{salt}|{text}".encode()).digest()
        return int.from_bytes(digest[:8], "big") / 2**64

    def _answer(self, messages: list[BaseMessage], seed: int | None = None) -> tuple[ChatResult, float]:
        """The request's seed (a repeat's) wins over the configuration's."""
        text, seed = str(messages[-1].content), self.seed if seed is None else seed
        right = self._draw(text, "right", seed) < self.accuracy
        answer = text.rsplit(" ", 1)[-1] if right else "no idea"
        u = min(max(self._draw(text, "latency", seed), 1e-9), 1 - 1e-9)
        z = math.sqrt(2) * _erfinv(2 * u - 1)
        message = AIMessage(
            content=answer,
            usage_metadata={
                "input_tokens": len(text.split()),
                "output_tokens": 2,
                "total_tokens": len(text.split()) + 2,
            },
        )
        return ChatResult(generations=[ChatGeneration(message=message)]), self.latency * math.exp(self.jitter * z)

    def _generate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kwargs: Any
    ) -> ChatResult:
        result, wait = self._answer(messages, kwargs.get("seed"))
        time.sleep(wait)
        return result

    async def _agenerate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kwargs: Any
    ) -> ChatResult:
        result, wait = self._answer(messages, kwargs.get("seed"))
        await asyncio.sleep(wait)
        return result


def _erfinv(y: float) -> float:
    """Inverse error function (Giles' approximation is plenty for a latency jitter)."""
    w = -math.log((1.0 - y) * (1.0 + y))
    if w < 5:
        w -= 2.5
        p = 2.81022636e-08
        for c in (
            3.43273939e-07,
            -3.5233877e-06,
            -4.39150654e-06,
            0.00021858087,
            -0.00125372503,
            -0.00417768164,
            0.246640727,
            1.50140941,
        ):
            p = c + p * w
    else:
        w = math.sqrt(w) - 3
        p = -0.000200214257
        for c in (
            0.000100950558,
            0.00134934322,
            -0.00367342844,
            0.00573950773,
            -0.0076224613,
            0.00943887047,
            1.00167406,
            2.83297682,
        ):
            p = c + p * w
    return p * y


def write_project(root, cases: int = 40, versions: dict[str, dict] | None = None) -> None:
    """prompts/sim/<version>.yaml for each version's settings, and datasets/sim/1.jsonl with `cases` cases."""
    import json

    folder = root / "prompts" / "sim"
    folder.mkdir(parents=True, exist_ok=True)
    for version, settings in (versions or {"1.0.0": {}, "1.1.0": {"seed": 1}}).items():
        values = {"name": "sim", "seed": 0, "accuracy": 0.7, "latency": 0.02, "concurrency": 4, **settings}
        (folder / f"{version}.yaml").write_text(PROMPT.format(**values))
    (root / "datasets" / "sim").mkdir(parents=True, exist_ok=True)
    lines = [
        json.dumps(
            {
                "id": f"case-{i:03d}",
                "inputs": {"question": f"Question {i}?", "answer": f"word{i}"},
                "checks": {"must_contain": [f"word{i}"]},
            }
        )
        for i in range(cases)
    ]
    (root / "datasets" / "sim" / "1.jsonl").write_text("\n".join(lines) + "\n")
