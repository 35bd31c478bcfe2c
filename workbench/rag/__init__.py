"""Retrieval-augmented generation: load + split a corpus, embed, index in Chroma, retrieve, inspect.

`retriever_for(retrieval, settings)` is what the runner uses; `inspect` is for people.
"""

from .chunking import Chunk, split
from .corpus import Document, corpus_dir, load_corpus
from .embeddings import MODEL_ID, Embedder
from .inspection import inspect
from .retriever import Retriever, retriever_for
from .store import IndexSpec, client, collection
from .sync import SyncReport, index_version, sync

__all__ = [
    "Chunk",
    "Document",
    "Embedder",
    "IndexSpec",
    "Retriever",
    "SyncReport",
    "client",
    "collection",
    "corpus_dir",
    "index_version",
    "inspect",
    "load_corpus",
    "MODEL_ID",
    "retriever_for",
    "split",
    "sync",
]
