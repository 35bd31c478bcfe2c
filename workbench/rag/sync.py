"""Keep a collection in step with the corpus files: only added or changed documents are (re-)embedded."""

from __future__ import annotations

import hashlib
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from .chunking import Chunk, split
from .corpus import Document
from .embeddings import Embedder
from .store import IndexSpec

_locks: dict[str, threading.Lock] = defaultdict(threading.Lock)


@dataclass(frozen=True)
class SyncReport:
    """What a sync did. `version` identifies the exact chunk set: a hash over the spec and every document hash."""

    collection: str
    version: str
    documents: int
    chunks: int
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    embedded: int = 0
    seconds: float = 0.0


def index_version(spec: IndexSpec, documents: list[Document]) -> str:
    digest = hashlib.sha256(spec.key.encode())
    for doc in sorted(documents, key=lambda d: d.source):
        digest.update(f"\n{doc.source}\0{doc.hash}".encode())
    return digest.hexdigest()[:16]


def sync(
    collection: Any,
    spec: IndexSpec,
    documents: list[Document],
    embedder: Embedder | None = None,
    batch_size: int = 1000,
) -> SyncReport:
    """Delete the chunks of removed or changed documents, embed and add those of new or changed ones."""
    start = time.perf_counter()
    embedder = embedder or Embedder()
    with _locks[spec.collection_name]:
        stored = _stored_documents(collection)
        current = {doc.source: doc for doc in documents}
        removed = sorted(set(stored) - set(current))
        changed = sorted(s for s, doc in current.items() if s in stored and stored[s] != (doc.hash, True))
        added = sorted(s for s in current if s not in stored)
        if removed or changed:
            for batch in _batches(removed + changed, 500):
                collection.delete(where={"source": {"$in": batch}})
        chunks = [
            chunk for source in changed + added for chunk in split(current[source], spec.chunk_size, spec.chunk_overlap)
        ]
        _add(collection, chunks, embedder, batch_size)
        version = index_version(spec, documents)
        if removed or changed or added or collection.metadata.get("workbench.index_version") != version:
            collection.modify(metadata={**spec.metadata(), "workbench.index_version": version})
        total = collection.count()
    return SyncReport(
        collection=spec.collection_name,
        version=version,
        documents=len(documents),
        chunks=total,
        added=added,
        changed=changed,
        removed=removed,
        embedded=len(chunks),
        seconds=time.perf_counter() - start,
    )


def _stored_documents(collection: Any) -> dict[str, tuple[str, bool]]:
    """source -> (document hash, complete?); a document is complete when all its chunks are stored once, with one hash."""
    metadatas = collection.get(include=["metadatas"])["metadatas"] or []
    hashes: dict[str, set[str]] = defaultdict(set)
    counts: dict[str, int] = defaultdict(int)
    expected: dict[str, set[int]] = defaultdict(set)
    for meta in metadatas:
        source = meta["source"]
        hashes[source].add(meta["doc_hash"])
        counts[source] += 1
        expected[source].add(int(meta["chunks"]))
    return {s: (next(iter(h)), len(h) == 1 and expected[s] == {counts[s]}) for s, h in hashes.items()}


def _add(collection: Any, chunks: list[Chunk], embedder: Embedder, size: int) -> None:
    """Embed in length-sorted batches (as `encode` sorts them itself) while a worker thread writes the
    previous batch to Chroma, so the write costs no extra wall time."""
    if not chunks:
        return
    per_doc: dict[str, int] = defaultdict(int)
    for c in chunks:
        per_doc[c.source] += 1
    ordered = sorted(chunks, key=lambda c: len(c.text))
    with ThreadPoolExecutor(max_workers=1) as writer:
        pending = []
        for lo in range(0, len(ordered), size):
            part = ordered[lo : lo + size]
            vectors = embedder.encode([c.text for c in part])
            pending.append(
                writer.submit(
                    collection.add,
                    ids=[c.id for c in part],
                    documents=[c.text for c in part],
                    embeddings=vectors,
                    metadatas=[{**c.metadata, "chunks": per_doc[c.source]} for c in part],
                )
            )
        for future in pending:
            future.result()  # re-raise a failed write


def _batches(items: list[str], size: int) -> list[list[str]]:
    return [items[i : i + size] for i in range(0, len(items), size)]
