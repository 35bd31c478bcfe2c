"""Helpers shared by the benchmarks: a throwaway project folder with one configuration and one dataset."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult

from workbench.settings import Settings

INSTANT_MODEL = """\
  provider: langchain
  name: _project.InstantChatModel"""


class InstantChatModel(BaseChatModel):
    """A chat model that answers at once, natively async, with usage: the runner's overhead is all that is left."""

    @property
    def _llm_type(self) -> str:
        return "instant"

    def _result(self, messages: list[BaseMessage]) -> ChatResult:
        text = "Paris is the capital of France."
        usage = {
            "input_tokens": sum(len(str(m.content).split()) for m in messages),
            "output_tokens": 6,
            "total_tokens": 0,
        }
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text, usage_metadata=usage))])

    def _generate(self, messages, stop=None, run_manager=None, **kwargs) -> ChatResult:
        return self._result(messages)

    async def _agenerate(self, messages, stop=None, run_manager=None, **kwargs) -> ChatResult:
        return self._result(messages)


def make_project(model_block: str, cases: int, name: str = "bench", root: Path | None = None) -> Settings:
    """A project folder: prompts/<name>/1.0.0.yaml with the given model block, datasets/<name>/1.jsonl."""
    root = root or Path(tempfile.mkdtemp(prefix="wb-bench-"))
    (root / "prompts" / name).mkdir(parents=True)
    (root / "prompts" / name / "1.0.0.yaml").write_text(
        f"name: {name}\ndescription: Benchmark configuration.\nmodel:\n{model_block}\nvariables: [question]\n"
        'messages:\n  - role: system\n    content: Answer briefly.\n  - role: user\n    content: "{question}"\n'
    )
    (root / "datasets" / name).mkdir(parents=True)
    rows = [
        {
            "id": f"case-{i}",
            "inputs": {"question": f"{name} question {i}: what is the capital of France?"},
            "expected": "Paris",
            "checks": {"must_contain": ["Paris"]},
        }
        for i in range(cases)
    ]
    (root / "datasets" / name / "1.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return Settings.load(root=root)
