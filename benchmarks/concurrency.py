"""Concurrency: 500 cases against a loopback OpenAI-compatible server that answers after 200 ms, at
concurrency 32. The ideal is concurrency / latency = 160 cases/s; the baseline measured in the same run
is the raw `openai` async client sending the same requests at the same concurrency.

    .venv/bin/python benchmarks/concurrency.py [--cases 500] [--concurrency 32] [--delay 0.2]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import socket
import subprocess
import sys
import time
import urllib.request
import warnings
from pathlib import Path

from _project import make_project


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(port: int, delay: float) -> subprocess.Popen:
    server = subprocess.Popen([sys.executable, str(Path(__file__).with_name("slow_server.py")), str(port), str(delay)])
    for _ in range(100):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=1)
            return server
        except OSError:
            time.sleep(0.1)
    server.kill()
    raise RuntimeError("the loopback server did not start")


async def raw_client(base_url: str, cases: int, concurrency: int) -> float:
    from openai import AsyncOpenAI

    client = AsyncOpenAI(base_url=base_url, api_key="not-needed", max_retries=0)
    semaphore = asyncio.Semaphore(concurrency)

    async def one(i: int) -> None:
        async with semaphore:
            await client.chat.completions.create(
                model="slow",
                messages=[
                    {"role": "system", "content": "Answer briefly."},
                    {"role": "user", "content": f"raw question {i}"},
                ],
            )

    start = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(cases)))
    return cases / (time.perf_counter() - start)


def ours(base_url: str, cases: int, concurrency: int) -> float:
    from workbench.experiment import evaluate

    model = f"  provider: openai\n  name: slow\n  base_url: {base_url}\n  max_concurrency: {concurrency}"
    settings = make_project(model, cases)
    make_project(model, 10, name="warmup", root=settings.root)
    settings = type(settings)(**{**settings.__dict__, "cache": False})
    evaluate("warmup@1.0.0", "warmup", scorers=["exact_match"], settings=settings, log=False, progress=False)
    start = time.perf_counter()
    result = evaluate(
        "bench@1.0.0",
        "bench",
        scorers=["exact_match", "contains", "case_checks"],
        settings=settings,
        log=False,
        progress=False,
    )
    elapsed = time.perf_counter() - start
    assert result.totals()["errors"] == 0 and result.model_calls == cases
    return cases / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--delay", type=float, default=0.2)
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    warnings.filterwarnings("ignore")
    port = free_port()
    server = start_server(port, args.delay)
    try:
        base_url = f"http://127.0.0.1:{port}/v1"
        raw = asyncio.run(raw_client(base_url, args.cases, args.concurrency))
        rate = ours(base_url, args.cases, args.concurrency)
    finally:
        server.terminate()
        server.wait(timeout=10)
    ideal = args.concurrency / args.delay
    print(f"ideal:            {ideal:7.1f} cases/s (concurrency {args.concurrency} / {args.delay * 1000:.0f} ms)")
    print(f"raw openai client:{raw:7.1f} cases/s ({raw / ideal:.0%} of ideal)")
    print(
        f"workbench runner: {rate:7.1f} cases/s ({rate / ideal:.0%} of ideal, goal >= 90%; {rate / raw:.2f}x raw client)"
    )


if __name__ == "__main__":
    main()
