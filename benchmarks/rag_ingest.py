"""Ingestion throughput: workbench.rag's sync (load, split, embed, write to Chroma) against a raw
`encode` of the same chunks by the embedding model, in the same process. Goal: >= 90% of raw.

    .venv/bin/python benchmarks/rag_ingest.py --chunks 2000
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from workbench.rag import Embedder, IndexSpec, load_corpus, split, sync  # noqa: E402
from workbench.rag.embeddings import _model  # noqa: E402

CORPUS = ROOT / "datasets" / "lumen-docs" / "corpus"


def synthetic_corpus(folder: Path, chunks: int, chunk_size: int = 500, seed: int = 0) -> Path:
    """Markdown documents stitched from the Lumen help centre's paragraphs until they split into >= `chunks`."""
    rng = random.Random(seed)
    paragraphs = [p.strip() for d in load_corpus(CORPUS) for p in d.text.split("\n\n") if len(p.strip()) > 40]
    folder.mkdir(parents=True, exist_ok=True)
    made, i = 0, 0
    while made < chunks:
        body = "\n\n".join(rng.sample(paragraphs, 6))
        text = f"# Synthetic article {i}\n\n{body}\n"
        path = folder / f"section-{i % 10}" / f"article-{i:05d}.md"
        path.parent.mkdir(exist_ok=True)
        path.write_text(text)
        made += len(split(load_corpus_one(path, folder), chunk_size, chunk_size // 10))
        i += 1
    return folder


def load_corpus_one(path: Path, folder: Path):
    from workbench.rag.corpus import Document

    return Document(
        source=path.relative_to(folder).as_posix(),
        text=path.read_text(),
        format="markdown",
        title="",
        metadata={"section": path.parent.name},
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=1000)
    parser.add_argument("--chunk-size", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=3, help="interleaved runs of each; the best time counts")
    args = parser.parse_args()
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    from workbench.rag import collection

    raw_times, ingest_times = [], []
    with tempfile.TemporaryDirectory() as tmp:
        folder = synthetic_corpus(Path(tmp) / "corpus", args.chunks, args.chunk_size)
        docs = load_corpus(folder)
        texts = [c.text for d in docs for c in split(d, args.chunk_size, args.chunk_size // 10)]
        model = _model()
        model.encode(texts[:64], batch_size=64)  # warm up
        for run in range(args.repeats):
            start = time.perf_counter()
            model.encode(texts, batch_size=64)
            raw_times.append(time.perf_counter() - start)

            client = chromadb.PersistentClient(
                path=str(Path(tmp) / f"chroma-{run}"), settings=ChromaSettings(anonymized_telemetry=False)
            )
            spec = IndexSpec.of("bench", args.chunk_size, args.chunk_size // 10)
            start = time.perf_counter()
            report = sync(collection(client, spec), spec, load_corpus(folder), Embedder())
            ingest_times.append(time.perf_counter() - start)
            assert report.embedded == len(texts), (report.embedded, len(texts))

    raw, ingest = min(raw_times), min(ingest_times)
    print(
        f"documents {len(docs)}, chunks {len(texts)} (chunk_size {args.chunk_size}), "
        f"best of {args.repeats} interleaved runs, "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    print(
        f"raw encode : {raw:7.2f} s  {len(texts) / raw:7.1f} chunks/s   (runs: {', '.join(f'{t:.1f}' for t in raw_times)} s)"
    )
    print(
        f"rag ingest : {ingest:7.2f} s  {len(texts) / ingest:7.1f} chunks/s   (runs: {', '.join(f'{t:.1f}' for t in ingest_times)} s;"
        f" load + split + embed + Chroma write)"
    )
    ratio = raw / ingest
    print(f"ratio ingest/raw throughput: {ratio:.1%}  (goal >= 90%: {'met' if ratio >= 0.9 else 'NOT met'})")


if __name__ == "__main__":
    main()
