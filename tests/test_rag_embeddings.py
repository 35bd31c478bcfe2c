"""The numpy MiniLM encoder on the shipped float16 weights against vectors sentence-transformers (torch) made
from the float32 model for the same texts (tests/data/minilm_reference.py recorded them), and what must not change
with batching or threads."""

from __future__ import annotations

import hashlib
import json
import random
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from threadpoolctl import threadpool_info

from workbench.rag.embeddings import MODEL_DIR, MODEL_ID, MODEL_SHA256, Embedder

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def reference() -> tuple[list[str], np.ndarray]:
    meta = json.loads((DATA / "minilm_reference.json").read_text())
    return meta["texts"], np.load(DATA / "minilm_reference.npy")


def test_the_shipped_weights_are_the_ones_the_index_identity_names():
    assert hashlib.sha256((MODEL_DIR / "model.safetensors").read_bytes()).hexdigest() == MODEL_SHA256
    assert MODEL_SHA256[:12] in MODEL_ID


def test_the_vectors_are_sentence_transformers_own(reference):
    """float16 storage costs at most 5e-4 per component (measured: 2.4e-4) and nothing in direction."""
    texts, expected = reference
    got = Embedder().encode(texts)
    assert got.shape == expected.shape == (len(texts), 384) and got.dtype == np.float32
    diff = np.abs(got - expected).max(axis=1)
    cosine = (got * expected).sum(axis=1) / np.linalg.norm(got, axis=1) / np.linalg.norm(expected, axis=1)
    bad = [(t[:40], float(d), float(c)) for t, d, c in zip(texts, diff, cosine) if d >= 5e-4 or c <= 0.99999]
    assert bad == []
    assert np.allclose(np.linalg.norm(got, axis=1), 1, atol=1e-5)


def test_the_fixture_covers_truncation_and_odd_texts(reference):
    texts, _ = reference
    lengths = json.loads((DATA / "minilm_reference.json").read_text())["token_lengths"]
    assert max(lengths) > 512 and sum(n > 256 for n in lengths) >= 2  # past max_seq_length and the position table
    assert "" in texts and any(t.strip() == "" and t for t in texts) and any(ord(c) > 0xFFFF for t in texts for c in t)


def test_batching_and_order_do_not_change_a_vector(reference):
    texts, _ = reference
    embedder = Embedder()
    together = embedder.encode(texts)
    order = list(range(len(texts)))
    random.Random(7).shuffle(order)
    for batch_size in (1, 5, 64):
        shuffled = embedder.encode([texts[i] for i in order], batch_size=batch_size)
        assert np.abs(shuffled[np.argsort(order)] - together).max() < 1e-5, batch_size
    alone = np.stack([embedder.encode_one(t) for t in texts])
    assert np.abs(alone - together).max() < 1e-5


def test_text_past_max_seq_length_is_truncated(reference):
    texts, _ = reference
    long = max(texts, key=len)
    embedder = Embedder()
    assert (
        np.abs(embedder.encode_one(long) - embedder.encode_one(long + " and then something else entirely")).max() < 1e-6
    )
    assert (
        embedder.model.max_length == json.loads((MODEL_DIR / "sentence_bert_config.json").read_text())["max_seq_length"]
    )


def test_encoding_from_many_threads_agrees_and_leaves_blas_as_it_was(reference):
    texts = [t for t in reference[0] if len(t) < 60][:10]
    embedder = Embedder()
    before = [i["num_threads"] for i in threadpool_info()]
    expected = embedder.encode(texts)
    with ThreadPoolExecutor(3) as pool:
        results = list(pool.map(lambda _: embedder.encode(texts, batch_size=2), range(3)))
    assert all(np.abs(r - expected).max() < 1e-5 for r in results)
    assert [i["num_threads"] for i in threadpool_info()] == before


def test_no_texts_and_the_count():
    embedder = Embedder()
    assert embedder.encode([]).shape == (0, embedder.dimension) == (0, 384)
    before = Embedder.encoded
    embedder.encode(["a", "b"])
    assert Embedder.encoded - before == 2


def test_encoding_imports_neither_torch_nor_sentence_transformers():
    code = (
        "import sys; from workbench.rag.embeddings import Embedder; "
        "from workbench.scorers.similarity import semantic_similarity; "
        "v = Embedder().encode(['hello', 'world']); assert v.shape == (2, 384); "
        "print(sorted(m for m in ('torch', 'sentence_transformers', 'transformers') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
