"""Query latency at 10,000 chunks, query embedding included: workbench.rag's retrieve() per mode, against
the raw floor (MiniLM encode + one Chroma query, no workbench code). Goal: semantic p50 <= 20 ms.

    .venv/bin/python benchmarks/rag_query.py --chunks 10000

The synthetic corpus and its index are kept under --home (default .workbench/bench-rag), so a second
run reuses them: the incremental sync finds nothing to embed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

from rag_ingest import ROOT, synthetic_corpus

from workbench.prompts.schema import Retrieval  # noqa: E402  (rag_ingest puts the repo on sys.path)
from workbench.rag import Embedder, retriever_for
from workbench.settings import Settings

GOAL_P50_MS = 20.0


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered) * 1000, ordered[int(0.95 * (len(ordered) - 1))] * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=10000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--home", type=Path, default=ROOT / ".workbench" / "bench-rag")
    args = parser.parse_args()

    corpus = args.home / "datasets" / f"synthetic-{args.chunks}" / "corpus"
    if not corpus.is_dir():
        synthetic_corpus(corpus, args.chunks)
    settings = Settings(root=args.home, home=args.home / "state", tracking_uri="sqlite:///unused", cache=False)
    questions = [
        json.loads(line)["inputs"]["question"]
        for line in (ROOT / "datasets" / "rag-support" / "1.jsonl").read_text().splitlines()
    ]
    queries = [questions[i % len(questions)] + ("" if i < len(questions) else f" ({i})") for i in range(args.queries)]

    start = time.perf_counter()
    base = Retrieval(corpus=corpus.parent.name, k=4, chunk_size=500, chunk_overlap=50)
    semantic = retriever_for(base, settings)
    print(
        f"index: {semantic.report.chunks} chunks, {semantic.report.documents} documents, "
        f"{semantic.report.embedded} embedded now, ready in {time.perf_counter() - start:.1f} s"
    )

    embedder, coll = Embedder(), semantic.collection

    def raw(q: str) -> None:
        coll.query(
            query_embeddings=[embedder.encode_one(q)], n_results=4, include=["documents", "metadatas", "distances"]
        )

    runners = {"raw encode + chroma query": raw}
    for label, overrides in [
        ("rag semantic", {}),
        ("rag bm25", {"mode": "bm25"}),
        ("rag hybrid", {"mode": "hybrid"}),
        ("rag semantic + mmr", {"rerank": "mmr"}),
        ("rag hybrid + embedding rerank", {"mode": "hybrid", "rerank": "embedding"}),
    ]:
        retriever = retriever_for(base.model_copy(update=overrides), settings)
        retriever.retrieve(queries[0])  # builds the BM25 index once per index version
        runners[label] = retriever.retrieve
    times: dict[str, list[float]] = {label: [] for label in runners}
    for q in queries:  # interleaved, so a noisy neighbour slows every variant alike
        for label, run in runners.items():
            t = time.perf_counter()
            run(q)
            times[label].append(time.perf_counter() - t)
    raw_p50, _ = percentiles(times["raw encode + chroma query"])
    print(f"{len(queries)} queries, k=4, load average {os.getloadavg()[0]:.2f}")
    for label, samples in times.items():
        p50, p95 = percentiles(samples)
        line = f"{label:32s} p50 {p50:6.1f} ms  p95 {p95:6.1f} ms  vs raw p50 x{p50 / raw_p50:.2f}"
        if label == "rag semantic":
            line += f"  vs goal {p50 / GOAL_P50_MS:.0%} of {GOAL_P50_MS:.0f} ms ({'met' if p50 <= GOAL_P50_MS else 'NOT met'})"
        print(line)


if __name__ == "__main__":
    sys.exit(main())
