"""ragas metrics as scorers: faithfulness, answer relevancy, context precision and recall (LLM-judged),
plus ROUGE and string similarity (no LLM).

The LLM metrics are ragas' `metrics.collections` implementations. Their judge is a workbench pinned
configuration (`judge="judge@1.0.0"`; None = the built-in local SmolLM2-135M spec): its model is built
with `workbench.models.chat_model` and adapted to ragas' structured-output interface here, so any model
the workbench can call (local, OpenAI-compatible, LangChain) can judge. Embeddings are the bundled MiniLM.

A metric that fails or yields NaN raises with the reason, so the runner records an error on the row;
a NaN never passes silently as a score.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import re
from functools import lru_cache
from typing import Any

from pydantic import BaseModel

from ..errors import WorkbenchError
from ..models import chat_model
from ..models.retry import Retrying
from ..plugins import provider
from ..prompts import ModelSpec, Params, resolve
from ..rag.embeddings import Embedder
from ..settings import Settings
from .base import Sample, Score, scorer

#: The judge when none is named: the local model, greedy, with room for the metrics' JSON answers.
DEFAULT_JUDGE = ModelSpec(provider="local", name="smollm2-135m", params=Params(temperature=0.0, max_tokens=512, seed=0))
DEFAULT_SYSTEM = "You are a careful evaluator. Follow the instructions exactly and reply with one JSON object only."
_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$", re.MULTILINE)


class RagasMetricError(RuntimeError):
    """A ragas metric failed or produced no score; the message says why."""


def judge_spec(ref: str | None, settings: Settings) -> tuple[ModelSpec, str]:
    """The judge's model spec and system message: from a pinned configuration of the project, or the default."""
    if ref is None:
        return DEFAULT_JUDGE, DEFAULT_SYSTEM
    spec = resolve(ref, settings.prompts_dir).spec
    system = "\n".join(m.content for m in spec.messages if m.role == "system") or DEFAULT_SYSTEM
    return spec.model, system


def _ragas_metrics(*names: str) -> tuple[Any, ...]:
    """Metric classes from `ragas.metrics.collections`, with ragas' usage telemetry switched off first."""
    os.environ.setdefault("RAGAS_DO_NOT_TRACK", "true")  # read by ragas when it is imported
    from ragas.metrics import collections

    return tuple(getattr(collections, name) for name in names)


def parse_json(text: str, model: type[BaseModel]) -> Any:
    """The judge's answer as `model` (a pydantic class); lenient about fences and prose around the JSON."""
    body = _FENCE.sub("", text.strip())
    start = min((i for i in (body.find("{"), body.find("[")) if i >= 0), default=-1)
    if start < 0:
        raise ValueError(f"no JSON in the judge's answer: {text[:160]!r}")
    end = max(body.rfind("}"), body.rfind("]"))
    try:
        data = json.loads(body[start : end + 1], strict=False)  # small models put raw newlines in strings
    except json.JSONDecodeError as exc:
        raise ValueError(f"the judge's answer is not valid JSON ({exc.msg}): {text[:160]!r}") from None
    fields = list(model.model_fields)
    if not isinstance(data, dict) and len(fields) == 1:  # a bare list for a one-field model
        data = {fields[0]: data}
    return model.model_validate(data)


def response_format(provider_name: str, response_model: type) -> dict[str, Any]:
    """Ask the model for JSON of the answer's schema where its provider can enforce it; otherwise the prompt
    alone asks, and the answer is parsed leniently."""
    return provider(provider_name).structured_output(response_model)


