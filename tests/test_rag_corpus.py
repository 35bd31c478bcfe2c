"""Loading and splitting a corpus: real files, no model."""

from __future__ import annotations

import pytest

from workbench.errors import WorkbenchError
from workbench.rag import corpus_dir, load_corpus, split

from .rag_fixtures import DOCS, write_corpus


def test_loads_markdown_text_and_html_with_sections_and_titles(tmp_path):
    docs = {d.source: d for d in load_corpus(write_corpus(tmp_path))}
    assert sorted(docs) == sorted(DOCS)
    assert docs["billing/refunds.md"].format == "markdown" and docs["billing/refunds.md"].title == "Refunds"
    assert docs["sync/offline.txt"].title == "Working offline"
    assert docs["account/two-factor.html"].title == "Two-factor authentication"
    assert {d.metadata["section"] for d in docs.values()} == {"billing", "account", "sync"}


def test_html_keeps_visible_text_only(tmp_path):
    text = {d.source: d for d in load_corpus(write_corpus(tmp_path))}["account/two-factor.html"].text
    assert "Turn on 2FA in Settings > Security. Authenticator apps only; we never send codes by SMS." in text
    assert "You receive 10 backup codes.\n" in text
    assert "Plan | 2FA" in text and "Free | yes" in text
    for gone in ("never run", "color: red", "Home | Account", "(c) Lumen Labs", "HTML comment", "<"):
        assert gone not in text


def test_document_hash_follows_the_text(tmp_path):
    folder = write_corpus(tmp_path)
    before = {d.source: d.hash for d in load_corpus(folder)}
    (folder / "sync/offline.txt").write_text("Working offline\n\nChanged.\n")
    after = {d.source: d.hash for d in load_corpus(folder)}
    assert [s for s in before if before[s] != after[s]] == ["sync/offline.txt"]


def test_hidden_files_are_skipped(tmp_path):
    folder = write_corpus(tmp_path)
    (folder / ".DS_Store").write_bytes(b"\x00\x01")
    assert len(load_corpus(folder)) == len(DOCS)


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("notes.pdf", b"%PDF-1.4", "unsupported file type '.pdf'; use .md, .txt or .html"),
        ("latin1.txt", "caf\xe9".encode("latin-1"), "not UTF-8 text"),
        ("empty.md", b"   \n", "no text; write the document or remove the file"),
    ],
)
def test_bad_files_are_named_with_the_fix(tmp_path, name, content, message):
    folder = write_corpus(tmp_path)
    (folder / name).write_bytes(content)
    with pytest.raises(WorkbenchError) as info:
        load_corpus(folder)
    assert str(folder / name) in str(info.value) and message in str(info.value)


def test_missing_corpus_folder_names_the_path_and_known_corpora(tmp_path):
    write_corpus(tmp_path, "docs")
    with pytest.raises(WorkbenchError) as info:
        corpus_dir(tmp_path / "datasets", "nope")
    assert "retrieval.corpus" in str(info.value) and "nope/corpus" in str(info.value) and "docs" in str(info.value)


def test_split_respects_size_and_records_metadata(tmp_path):
    doc = next(d for d in load_corpus(write_corpus(tmp_path)) if d.source == "billing/refunds.md")
    chunks = split(doc, chunk_size=80, chunk_overlap=10)
    assert len(chunks) > 2 and all(len(c.text) <= 80 for c in chunks)
    assert [c.id for c in chunks] == [f"billing/refunds.md#{i}" for i in range(len(chunks))]
    first = chunks[0].metadata
    assert first["source"] == "billing/refunds.md" and first["section"] == "billing" and first["doc_hash"] == doc.hash
    assert all(doc.text[c.metadata["start"] :].startswith(c.text) for c in chunks)
    assert split(doc, 80, 10) == chunks  # deterministic
    assert len(split(doc, 400, 10)) < len(chunks)
