"""An OpenAI-compatible model server on loopback for the server tests: llama.cpp's own HTTP server (the
`xllamacpp` binding) serving a GGUF until it is terminated.

    python -m tests.llama_server --model PATH --port N [--alias NAME] [--n-ctx 2048] [--threads 2]
"""

from __future__ import annotations

import argparse
import signal
import threading


def main() -> None:
    import xllamacpp

    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--alias")
    parser.add_argument("--n-ctx", type=int, default=2048)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    params = xllamacpp.CommonParams()
    params.model.path = args.model
    params.port = args.port
    params.n_ctx = args.n_ctx
    params.n_parallel = 1
    params.cpuparams.n_threads = params.cpuparams_batch.n_threads = args.threads
    params.warmup = False
    params.verbosity = -1
    if args.alias:
        params.model_alias = args.alias
    server = xllamacpp.Server(params)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    print(f"serving {args.model} at {server.listening_address}", flush=True)
    done.wait()


if __name__ == "__main__":
    main()
