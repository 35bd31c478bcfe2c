"""Fine-tuning export: curated cases of runs as chat examples, in the OpenAI fine-tuning format and as a Hugging Face
`datasets` dataset, with personal data redacted, duplicates dropped, a seeded train/validation split and a manifest.

A case is curated when people or the checks vouch for its answer (`take`):
- `corrected`: a reviewer wrote a better answer (the latest correction is the assistant turn);
- `reviewed`: reviewers' current labels pass it (thumbs up, or rated at least `pass_at`) and none fails it;
- `passing`: every scorer of the run passed it, and no reviewer failed it.
The prompt turns are the configuration's own rendered messages for the inputs the run sent (retrieved chunks fill
`{context}` as the runner did). Duplicates are examples whose prompt turns match after case-folding and whitespace
normalisation; the first in `take` order wins. The folder is written whole or not at all (a temporary folder renamed).
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from .errors import WorkbenchError
from .feedback import FeedbackStore, feedback_path
from .guardrails.pii import find_pii, replace_findings
from .prompts import resolve
from .results import RunResult
from .settings import Settings

TAKES = ("corrected", "reviewed", "passing")


@dataclass
class Example:
    """One chat example and where it came from."""

    id: str
    messages: list[dict[str, str]]
    source: str  # corrected | reviewed | passing
    run: str
    allow: tuple[str, ...] = ()  # values that are not personal data here (the configuration's `pii_allow`)


@dataclass
class FinetuneExport:
    """What `export_finetune` wrote."""

    path: Path
    train: list[Example]
    validation: list[Example]
    manifest: dict[str, Any] = field(repr=False)

    def report(self) -> str:
        c = self.manifest["counts"]
        return (
            f"wrote {self.path}: {c['train']} train + {c['validation']} validation examples "
            f"({', '.join(f'{k} {v}' for k, v in c['selected'].items())}; {c['duplicates']} duplicates dropped, "
            f"{c['redactions']} personal data redactions); seed {self.manifest['seed']}"
        )


def curate(run: RunResult, settings: Settings, take: tuple[str, ...] = TAKES, pass_at: int = 4) -> list[Example]:
    """The run's curated cases as chat examples (first repeat of each case), in `take` order, not yet redacted."""
    unknown = [t for t in take if t not in TAKES]
    if unknown or not take:
        raise WorkbenchError(
            f"--take: {', '.join(unknown) or 'nothing'} is not a selection; use any of {', '.join(TAKES)}"
        )
    prompt = resolve(run.prompt_ref, settings.prompts_dir)
    label = run.run_id or run.prompt_ref
    if prompt.hash != run.prompt_hash:
        raise WorkbenchError(
            f"{prompt.path}: its content changed since run {label} (hash {prompt.hash[:12]}, the run "
            f"used {run.prompt_hash[:12]}); export runs of the configuration as it is"
        )
    record = run.record.sort_values("repeat").drop_duplicates("case_id").set_index("case_id", drop=False)
    reviews = FeedbackStore(feedback_path(run, settings)).latest()
    verdicts: dict[str, list[bool]] = {}
    corrections: dict[str, str] = {}
    for review in reviews.itertuples():
        if isinstance(review.thumb, str) or not pd.isna(review.rating):
            good = review.thumb == "up" if isinstance(review.thumb, str) else review.rating >= pass_at
            verdicts.setdefault(review.case_id, []).append(bool(good))
        if isinstance(review.correction, str) and review.correction.strip():
            corrections[review.case_id] = review.correction.strip()
    chosen: dict[str, tuple[str, str]] = {}  # case -> (source, answer)
    for kind in take:
        for row in record.itertuples():
            if row.case_id in chosen:
                continue
            answered = isinstance(row.output, str) and not isinstance(row.error, str) and not row.blocked
            people = verdicts.get(row.case_id, [])
            if kind == "corrected" and row.case_id in corrections:
                chosen[row.case_id] = ("corrected", corrections[row.case_id])
            elif kind == "reviewed" and answered and people and all(people):
                chosen[row.case_id] = ("reviewed", row.output)
            elif kind == "passing" and answered and not (people and not all(people)) and _passed(row.scores):
                chosen[row.case_id] = ("passing", row.output)
    examples = []
    allow = tuple(prompt.spec.guardrails.pii_allow) if prompt.spec.guardrails else ()
    for case_id, (source, answer) in chosen.items():
        row = record.loc[case_id]
        context = _context(row["chunks"]) if prompt.spec.retrieval else None
        messages = prompt.render(row["inputs"] or {}, context=context) + [{"role": "assistant", "content": answer}]
        examples.append(Example(id=case_id, messages=messages, source=source, run=label, allow=allow))
    return examples


