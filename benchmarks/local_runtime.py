"""The embedded model on two llama.cpp bindings: `xllamacpp` (prebuilt wheels, what the workbench uses) against
llama-cpp-python (compiled from source on install; the baseline, measured only where it is installed).

The same GGUF, the same demo requests (support@1.1.0's system prompt and the `support` questions, temperature 0,
max_tokens 96, seed 7), one binding after the other in fresh processes, each twice (ABAB) so a change in the
machine's load shows. Prints seconds to load, seconds and output tokens for the requests, tokens per second,
and how many answers are identical across the bindings.

    .venv/bin/python benchmarks/local_runtime.py --cases 20
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def requests(cases: int) -> list[list[dict[str, str]]]:
    import yaml

    spec = yaml.safe_load((ROOT / "prompts" / "support" / "1.1.0.yaml").read_text())
    system = spec["messages"][0]["content"]
    lines = (ROOT / "datasets" / "support" / "1.jsonl").read_text().splitlines()[:cases]
    return [
        [{"role": "system", "content": system}, {"role": "user", "content": json.loads(line)["inputs"]["question"]}]
        for line in lines
    ]


def run_one(binding: str, cases: int) -> dict:
    """In this process: load the model with `binding`, answer every request, report."""
    from workbench.models.local import SMOLLM2

    params = {"temperature": 0.0, "max_tokens": 96, "seed": 7}
    started = time.perf_counter()
    if binding == "xllamacpp":
        import xllamacpp

        p = xllamacpp.CommonParams()
        p.model.path, p.n_ctx, p.n_parallel, p.warmup, p.verbosity = str(SMOLLM2), 4096, 1, False, -1
        p.cpuparams.n_threads = p.cpuparams_batch.n_threads = 2
        server = xllamacpp.Server(p)

        def answer(messages):
            return server.handle_chat_completions({"messages": messages, **params})
    else:
        import llama_cpp

        llama = llama_cpp.Llama(str(SMOLLM2), n_ctx=4096, n_threads=2, verbose=False)

        def answer(messages):
            return llama.create_chat_completion(messages=messages, **params)

    loaded = time.perf_counter() - started
    started = time.perf_counter()
    out = [answer(m) for m in requests(cases)]
    seconds = time.perf_counter() - started
    tokens = sum(r["usage"]["completion_tokens"] for r in out)
    texts = [r["choices"][0]["message"]["content"] for r in out]
    return {"binding": binding, "load_s": loaded, "seconds": seconds, "tokens": tokens, "texts": texts}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=20)
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one, args.cases)))
        return
    try:
        import llama_cpp  # noqa: F401

        bindings = ["llama-cpp-python", "xllamacpp"]
    except ImportError:
        bindings = ["xllamacpp"]
        print("llama-cpp-python is not installed: no baseline")
    print(f"load average before {os.getloadavg()[0]:.2f}; {args.cases} demo requests per round")
    print("| round | binding | load (s) | requests (s) | output tokens | tokens/s |")
    print("|---|---|---|---|---|---|")
    results: dict[str, list[dict]] = {b: [] for b in bindings}
    for round_ in (1, 2):
        for binding in bindings:
            command = [sys.executable, __file__, "--one", binding, "--cases", str(args.cases)]
            r = json.loads(subprocess.run(command, capture_output=True, text=True, check=True).stdout)
            results[binding].append(r)
            print(
                f"| {round_} | {binding} | {r['load_s']:.2f} | {r['seconds']:.1f} | {r['tokens']} "
                f"| {r['tokens'] / r['seconds']:.1f} |"
            )
    if len(bindings) == 2:
        base, new = (min(results[b], key=lambda r: r["seconds"]) for b in bindings)
        same = sum(a == b for a, b in zip(base["texts"], new["texts"]))
        print(
            f"\nxllamacpp / llama-cpp-python, best rounds: {base['seconds'] / new['seconds']:.2f}x the speed "
            f"(tokens/s {new['tokens'] / new['seconds']:.1f} vs {base['tokens'] / base['seconds']:.1f}); "
            f"identical answers {same} of {args.cases}"
        )
    print(f"load average after {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
