"""The same RAG code against a real `chroma run` server on loopback, through Chroma's HttpClient."""

from __future__ import annotations

import pytest

from workbench.rag import Embedder, retriever_for
from workbench.team import chroma_command, chroma_env, serve, stop

from .conftest import free_port
from .rag_fixtures import rag_project, retrieval

pytestmark = pytest.mark.slow


@pytest.fixture
def chroma_server(tmp_path):
    port, data = free_port(), tmp_path / "server-data"
    ready = f"http://127.0.0.1:{port}/api/v2/heartbeat"
    process = serve(chroma_command(data, "127.0.0.1", port), ready, tmp_path / "chroma.log", env=chroma_env())
    try:
        yield port, data
    finally:
        stop(process)


def test_ingest_and_query_through_a_chroma_server(tmp_path, monkeypatch, chroma_server):
    port, data = chroma_server
    monkeypatch.setenv("WORKBENCH_CHROMA_HOST", "127.0.0.1")
    monkeypatch.setenv("WORKBENCH_CHROMA_PORT", str(port))
    settings = rag_project(tmp_path / "project")

    first = retriever_for(retrieval(mode="hybrid", k=3), settings)
    assert first.report.embedded > 0 and first.report.added
    chunks = first.retrieve("Can I get my money back?")
    assert chunks[0]["source"] == "billing/refunds.md" and "rrf" in chunks[0]["scores"]
    assert not (settings.home / "chroma").exists()  # nothing written locally: the server holds the index
    assert any(data.iterdir())

    path = settings.datasets_dir / "docs/corpus/sync/offline.txt"
    path.write_text(path.read_text() + "\nOffline notebooks use disk space.\n")
    before = Embedder.encoded
    again = retriever_for(retrieval(mode="semantic", k=2, filters={"section": "sync"}), settings)
    assert again.report.changed == ["sync/offline.txt"] and Embedder.encoded - before == again.report.embedded
    assert again.retrieve("disk space")[0]["source"] == "sync/offline.txt"