def export_finetune(
    runs: list[RunResult],
    out: str | Path,
    settings: Settings,
    take: tuple[str, ...] = TAKES,
    validation: float = 0.1,
    seed: int = 0,
    pass_at: int = 4,
    overwrite: bool = False,
    pii_allow: tuple[str, ...] | list[str] = (),
) -> FinetuneExport:
    """Write `out/train.jsonl` and `out/validation.jsonl` (OpenAI chat format), `out/hf/` (a `datasets.DatasetDict`,
    `save_to_disk`) and `out/manifest.json` (provenance: configurations and hashes, dataset versions and hashes,
    run ids, counts, seed). Personal data is redacted in every turn, except `pii_allow` values and the
    configuration's own `guardrails.pii_allow` (a support address in the system prompt)."""
    out = Path(out)
    if not 0 <= validation < 1:
        raise WorkbenchError(
            f"--validation: {validation} is not a fraction; give a number from 0 up to (not including) 1"
        )
    if out.exists() and not overwrite:
        raise WorkbenchError(f"{out}: already exists; choose a new folder or pass --overwrite")
    if not out.parent.is_dir():
        raise WorkbenchError(f"{out}: no folder {out.parent}; create it first")
    selected: list[Example] = []
    for run in runs:
        selected += curate(run, settings, take, pass_at)
    redactions = 0
    for example in selected:
        for message in example.messages:
            findings = find_pii(message["content"], allow=(*pii_allow, *example.allow))
            redactions += len(findings)
            message["content"] = replace_findings(message["content"], findings)
    unique: dict[str, Example] = {}
    for example in selected:
        unique.setdefault(_key(example.messages), example)
    examples = list(unique.values())
    if not examples:
        raise WorkbenchError(
            f"no curated cases in {', '.join(r.run_id or r.prompt_ref for r in runs)} for --take "
            f"{','.join(take)}; label cases in the review queue, or add --take passing"
        )
    random.Random(seed).shuffle(examples)
    n_validation = round(len(examples) * validation)
    if validation and len(examples) > 1:
        n_validation = min(max(n_validation, 1), len(examples) - 1)
    train, held = examples[n_validation:], examples[:n_validation]
    manifest = {
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "format": "openai-chat-jsonl+hf-datasets",
        "seed": seed,
        "validation_fraction": validation,
        "take": list(take),
        "pass_at": pass_at,
        "pii_allow": sorted({*pii_allow, *(a for e in selected for a in e.allow)}),
        "runs": [
            {
                "run_id": r.run_id,
                "configuration": r.prompt_ref,
                "configuration_hash": r.prompt_hash,
                "dataset": r.dataset_ref,
                "dataset_hash": r.dataset_hash,
            }
            for r in runs
        ],
        "counts": {
            "selected": {k: sum(e.source == k for e in selected) for k in take},
            "duplicates": len(selected) - len(examples),
            "redactions": redactions,
            "train": len(train),
            "validation": len(held),
        },
        "files": {"train": "train.jsonl", "validation": "validation.jsonl" if held else None, "hf": "hf"},
    }
    _write(out, train, held, manifest, overwrite)
    return FinetuneExport(out, train, held, manifest)


def _write(out: Path, train: list[Example], held: list[Example], manifest: dict[str, Any], overwrite: bool) -> None:
    import datasets  # Hugging Face datasets takes a second to import: only an export pays for it

    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}."))
    try:
        for name, part in (("train", train), ("validation", held)):
            if part:
                (tmp / f"{name}.jsonl").write_text(
                    "".join(json.dumps({"messages": e.messages}, ensure_ascii=False) + "\n" for e in part),
                    encoding="utf-8",
                )
        features = datasets.Features(
            {
                "id": datasets.Value("string"),
                "source": datasets.Value("string"),
                "run": datasets.Value("string"),
                "messages": datasets.List({"role": datasets.Value("string"), "content": datasets.Value("string")}),
            }
        )
        splits = {
            name: datasets.Dataset.from_dict({k: [getattr(e, k) for e in part] for k in features}, features=features)
            for name, part in (("train", train), ("validation", held))
            if part
        }  # an empty split cannot be loaded
        datasets.disable_progress_bars()
        datasets.DatasetDict(splits).save_to_disk(str(tmp / "hf"))
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        os.chmod(tmp, 0o755)
        old = None
        if out.exists() and overwrite:
            old = out.with_name(f".{out.name}.old-{os.getpid()}")
            out.rename(old)
        tmp.rename(out)
        if old is not None:
            shutil.rmtree(old)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _passed(scores: list[dict[str, Any]]) -> bool:
    judged = [s["passed"] for s in scores if s.get("passed") is not None]
    return bool(judged) and all(judged) and not any(isinstance(s.get("error"), str) for s in scores)


def _context(chunks: Any) -> str:
    from .rag.retriever import Retriever  # chromadb loads only for configurations with retrieval

    return Retriever.format(list(chunks or []))


def _key(messages: list[dict[str, str]]) -> str:
    """The prompt turns, case-folded with whitespace collapsed: examples asking the same are duplicates."""
    return json.dumps(
        [
            (m["role"], re.sub(r"\s+", " ", m["content"]).strip().casefold())
            for m in messages
            if m["role"] != "assistant"
        ]
    )