@lru_cache(maxsize=1)
def _judge_class() -> type:
    from langchain_core.messages import HumanMessage, SystemMessage
    from ragas.llms.base import InstructorBaseRagasLLM

    class WorkbenchJudge(InstructorBaseRagasLLM):
        """A LangChain chat model behind ragas' structured-output interface: prompt in, pydantic object out."""

        def __init__(self, model: Any, system: str, provider: str, parse_retries: int = 1):
            self.model, self.system, self.provider, self.parse_retries = model, system, provider, parse_retries

        async def agenerate(self, prompt: str, response_model: type) -> Any:
            messages = [SystemMessage(self.system), HumanMessage(prompt)]
            constrain = response_format(self.provider, response_model)
            for attempt in range(self.parse_retries + 1):
                reply = await self.model.ainvoke(messages, **constrain)
                text = reply.content if isinstance(reply.content, str) else str(reply.content)
                try:
                    return parse_json(text, response_model)
                except ValueError as exc:
                    if attempt == self.parse_retries:
                        raise RagasMetricError(f"judge answer unusable for {response_model.__name__}: {exc}") from None
                    messages = [
                        *messages[:2],
                        reply,
                        HumanMessage(
                            f"That was not valid. {exc}. Reply with only the JSON object that follows the schema."
                        ),
                    ]

        def generate(self, prompt: str, response_model: type) -> Any:
            return asyncio.run(self.agenerate(prompt, response_model))

    return WorkbenchJudge


def judge_llm(ref: str | None, settings: Settings, parse_retries: int = 1) -> Any:
    """The ragas LLM for a judge configuration of the project; one per configuration content per process."""
    spec, system = judge_spec(ref, settings)
    return _judge_llm(spec.model_dump_json(), system, parse_retries)


@lru_cache(maxsize=8)
def _judge_llm(spec_json: str, system: str, parse_retries: int) -> Any:
    spec = ModelSpec.model_validate_json(spec_json)
    return _judge_class()(Retrying(chat_model(spec), spec), system, spec.provider, parse_retries)


@lru_cache(maxsize=1)
def embeddings() -> Any:
    """The bundled MiniLM behind ragas' embedding interface."""
    from ragas.embeddings.base import BaseRagasEmbedding

    class MiniLM(BaseRagasEmbedding):
        def __init__(self) -> None:
            super().__init__()
            self.embedder = Embedder()

        def embed_text(self, text: str, **kwargs: Any) -> list[float]:
            return self.embedder.encode_one(text).tolist()

        async def aembed_text(self, text: str, **kwargs: Any) -> list[float]:
            return await asyncio.to_thread(self.embed_text, text)

        def embed_texts(self, texts: list[str], **kwargs: Any) -> list[list[float]]:
            return self.embedder.encode(list(texts)).tolist()

        async def aembed_texts(self, texts: list[str], **kwargs: Any) -> list[list[float]]:
            return await asyncio.to_thread(self.embed_texts, texts)

    return MiniLM()


async def _run(metric: Any, **inputs: Any) -> Score:
    try:
        result = await metric.ascore(**inputs)
    except RagasMetricError as exc:
        raise RagasMetricError(f"{metric.name}: {exc}") from None
    except Exception as exc:
        raise RagasMetricError(f"{metric.name} failed: {type(exc).__name__}: {exc}") from None
    value = result.value
    if value is None or (isinstance(value, float) and math.isnan(value)):
        reason = result.reason or "the judge produced nothing to score (no statements, questions or verdicts)"
        raise RagasMetricError(f"{metric.name} returned NaN: {reason}")
    bounds = getattr(metric, "allowed_values", None)
    if isinstance(bounds, tuple) and len(bounds) == 2 and not bounds[0] <= float(value) <= bounds[1]:
        raise RagasMetricError(
            f"{metric.name} returned {value}, outside {bounds[0]}..{bounds[1]}: "
            f"the judge's verdicts were not the 0/1 the metric expects"
        )
    return Score(float(value), result.reason)


def _question(sample: Sample, variable: str) -> str:
    if variable not in sample.case.inputs:
        raise WorkbenchError(
            f"case '{sample.case.id}': no input '{variable}'; set question_variable= to the input "
            f"that holds the question"
        )
    return str(sample.case.inputs[variable])


def _need_output(sample: Sample) -> None:
    if not sample.output.strip():
        raise RagasMetricError("the answer is empty; there is nothing to judge")


