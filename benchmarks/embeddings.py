"""Embedding throughput and cold load: the workbench's numpy MiniLM against sentence-transformers (torch) on the
same chunk-sized texts, when sentence-transformers is installed and --float32 names a sentence-transformers folder
of all-MiniLM-L6-v2 (the workbench ships float16 weights). Each measurement is its own process (so neither
library's threads or BLAS settings touch the other's), the two alternate, and the best run counts.

    .venv/bin/python benchmarks/embeddings.py [--float32 PATH]     # --texts 500 --chars 500 --repeats 3
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "datasets" / "lumen-docs" / "corpus"


def texts(count: int, chars: int, seed: int = 0) -> list[str]:
    """`count` distinct texts of about `chars` characters, stitched from the Lumen help centre's paragraphs."""
    sys.path.insert(0, str(ROOT))
    from workbench.rag import load_corpus

    paragraphs = [p.strip() for d in load_corpus(CORPUS) for p in d.text.split("\n\n") if len(p.strip()) > 40]
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        text = ""
        while len(text) < chars:
            text += rng.choice(paragraphs) + "\n\n"
        out.append(text[:chars].rsplit(" ", 1)[0])
    return out


def child(backend: str, path: Path, out: Path, float32: str) -> None:
    """One measurement: import and load (cold, until the first vector), then one timed encode of the texts."""
    start = time.perf_counter()
    if backend == "numpy":
        sys.path.insert(0, str(ROOT))
        from workbench.rag.embeddings import Embedder

        embedder = Embedder()
        encode = embedder.encode
    else:
        os.environ["HF_HUB_OFFLINE"] = "1"
        from sentence_transformers import SentenceTransformer

        model = SentenceTransformer(float32, device="cpu")

        def encode(batch: list[str]):
            return model.encode(batch, batch_size=64, normalize_embeddings=True, show_progress_bar=False)

    encode(["warm"])
    load = time.perf_counter() - start
    items = json.loads(path.read_text())
    encode(items[:64])  # warm up on real lengths
    start = time.perf_counter()
    vectors = encode(items)
    seconds = time.perf_counter() - start
    import numpy as np

    np.save(out, np.asarray(vectors, dtype=np.float32))
    print(json.dumps({"load": load, "seconds": seconds}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=500)
    parser.add_argument("--chars", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--float32", default="", help="a sentence-transformers folder of all-MiniLM-L6-v2")
    parser.add_argument("--child", nargs=3, metavar=("BACKEND", "TEXTS", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], Path(args.child[1]), Path(args.child[2]), args.float32)
        return

    import numpy as np

    compare = args.float32 and importlib.util.find_spec("sentence_transformers")
    backends = ["numpy"] + (["sentence-transformers"] if compare else [])
    load_before = os.getloadavg()
    runs: dict[str, list[dict]] = {b: [] for b in backends}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "texts.json"
        items = texts(args.texts, args.chars)
        path.write_text(json.dumps(items))
        for _ in range(args.repeats):
            for backend in backends:
                out = Path(tmp) / f"{backend}.npy"
                done = subprocess.run(
                    [sys.executable, __file__, "--float32", args.float32, "--child", backend, str(path), str(out)],
                    capture_output=True,
                    text=True,
                    check=True,
                )
                runs[backend].append(json.loads(done.stdout.strip().splitlines()[-1]))
        vectors = {b: np.load(Path(tmp) / f"{b}.npy") for b in backends}
    load_after = os.getloadavg()

    print(
        f"{len(items)} texts of <= {args.chars} characters, {os.cpu_count()} cores, best of {args.repeats} "
        f"alternating runs, load average {load_before[0]:.2f} before, {load_after[0]:.2f} after"
    )
    best = {}
    for backend, measured in runs.items():
        rates = [len(items) / r["seconds"] for r in measured]
        loads = [r["load"] for r in measured]
        best[backend] = max(rates)
        print(
            f"{backend:22s} {max(rates):7.1f} texts/s (runs: {', '.join(f'{x:.1f}' for x in rates)})"
            f"   cold load {min(loads):5.2f} s (runs: {', '.join(f'{x:.2f}' for x in loads)})"
        )
    if len(backends) == 2:
        print(f"ratio numpy / sentence-transformers throughput: {best['numpy'] / best['sentence-transformers']:.2f}x")
        a, b = vectors["numpy"], vectors["sentence-transformers"]
        print(f"max abs difference {np.abs(a - b).max():.2e}, min cosine {float((a * b).sum(axis=1).min()):.7f}")


if __name__ == "__main__":
    main()
