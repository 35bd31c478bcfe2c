"""Split documents into chunks with LangChain's recursive splitters (sizes in characters)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .corpus import Document

#: Bump when the splitting logic changes, so indexes built the old way are not reused.
SPLITTER_VERSION = "recursive-1"


@dataclass(frozen=True)
class Chunk:
    """A piece of one document; `id` is stable as long as the document's text and the chunking are."""

    id: str
    text: str
    source: str
    metadata: dict[str, Any] = field(default_factory=dict)


def split(document: Document, chunk_size: int, chunk_overlap: int) -> list[Chunk]:
    """The document's chunks, in order; Markdown splits on headings first, text and HTML on paragraphs."""
    from langchain_text_splitters import Language, RecursiveCharacterTextSplitter

    if document.format == "markdown":
        splitter = RecursiveCharacterTextSplitter.from_language(
            Language.MARKDOWN, chunk_size=chunk_size, chunk_overlap=chunk_overlap, add_start_index=True
        )
    else:
        splitter = RecursiveCharacterTextSplitter(
            chunk_size=chunk_size, chunk_overlap=chunk_overlap, add_start_index=True
        )
    pieces = splitter.create_documents([document.text])
    return [
        Chunk(
            id=f"{document.source}#{i}",
            text=piece.page_content,
            source=document.source,
            metadata={
                **document.metadata,
                "source": document.source,
                "title": document.title,
                "format": document.format,
                "chunk": i,
                "start": piece.metadata.get("start_index", -1),
                "doc_hash": document.hash,
            },
        )
        for i, piece in enumerate(pieces)
    ]