def _need_contexts(sample: Sample) -> list[str]:
    if not sample.contexts:
        raise RagasMetricError("no retrieved contexts; this metric needs a configuration with a retrieval block")
    return sample.contexts


@scorer
def ragas_faithfulness(judge: str | None = None, question_variable: str = "question", *, settings: Settings):
    """Share of the answer's claims that the retrieved contexts support (ragas Faithfulness)."""
    (Faithfulness,) = _ragas_metrics("Faithfulness")

    metric = Faithfulness(llm=judge_llm(judge, settings))

    async def score(sample: Sample) -> Score:
        _need_output(sample)
        return await _run(
            metric,
            user_input=_question(sample, question_variable),
            response=sample.output,
            retrieved_contexts=_need_contexts(sample),
        )

    return score


@scorer
def ragas_answer_relevancy(
    judge: str | None = None, question_variable: str = "question", strictness: int = 3, *, settings: Settings
):
    """How well questions generated back from the answer match the real question (ragas AnswerRelevancy)."""
    (AnswerRelevancy,) = _ragas_metrics("AnswerRelevancy")

    metric = AnswerRelevancy(llm=judge_llm(judge, settings), embeddings=embeddings(), strictness=strictness)

    async def score(sample: Sample) -> Score:
        _need_output(sample)
        return await _run(metric, user_input=_question(sample, question_variable), response=sample.output)

    return score


@scorer
def ragas_context_precision(judge: str | None = None, question_variable: str = "question", *, settings: Settings):
    """Whether the useful contexts are ranked first, judged against the expected answer (ragas)."""
    (ContextPrecisionWithReference,) = _ragas_metrics("ContextPrecisionWithReference")

    metric = ContextPrecisionWithReference(llm=judge_llm(judge, settings))

    async def score(sample: Sample) -> Score | None:
        if sample.case.expected is None:
            return None
        return await _run(
            metric,
            user_input=_question(sample, question_variable),
            reference=sample.case.expected,
            retrieved_contexts=_need_contexts(sample),
        )

    return score


@scorer
def ragas_context_recall(judge: str | None = None, question_variable: str = "question", *, settings: Settings):
    """Share of the expected answer's claims that the retrieved contexts support (ragas ContextRecall)."""
    (ContextRecall,) = _ragas_metrics("ContextRecall")

    metric = ContextRecall(llm=judge_llm(judge, settings))

    async def score(sample: Sample) -> Score | None:
        if sample.case.expected is None:
            return None
        return await _run(
            metric,
            user_input=_question(sample, question_variable),
            reference=sample.case.expected,
            retrieved_contexts=_need_contexts(sample),
        )

    return score


@scorer
def ragas_rouge(rouge_type: str = "rougeL", mode: str = "fmeasure"):
    """ROUGE of the answer against the expected answer (ragas RougeScore; no LLM)."""
    (RougeScore,) = _ragas_metrics("RougeScore")

    if rouge_type not in ("rouge1", "rougeL") or mode not in ("fmeasure", "precision", "recall"):
        raise WorkbenchError("ragas_rouge: rouge_type is rouge1 or rougeL; mode is fmeasure, precision or recall")
    metric = RougeScore(rouge_type=rouge_type, mode=mode)

    async def score(sample: Sample) -> Score | None:
        if sample.case.expected is None:
            return None
        return await _run(metric, reference=sample.case.expected, response=sample.output)

    return score


@scorer
def ragas_string_similarity(distance: str = "levenshtein"):
    """1 - normalised string distance between the answer and the expected answer (ragas; no LLM)."""
    DistanceMeasure, NonLLMStringSimilarity = _ragas_metrics("DistanceMeasure", "NonLLMStringSimilarity")

    names = {m.value: m for m in DistanceMeasure}
    if distance not in names:
        raise WorkbenchError(f"ragas_string_similarity: distance must be one of {', '.join(names)}")
    metric = NonLLMStringSimilarity(distance_measure=names[distance])

    async def score(sample: Sample) -> Score | None:
        if sample.case.expected is None:
            return None
        return await _run(metric, reference=sample.case.expected, response=sample.output)

    return score
