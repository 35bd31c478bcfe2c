"""Lexical retrieval with bm25s over a collection's chunks (Porter-stemmed, English stop words removed)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np

from .filters import matches


@lru_cache(maxsize=65536)
def _stem(word: str) -> str:
    return _porter().stem(word)


@lru_cache(maxsize=1)
def _porter() -> Any:
    from nltk.stem.porter import PorterStemmer  # ships with rouge-score's nltk; needs no downloaded data

    return PorterStemmer()


def tokenize(texts: list[str]) -> list[list[str]]:
    import bm25s

    return bm25s.tokenize(
        texts, stopwords="en", stemmer=lambda words: [_stem(w) for w in words], return_ids=False, show_progress=False
    )


class BM25Index:
    """An in-memory BM25 index over chunks given as parallel lists of ids, texts and metadatas."""

    def __init__(self, ids: list[str], texts: list[str], metadatas: list[dict[str, Any]]):
        import bm25s

        self.ids, self.texts, self.metadatas = ids, texts, metadatas
        self._model = bm25s.BM25()
        self._model.index(tokenize(texts), show_progress=False)

    def __len__(self) -> int:
        return len(self.ids)

    def search(self, query: str, n: int, where: dict[str, Any] | None = None) -> list[tuple[int, float]]:
        """Up to `n` (position, score) pairs, best first; only chunks whose metadata match `where`, score > 0."""
        tokens = tokenize([query])[0]
        if not tokens or not self.ids:
            return []
        mask = None
        if where:
            mask = np.array([matches(m, where) for m in self.metadatas], dtype=np.float32)
            if not mask.any():
                return []
        k = min(n, len(self.ids))
        positions, scores = self._model.retrieve([tokens], k=k, show_progress=False, weight_mask=mask, n_threads=0)
        return [(int(p), float(s)) for p, s in zip(positions[0], scores[0]) if s > 0]
