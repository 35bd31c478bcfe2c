"""The Chroma index on a real persistent client with the real embedding model: identity and incremental sync."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.errors import WorkbenchError
from workbench.rag import Embedder, IndexSpec, client, collection, load_corpus, retriever_for, split, sync
from workbench.rag.corpus import corpus_dir

from .conftest import free_port
from .rag_fixtures import rag_project, retrieval


def _open(settings, chunk_size=200, chunk_overlap=20):
    spec = IndexSpec.of("docs", chunk_size, chunk_overlap)
    return spec, collection(client(settings), spec)


def _docs(settings):
    return load_corpus(corpus_dir(settings.datasets_dir, "docs"))


def test_first_sync_embeds_everything_and_a_second_nothing(tmp_path):
    settings = rag_project(tmp_path)
    spec, coll = _open(settings)
    docs = _docs(settings)
    first = sync(coll, spec, docs)
    expected_chunks = sum(len(split(d, 200, 20)) for d in docs)
    assert first.added == sorted(d.source for d in docs) and first.embedded == expected_chunks == coll.count()
    assert (settings.home / "chroma").is_dir()
    again = sync(coll, spec, _docs(settings))
    assert (again.added, again.changed, again.removed, again.embedded) == ([], [], [], 0)
    assert again.version == first.version


def test_changing_one_document_re_embeds_only_its_chunks(tmp_path):
    settings = rag_project(tmp_path)
    spec, coll = _open(settings)
    first = sync(coll, spec, _docs(settings))
    untouched = coll.get(where={"source": {"$ne": "sync/offline.txt"}}, include=["embeddings", "documents"])
    path = settings.datasets_dir / "docs/corpus/sync/offline.txt"
    path.write_text(path.read_text() + "\nOffline notebooks use disk space on your computer.\n")

    before = Embedder.encoded
    report = sync(coll, spec, _docs(settings))
    changed_doc = next(d for d in _docs(settings) if d.source == "sync/offline.txt")
    assert report.changed == ["sync/offline.txt"] and report.added == [] and report.removed == []
    assert report.embedded == len(split(changed_doc, 200, 20)) == Embedder.encoded - before
    assert report.version != first.version
    still = coll.get(ids=untouched["ids"], include=["embeddings", "documents"])
    assert still["ids"] == untouched["ids"] and np.array_equal(
        np.asarray(still["embeddings"]), np.asarray(untouched["embeddings"])
    )
    stored = coll.get(where={"source": "sync/offline.txt"}, include=["documents", "metadatas"])
    assert any("disk space" in text for text in stored["documents"])
    assert {m["doc_hash"] for m in stored["metadatas"]} == {changed_doc.hash}


def test_removed_and_added_documents(tmp_path):
    settings = rag_project(tmp_path)
    spec, coll = _open(settings)
    sync(coll, spec, _docs(settings))
    (settings.datasets_dir / "docs/corpus/billing/payment-methods.txt").unlink()
    (settings.datasets_dir / "docs/corpus/billing/invoices.md").write_text("# Invoices\n\nDownload invoices as PDF.\n")
    report = sync(coll, spec, _docs(settings))
    assert report.removed == ["billing/payment-methods.txt"] and report.added == ["billing/invoices.md"]
    assert report.embedded == 1
    assert coll.get(where={"source": "billing/payment-methods.txt"})["ids"] == []


def test_a_half_written_document_is_re_embedded(tmp_path):
    settings = rag_project(tmp_path)
    spec, coll = _open(settings)
    sync(coll, spec, _docs(settings))
    ids = coll.get(where={"source": "billing/refunds.md"})["ids"]
    coll.delete(ids=ids[:1])  # as if a previous sync died half-way through this document
    report = sync(coll, spec, _docs(settings))
    assert report.changed == ["billing/refunds.md"] and report.embedded == len(ids)
    assert sorted(coll.get(where={"source": "billing/refunds.md"})["ids"]) == sorted(ids)


def test_changing_chunk_size_builds_a_new_index(tmp_path):
    settings = rag_project(tmp_path)
    small_spec, small = _open(settings, 200, 20)
    sync(small, small_spec, _docs(settings))
    large_spec, large = _open(settings, 400, 20)
    assert large_spec.collection_name != small_spec.collection_name
    report = sync(large, large_spec, _docs(settings))
    assert report.collection == large_spec.collection_name and report.added == sorted(d.source for d in _docs(settings))
    assert large.count() < small.count()  # the old index is left as it was
    names = {c.name for c in client(settings).list_collections()}
    assert {small_spec.collection_name, large_spec.collection_name} <= names


def test_index_identity_covers_corpus_chunking_and_model(tmp_path):
    base = IndexSpec.of("docs", 200, 20)
    assert base.collection_name.startswith("docs-") and len(base.key) == 16
    assert IndexSpec.of("docs", 200, 20) == base
    others = [
        IndexSpec.of("other", 200, 20),
        IndexSpec.of("docs", 200, 30),
        IndexSpec("docs", 200, 20, "another-model"),
    ]
    assert len({base.collection_name, *(o.collection_name for o in others)}) == 4
    assert IndexSpec.of("Odd name/ü", 200, 20).collection_name.startswith("Odd-name-")


def test_collection_uses_our_embedding_function_and_cosine(tmp_path):
    settings = rag_project(tmp_path)
    spec, coll = _open(settings)
    sync(coll, spec, _docs(settings))
    assert coll._embedding_function.name() == "workbench-minilm"
    found = coll.query(query_texts=["my money back after paying"], n_results=1)  # embedded by our function
    assert found["metadatas"][0][0]["source"] == "billing/refunds.md"
    assert 0.0 <= found["distances"][0][0] < 1.0
    vector = Embedder().encode_one("hello")
    assert vector.shape == (384,) and abs(float(np.linalg.norm(vector)) - 1.0) < 1e-5


def test_unreachable_server_is_explained(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_CHROMA_HOST", "127.0.0.1")
    monkeypatch.setenv("WORKBENCH_CHROMA_PORT", str(free_port()))
    with pytest.raises(WorkbenchError, match="cannot reach Chroma at 127.0.0.1"):
        retriever_for(retrieval(), rag_project(tmp_path))
