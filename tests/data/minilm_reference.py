"""Reference vectors for tests/test_rag_embeddings.py, recorded with sentence-transformers (torch), the
encoder the workbench used before its numpy one, from the float32 model. Run again only where sentence-transformers
and a sentence-transformers folder of all-MiniLM-L6-v2 are at hand:

    HF_HUB_OFFLINE=1 .venv/bin/python tests/data/minilm_reference.py PATH/TO/all-MiniLM-L6-v2
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

HERE = Path(__file__).parent

_PARAGRAPH = (
    "Lumen bills each workspace once a month, on the day the subscription started. An invoice lists every seat "
    "that was active during the period, prorated to the day, and the add-ons the owner enabled. Refunds go back "
    "to the card that paid; a card that has expired since then gets a credit on the next invoice instead. "
)
_STEPS = " ".join(
    f"Step {i}: open Settings, choose Security, and rotate key #{i * 7} before {2020 + i % 7}-0{1 + i % 9}-15."
    for i in range(1, 40)
)

TEXTS = [
    "",
    " ",
    "\n\t  \n",
    "hello",
    "Hello, world!",
    "How do I reset my password?",
    "The reset link expires after 1 hour.",
    "WHY IS MY INVOICE WRONG???",
    "Café crème brûlée à la française, naïve façade, señor, São Paulo.",
    "Straße über Äpfel und Öl; die Größe zählt.",
    "I love pizza 🍕🍕 and 🚀 rockets! 😀👍🏽",
    "東京は日本の首都です。北京是中国的首都。",
    "Привет, как дела? Всё хорошо.",
    "مرحبا بالعالم",
    "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 math: ℵ₀ ≤ 2^ℵ₀, ∑ xᵢ² ≈ π",
    "zero\u200bwidth soft\u00adhyphen control\x07bell",
    "def add(a, b):\n    return a + b\n\nprint(add(2, 3))  # 5",
    '{"key": [1, 2, 3], "nested": {"x": null, "y": true}}',
    "3.14159 2.71828 1,000,000 42 -7 1e-12 0x1F 007",
    "Call +1 (555) 012-3456 before 2026-11-22T10:00:00Z or mail help@example.com.",
    "https://example.com/path/to/page?query=1&b=two#fragment",
    "# Title\n\n- item one\n- item **bold**\n\n| a | b |\n|---|---|\n| 1 | 2 |",
    "antidisestablishmentarianism supercalifragilisticexpialidocious pneumonoultramicroscopic",
    "!!!???...,,,;;; --- ***",
    _PARAGRAPH * 2,  # about 130 word pieces: padded in a batch with longer texts
    _PARAGRAPH * 5,  # over 256 word pieces: truncated
    _STEPS,  # far over 512 word pieces (past the position table): truncated
]


def main() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import numpy as np
    import sentence_transformers
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(sys.argv[1], device="cpu")
    vectors = model.encode(TEXTS, batch_size=64, normalize_embeddings=True, convert_to_numpy=True)
    lengths = [len(model.tokenizer(t)["input_ids"]) for t in TEXTS]
    np.save(HERE / "minilm_reference.npy", vectors.astype(np.float32))
    meta = {"sentence_transformers": sentence_transformers.__version__, "texts": TEXTS, "token_lengths": lengths}
    (HERE / "minilm_reference.json").write_text(json.dumps(meta, indent=1, ensure_ascii=False) + "\n")
    print(vectors.shape, "token lengths", lengths)


if __name__ == "__main__":
    main()
