"""A corpus: the `.md`, `.txt` and `.html` files under `datasets/<corpus>/corpus/`, read as plain text."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import WorkbenchError
from ..names import check_name

FORMATS = {".md": "markdown", ".markdown": "markdown", ".txt": "text", ".html": "html", ".htm": "html"}
#: HTML elements whose text is never document content.
_DROP = ("script", "style", "noscript", "template", "head", "nav", "footer", "svg", "iframe", "form")
_BLOCKS = (
    "p",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "div",
    "section",
    "article",
    "main",
    "table",
    "pre",
    "blockquote",
    "ul",
    "ol",
    "dl",
)
_LINES = ("li", "tr", "br", "dt", "dd")
_SPACES = re.compile(r"\s+")
_BLANKS = re.compile(r"\n\s*\n+")


@dataclass(frozen=True)
class Document:
    """One corpus file as text; `source` is its path relative to the corpus folder, with `/`."""

    source: str
    text: str
    format: str
    title: str
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def hash(self) -> str:
        """sha256 of the extracted text: what decides whether the document must be re-embedded."""
        return hashlib.sha256(self.text.encode()).hexdigest()


def corpus_dir(datasets_dir: Path, corpus: str) -> Path:
    """`<datasets>/<corpus>/corpus/`, which must exist."""
    check_name(corpus, "corpus", "retrieval.corpus")
    folder = Path(datasets_dir) / corpus / "corpus"
    if not folder.is_dir():
        known = sorted(p.parent.name for p in Path(datasets_dir).glob("*/corpus") if p.is_dir())
        raise WorkbenchError(
            f"retrieval.corpus: no folder {folder}; put the documents there "
            f"(known corpora: {', '.join(known) or 'none'})"
        )
    return folder


def load_corpus(folder: Path) -> list[Document]:
    """Every document under `folder`, sorted by source; hidden files are skipped, other formats are an error."""
    folder = Path(folder)
    documents, problems = [], []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        relative = path.relative_to(folder)
        if any(part.startswith(".") for part in relative.parts):
            continue
        kind = FORMATS.get(path.suffix.lower())
        if kind is None:
            problems.append(
                f"{path}: unsupported file type '{path.suffix}'; use .md, .txt or .html, or remove the file"
            )
            continue
        try:
            raw = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            problems.append(f"{path}: not UTF-8 text (byte {exc.start}); re-save the file as UTF-8")
            continue
        text, title = _from_html(raw) if kind == "html" else (_normalise(raw), _first_line_title(raw, kind))
        if not text.strip():
            problems.append(f"{path}: no text; write the document or remove the file")
            continue
        section = relative.parts[0] if len(relative.parts) > 1 else "general"
        documents.append(
            Document(
                source=relative.as_posix(),
                text=text,
                format=kind,
                title=title or path.stem,
                metadata={"section": section},
            )
        )
    if problems:
        raise WorkbenchError("\n".join(problems))
    if not documents:
        raise WorkbenchError(f"{folder}: the corpus holds no .md, .txt or .html documents; add some")
    return documents


def _normalise(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _BLANKS.sub("\n\n", text).strip() + "\n"


def _first_line_title(text: str, kind: str) -> str:
    for line in text.splitlines():
        line = line.strip()
        if line:
            return line.lstrip("#").strip() if kind == "markdown" else line
    return ""


def _from_html(html: str) -> tuple[str, str]:
    """Visible text of an HTML page, one block per line, and its title; nothing in it is ever run."""
    from bs4 import BeautifulSoup, Comment

    soup = BeautifulSoup(html, "html.parser")
    title_tag = soup.find("title") or soup.find("h1")
    title = title_tag.get_text(" ", strip=True) if title_tag else ""
    for tag in soup.find_all(_DROP):
        tag.decompose()
    for node in soup.find_all(string=True):  # HTML whitespace is insignificant outside <pre>
        if isinstance(node, Comment):
            node.extract()
        elif node.find_parent("pre") is None:
            node.replace_with(_SPACES.sub(" ", str(node)))
    for cell in soup.find_all(["td", "th"]):
        if cell.find_next_sibling(["td", "th"]):
            cell.insert_after(" | ")
    for tag in soup.find_all(_BLOCKS):
        tag.insert_before("\n\n")
        tag.insert_after("\n\n")
    for tag in soup.find_all(_LINES):
        tag.insert_before("\n")
        tag.insert_after("\n")
    body = soup.body or soup
    text = "\n".join(line.strip() for line in body.get_text().splitlines())
    return _normalise(text), title
