"""Judge calibration (#20): each available judge grades the 64 labelled cases of datasets/judge-labels; a Markdown
table of coverage, Cohen's kappa with its 95% bootstrap interval, n and seconds per grade.

The judges are the shipped rubric-judge@1.0.0 on the embedded SmolLM2-135M (unconstrained, constrained to the
verdict schema with the sampled grade, and constrained with the probability-weighted grade), the same on
gemma3-270m when its package is installed, and with --server the same GGUF behind an OpenAI-compatible
endpoint (llama.cpp's own server, `tests/llama_server.py`, started on loopback and stopped at the end). No response cache: every
grade is a model call. Each judge answers one untimed grade first, so loading the weights is not counted.
The process (and the server) runs on `--cores` cores (default 1, one llama.cpp thread): on a shared machine,
llama.cpp threads that wait for each other behind other processes made grades up to 20x slower and the
figures meaningless.

    .venv/bin/python benchmarks/judge_calibration.py [--limit N] [--server] [--cores 1] [--only WORD ...]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import warnings
from datetime import UTC, datetime
from pathlib import Path

from workbench.calibration import CONFIDENCE, calibrate, load_labels
from workbench.models.local import model_path
from workbench.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
LABELS = ROOT / "datasets" / "judge-labels" / "labels.jsonl"
JUDGE = ROOT / "prompts" / "rubric-judge" / "1.0.0.yaml"
LOCAL_BLOCK = "  provider: local\n  name: smollm2-135m\n"


def judge_project(port: int | None) -> Path:
    """A project with rubric-judge@1.0.0 as shipped, on gemma3-270m, and (with a port) on the loopback server."""
    root = Path(tempfile.mkdtemp(prefix="wb-judge-bench-"))
    text = JUDGE.read_text()
    assert LOCAL_BLOCK in text, f"{JUDGE}: the model block changed; update {__file__}"
    variants = {"rubric-judge": LOCAL_BLOCK, "rubric-judge-gemma": "  provider: local\n  name: gemma3-270m\n"}
    if port:
        variants["rubric-judge-server"] = (
            f"  provider: openai\n  name: smollm2-135m\n  base_url: http://127.0.0.1:{port}/v1\n  max_retries: 0\n"
        )
    for name, block in variants.items():
        (root / "prompts" / name).mkdir(parents=True)
        body = text.replace(LOCAL_BLOCK, block).replace("name: rubric-judge\n", f"name: {name}\n", 1)
        (root / "prompts" / name / "1.0.0.yaml").write_text(body)
    return root


def judges(server: bool) -> list[tuple[str, dict]]:
    """(label, llm_judge arguments) of every judge that can run here."""
    found = [
        ("smollm2-135m unconstrained", {"judge": "rubric-judge@1.0.0", "constrained": False, "weighted": False}),
        ("smollm2-135m constrained, sampled grade", {"judge": "rubric-judge@1.0.0", "weighted": False}),
        ("smollm2-135m constrained, weighted grade", {"judge": "rubric-judge@1.0.0"}),
    ]
    try:
        model_path("gemma3-270m")
        found += [
            ("gemma3-270m constrained, sampled grade", {"judge": "rubric-judge-gemma@1.0.0", "weighted": False}),
            ("gemma3-270m constrained, weighted grade", {"judge": "rubric-judge-gemma@1.0.0"}),
        ]
    except Exception as exc:  # the optional extra is missing: say so, measure the others
        print(f"gemma3-270m skipped: {exc}", file=sys.stderr)
    if server:
        # (llama-cpp-python's server refused response_format json_schema: HTTP 500, "Input should be 'text' or
        # 'json_object'"; llama.cpp's own takes it, and returns token logprobs)
        found.append(
            (
                "smollm2-135m, OpenAI-compatible server, constrained, weighted grade",
                {"judge": "rubric-judge-server@1.0.0"},
            )
        )
    return found


def start_server(threads: int) -> tuple[subprocess.Popen, int]:
    """llama.cpp's OpenAI-compatible server over the bundled SmolLM2 GGUF, on a free loopback port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    command = [sys.executable, "-m", "tests.llama_server", "--model", str(model_path("smollm2-135m"))]
    command += ["--port", str(port), "--n-ctx", "4096", "--threads", str(threads)]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=2).close()
            return process, port
        except OSError:
            time.sleep(0.5)
    process.terminate()
    raise SystemExit("tests.llama_server did not answer within 60 s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None, help="grade only the first N labelled cases")
    parser.add_argument("--server", action="store_true", help="also an OpenAI-compatible endpoint on loopback")
    parser.add_argument("--only", nargs="*", help="judges whose label contains one of these words")
    parser.add_argument("--cores", type=int, default=1, help="cores to run on (llama.cpp runs one thread each)")
    args = parser.parse_args()
    os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[-args.cores :])
    logging.disable(logging.WARNING)
    warnings.filterwarnings("ignore")
    server, port = start_server(args.cores) if args.server else (None, None)
    root = judge_project(port)
    labels = LABELS
    if args.limit:
        labels = root / "labels.jsonl"
        labels.write_text("".join(line + "\n" for line in LABELS.read_text().splitlines()[: args.limit]))
    settings = Settings(root=root, home=root / "home", tracking_uri=f"sqlite:///{root / 'mlflow.db'}", cache=False)
    warm = root / "warm.jsonl"
    warm.write_text(LABELS.read_text().splitlines()[0] + "\n")
    started = datetime.now(UTC)
    rows = []
    try:
        for label, judge_args in judges(args.server):
            if args.only and not any(word in label for word in args.only):
                continue
            spec = {"name": "llm_judge", "args": judge_args}
            calibrate(spec, warm, settings=settings)  # loads the weights, untimed
            start = time.perf_counter()
            report = calibrate(spec, labels, settings=settings)
            seconds = time.perf_counter() - start
            m = report.metrics
            rows.append((label, m, seconds / m["n"]))
            print(report.report(), file=sys.stderr)
            print(json.dumps({"judge": label, **m, "seconds_per_grade": seconds / m["n"]}), file=sys.stderr)
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        shutil.rmtree(root, ignore_errors=True)
    load = os.getloadavg()
    finished = datetime.now(UTC)
    print(f"{len(load_labels(LABELS))} labelled cases in {LABELS.relative_to(ROOT)}; {started:%Y-%m-%d %H:%M}-")
    print(f"{finished:%H:%M} UTC on {args.cores} core(s); load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}\n")
    print(f"| judge | coverage | kappa [{CONFIDENCE:.0%} CI] | n | judge pass rate | s per grade |")
    print("|---|---|---|---|---|---|")
    for label, m, per_grade in rows:
        kappa = f"{m['kappa']:.3f} [{m['kappa_low']:.3f}, {m['kappa_high']:.3f}]" if m["graded"] else "-"
        print(
            f"| {label} | {m['coverage']:.2f} ({m['graded']:.0f}/{m['n']:.0f}) | {kappa} | {m['graded']:.0f} | "
            f"{m['judge_pass_rate']:.2f} | {per_grade:.2f} |"
        )


if __name__ == "__main__":
    main()
