"""The retriever a configuration's `retrieval:` block describes: semantic, BM25 or hybrid, then optional re-ranking."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from ..errors import WorkbenchError
from ..prompts.schema import Retrieval
from ..settings import Settings
from .bm25 import BM25Index
from .corpus import corpus_dir, load_corpus
from .embeddings import Embedder
from .filters import where as where_clause
from .rerank import mmr, rrf, sentence_scores
from .store import IndexSpec, client, collection
from .sync import SyncReport, sync

#: Candidates gathered per retriever before fusion or re-ranking: max(POOL_FACTOR * k, POOL_MIN).
POOL_FACTOR, POOL_MIN = 4, 20
#: BM25 indexes kept in memory, one per (collection, index version), oldest dropped first.
BM25_CACHE_SIZE = 8
_bm25_cache: dict[tuple[str, str], BM25Index] = {}
_bm25_lock = threading.Lock()


class Retriever:
    """Built by `retriever_for`; syncs the index with the corpus files once, when it is built."""

    def __init__(self, retrieval: Retrieval, settings: Settings, chroma: Any = None):
        self.retrieval = retrieval
        self.embedder = Embedder()
        self.spec = IndexSpec.of(retrieval.corpus, retrieval.chunk_size, retrieval.chunk_overlap)
        self.where = where_clause(retrieval.filters)
        documents = load_corpus(corpus_dir(settings.datasets_dir, retrieval.corpus))
        self.collection = collection(chroma if chroma is not None else client(settings), self.spec)
        self.report: SyncReport = sync(self.collection, self.spec, documents, self.embedder)
        if self.where and not self.collection.get(where=self.where, limit=1, include=[])["ids"]:
            raise WorkbenchError(
                f"retrieval.filters: {retrieval.filters} match no chunk of corpus "
                f"'{retrieval.corpus}'; check the values (sections are the corpus' top folders)"
            )

    @property
    def version(self) -> str:
        return self.report.version

    def describe(self) -> dict[str, Any]:
        """Flat facts worth logging with a run: the collection, the index version, the retrieval settings."""
        return {
            "rag.collection": self.spec.collection_name,
            "rag.index_version": self.version,
            "rag.embedding_model": self.spec.model,
            "rag.documents": self.report.documents,
            "rag.chunks": self.report.chunks,
            **{f"rag.{k}": v for k, v in self.retrieval.model_dump(mode="json").items() if k != "filters"},
            "rag.filters": str(self.retrieval.filters or {}),
        }

    def retrieve(self, query: str) -> list[dict[str, Any]]:
        """The top k chunks for the query: dicts with id, text, source, rank, scores and metadata."""
        r = self.retrieval
        pool = r.k if r.rerank == "none" else max(POOL_FACTOR * r.k, POOL_MIN)
        query_vector: Any = self.embedder.encode_one(query) if r.mode != "bm25" or r.rerank != "none" else None
        if r.mode == "semantic":
            candidates = self._semantic(query_vector, pool)
        elif r.mode == "bm25":
            candidates = self._bm25(query, pool)
        else:
            candidates = self._hybrid(query, query_vector, pool)
        if r.rerank == "mmr":
            candidates = self._mmr(query_vector, candidates)
        elif r.rerank == "embedding":
            scores = sentence_scores(query_vector, [c["text"] for c in candidates], self.embedder)
            for c, s in zip(candidates, scores):
                c["scores"]["rerank"] = s
            candidates.sort(key=lambda c: -c["scores"]["rerank"])
        chunks = candidates[: r.k]
        for rank, c in enumerate(chunks, start=1):
            c["rank"] = rank
            c["metadata"]["index_version"] = self.version
        return chunks

    @staticmethod
    def format(chunks: list[dict[str, Any]]) -> str:
        """Numbered chunks with their sources: the text that fills `{context}`."""
        if not chunks:
            return "(no documents found)"
        return "\n\n".join(f"[{i}] (source: {c['source']})\n{c['text'].strip()}" for i, c in enumerate(chunks, start=1))

    def _semantic(self, vector: np.ndarray, n: int) -> list[dict[str, Any]]:
        found = self.collection.query(
            query_embeddings=[vector], n_results=n, where=self.where, include=["documents", "metadatas", "distances"]
        )
        return [
            _chunk(i, t, m, {"semantic": 1.0 - float(d)})
            for i, t, m, d in zip(found["ids"][0], found["documents"][0], found["metadatas"][0], found["distances"][0])
        ]

    def _bm25(self, query: str, n: int) -> list[dict[str, Any]]:
        index = self._bm25_index()
        return [
            _chunk(index.ids[p], index.texts[p], index.metadatas[p], {"bm25": s})
            for p, s in index.search(query, n, self.where)
        ]

    def _hybrid(self, query: str, vector: np.ndarray, pool: int) -> list[dict[str, Any]]:
        n = max(pool, POOL_MIN)
        semantic, lexical = self._semantic(vector, n), self._bm25(query, n)
        fused = rrf([[c["id"] for c in semantic], [c["id"] for c in lexical]])
        merged: dict[str, dict[str, Any]] = {}
        for c in semantic + lexical:
            merged.setdefault(c["id"], c)["scores"].update(c["scores"])
        for key, c in merged.items():
            c["scores"]["rrf"] = fused[key]
        return sorted(merged.values(), key=lambda c: -c["scores"]["rrf"])[:pool]

    def _mmr(self, query: np.ndarray, candidates: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if not candidates:
            return candidates
        got = self.collection.get(ids=[c["id"] for c in candidates], include=["embeddings"])
        by_id = dict(zip(got["ids"], got["embeddings"]))
        vectors = np.asarray([by_id[c["id"]] for c in candidates], dtype=np.float32)
        out = []
        for position, score in mmr(query, vectors, self.retrieval.k):
            candidates[position]["scores"]["mmr"] = score
            out.append(candidates[position])
        return out

    def _bm25_index(self) -> BM25Index:
        key = (self.spec.collection_name, self.version)
        with _bm25_lock:
            if key not in _bm25_cache:
                got = self.collection.get(include=["documents", "metadatas"])
                _bm25_cache[key] = BM25Index(got["ids"], got["documents"], got["metadatas"])
                while len(_bm25_cache) > BM25_CACHE_SIZE:
                    _bm25_cache.pop(next(iter(_bm25_cache)))
            return _bm25_cache[key]


def _chunk(id: str, text: str, metadata: dict[str, Any], scores: dict[str, float]) -> dict[str, Any]:
    meta = dict(metadata)
    return {"id": id, "text": text, "source": meta.get("source"), "rank": 0, "scores": scores, "metadata": meta}


def retriever_for(retrieval: Retrieval, settings: Settings) -> Retriever:
    """What the runner calls: a retriever over `<datasets>/<corpus>/corpus/`, its index synced with the files."""
    return Retriever(retrieval, settings)
