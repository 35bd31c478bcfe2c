"""The Chroma side: a client (persistent under `<home>/chroma/`, or a `chroma run` server) and index identity.

A collection is named after what makes its vectors what they are: the corpus name, the chunking
settings, the splitter and the embedding model. Document content is not part of the name: inside one
collection, `sync` keeps the chunks in step with the files, document by document.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any

from ..errors import WorkbenchError
from ..settings import Settings
from .chunking import SPLITTER_VERSION
from .embeddings import MODEL_ID, chroma_embedding_function

HOST_ENV = "WORKBENCH_CHROMA_HOST"
PORT_ENV = "WORKBENCH_CHROMA_PORT"


@dataclass(frozen=True)
class IndexSpec:
    """Everything that decides a collection's vectors except the documents themselves."""

    corpus: str
    chunk_size: int
    chunk_overlap: int
    model: str
    splitter: str = SPLITTER_VERSION

    @classmethod
    def of(cls, corpus: str, chunk_size: int, chunk_overlap: int) -> IndexSpec:
        return cls(corpus=corpus, chunk_size=chunk_size, chunk_overlap=chunk_overlap, model=MODEL_ID)

    @property
    def key(self) -> str:
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:16]

    @property
    def collection_name(self) -> str:
        """Chroma allows [a-zA-Z0-9._-], 3-512 characters; the hash keeps odd corpus names distinct."""
        slug = re.sub(r"[^a-zA-Z0-9_-]+", "-", self.corpus)[:40].strip("-_") or "corpus"
        return f"{slug}-{self.key}"

    def metadata(self) -> dict[str, Any]:
        return {
            "workbench.corpus": self.corpus,
            "workbench.chunk_size": self.chunk_size,
            "workbench.chunk_overlap": self.chunk_overlap,
            "workbench.model": self.model,
            "workbench.splitter": self.splitter,
        }


def server_address(host: str | None = None, port: int | None = None) -> tuple[str, int] | None:
    """The Chroma server to use, from the arguments or `WORKBENCH_CHROMA_HOST`/`_PORT`; None = local files."""
    host = host or os.environ.get(HOST_ENV)
    if not host:
        return None
    raw = port if port is not None else os.environ.get(PORT_ENV, "8000")
    try:
        return host, int(raw)
    except ValueError:
        raise WorkbenchError(f"{PORT_ENV}: '{raw}' is not a port number; set it to the port of `chroma run`") from None


def client(settings: Settings, host: str | None = None, port: int | None = None) -> Any:
    """A Chroma client: an HTTP client when a server is configured, else a persistent one under `<home>/chroma/`."""
    address = server_address(host, port)
    if address:
        return _http_client(*address)
    path = settings.home / "chroma"
    path.mkdir(parents=True, exist_ok=True)
    return _persistent_client(str(path))


@lru_cache(maxsize=16)
def _persistent_client(path: str) -> Any:
    import chromadb

    return chromadb.PersistentClient(path=path, settings=_chroma_settings())


@lru_cache(maxsize=16)
def _http_client(host: str, port: int) -> Any:
    import chromadb

    try:
        return chromadb.HttpClient(host=host, port=port, settings=_chroma_settings())
    except Exception as exc:  # chromadb raises plain ValueError/ConnectionError on an unreachable server
        raise WorkbenchError(
            f"{HOST_ENV}/{PORT_ENV}: cannot reach Chroma at {host}:{port} ({exc}); "
            f"start it with `chroma run --path DIR --port {port}` or unset {HOST_ENV}"
        ) from None


def _chroma_settings() -> Any:
    from chromadb.config import Settings as ChromaSettings

    return ChromaSettings(anonymized_telemetry=False, allow_reset=False)


def collection(chroma: Any, spec: IndexSpec) -> Any:
    """The spec's collection, created on first use, always with our embedding function and cosine space."""
    return chroma.get_or_create_collection(
        spec.collection_name,
        embedding_function=chroma_embedding_function(),
        configuration={"hnsw": {"space": "cosine"}},
        metadata=spec.metadata(),
    )
