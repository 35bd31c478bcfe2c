"""The embedding model: all-MiniLM-L6-v2, shipped in the wheel (`minilm/`, float16 weights), loaded once per process
and run in numpy (`_bert.py`: sentence-transformers' vectors, without torch or a download)."""

from __future__ import annotations

import os
import threading
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

if TYPE_CHECKING:
    from ._bert import SentenceEncoder

MODEL_DIR = Path(__file__).parent / "minilm"
#: The shipped weights' sha256 (a test checks it): an index's identity records it, so new weights rebuild old indexes.
MODEL_SHA256 = "5a08b8a3f227680d97eef6c05e555be462da4c595e4bb3b834a928540b73a548"
MODEL_ID = f"all-MiniLM-L6-v2@fp16-{MODEL_SHA256[:12]}"
BATCH_SIZE = 64


@lru_cache(maxsize=1)
def _model() -> SentenceEncoder:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")  # batches run on our threads; forks stay quiet
    from ._bert import SentenceEncoder  # the weights, the tokenizer and threadpoolctl load on first use

    return SentenceEncoder(MODEL_DIR)


class Embedder:
    """Unit-length float32 vectors; `encoded` counts texts embedded by this process (all instances)."""

    encoded = 0
    _lock = threading.Lock()

    @property
    def model(self) -> SentenceEncoder:
        return _model()

    @property
    def dimension(self) -> int:
        return self.model.dimension

    def encode(self, texts: list[str], batch_size: int = BATCH_SIZE) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self.model.encode(list(texts), batch_size=batch_size)
        with Embedder._lock:
            Embedder.encoded += len(texts)
        return vectors

    def encode_one(self, text: str) -> np.ndarray:
        return self.encode([text])[0]


def chroma_embedding_function() -> Any:
    """Our model as a Chroma embedding function (Chroma's default would download a model at run time)."""
    return _chroma_class()()


@lru_cache(maxsize=1)
def _chroma_class() -> type:
    from chromadb.api.types import Documents, EmbeddingFunction, Embeddings
    from chromadb.utils.embedding_functions import register_embedding_function

    class MiniLMEmbeddingFunction(EmbeddingFunction[Documents]):
        def __init__(self) -> None:
            self.embedder = Embedder()

        def __call__(self, input: Documents) -> Embeddings:
            return list(self.embedder.encode(list(input)))

        @staticmethod
        def name() -> str:
            return "workbench-minilm"

        def get_config(self) -> dict[str, Any]:
            return {"model": MODEL_ID}

        @staticmethod
        def build_from_config(config: dict[str, Any]) -> MiniLMEmbeddingFunction:
            return MiniLMEmbeddingFunction()

        def default_space(self) -> Literal["cosine"]:
            return "cosine"

        def supported_spaces(self) -> list[Literal["cosine", "l2", "ip"]]:
            return ["cosine"]

    register_embedding_function(MiniLMEmbeddingFunction)
    return MiniLMEmbeddingFunction
