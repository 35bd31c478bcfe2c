"""What drift is measured on: MiniLM embeddings, language (lingua, offline), topics."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np

from ..rag.embeddings import Embedder

LANGUAGES = ("ENGLISH", "GERMAN", "FRENCH", "SPANISH", "ITALIAN", "DUTCH", "PORTUGUESE")


_CACHE: dict[str, np.ndarray] = {}
CACHE_SIZE = 50_000


def embed(texts: list[str]) -> np.ndarray:
    """Unit MiniLM vectors; each distinct text is embedded once per process (windows share texts)."""
    embedder = Embedder()
    missing = [t for t in dict.fromkeys(texts) if t not in _CACHE]
    if len(_CACHE) + len(missing) > CACHE_SIZE:
        _CACHE.clear()
        missing = list(dict.fromkeys(texts))
    if missing:
        _CACHE.update(zip(missing, embedder.encode(missing)))
    if not texts:
        raise ValueError("nothing to embed")
    return np.stack([_CACHE[t] for t in texts])


@lru_cache(maxsize=1)
def _detector() -> Any:
    from lingua import Language, LanguageDetectorBuilder

    return LanguageDetectorBuilder.from_languages(*(getattr(Language, name) for name in LANGUAGES)).build()


def languages(texts: list[str]) -> list[str]:
    """ISO 639-1 code of each text's language (lingua, offline), `unknown` when it cannot tell."""
    found = _detector().detect_languages_in_parallel_of(list(texts))
    return [lang.iso_code_639_1.name.lower() if lang is not None else "unknown" for lang in found]


def topics(
    texts: list[str],
    vectors: np.ndarray,
    named: dict[str, str] | None = None,
    k: int = 8,
    seed: int = 0,
    min_similarity: float = 0.25,
) -> tuple[list[str], dict[str, str]]:
    """A topic per text, and each topic's description.

    With `named` ({topic: keywords or description}) a text takes the most similar topic, or `other`
    below `min_similarity`; without it, k-means clusters labelled by their most distinctive words.
    """
    if named:
        centres = embed([f"{name}: {words}" for name, words in named.items()])
        similarity = vectors @ centres.T
        names = list(named)
        return (
            [
                names[i] if similarity[row, i] >= min_similarity else "other"
                for row, i in enumerate(similarity.argmax(axis=1))
            ],
            dict(named),
        )
    from sklearn.cluster import KMeans

    k = max(1, min(k, len(set(texts))))
    labels = KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(vectors)
    words = {
        f"c{c}": ", ".join(_distinctive([t for t, label in zip(texts, labels) if label == c], texts)) for c in range(k)
    }
    return [f"c{label}" for label in labels], words


def _distinctive(cluster: list[str], everything: list[str], top: int = 4) -> list[str]:
    from sklearn.feature_extraction.text import CountVectorizer

    vectorizer = CountVectorizer(token_pattern=r"(?u)\b[^\W\d_]{4,}\b", lowercase=True, binary=True)
    counts = vectorizer.fit_transform(everything)
    inside = np.asarray(vectorizer.transform(cluster).sum(axis=0)).ravel() / max(len(cluster), 1)
    overall = np.asarray(counts.sum(axis=0)).ravel() / len(everything)
    lift = inside * np.log((inside + 1e-9) / (overall + 1e-9))
    vocabulary = vectorizer.get_feature_names_out()
    return [vocabulary[i] for i in np.argsort(-lift)[:top] if inside[i] > 0]
