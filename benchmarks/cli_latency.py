"""How long people wait for the command line: `--help`, a bad reference, `prompts lint`, in fresh processes.

Each command runs `--rounds` times in a new process (the console script, as a user types it); the median is
printed beside `python -c pass` measured in the same run (the interpreter's own start-up), with the load average.

    .venv/bin/python benchmarks/cli_latency.py [--rounds 7]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
WORKBENCH = str(Path(sys.executable).with_name("workbench"))
COMMANDS = {
    "python -c pass (baseline)": [sys.executable, "-c", "pass"],
    "workbench --help": [WORKBENCH, "--help"],
    "run: unknown version": [WORKBENCH, "run", "support@9.9.9", "--dataset", "support"],
    "run: unknown dataset": [WORKBENCH, "run", "support@1.1.0", "--dataset", "nope"],
    "compare: unknown configuration": [WORKBENCH, "compare", "nope@1.0.0", "--dataset", "support"],
    "prompts lint": [WORKBENCH, "prompts", "lint"],
}


def seconds(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=REPO, capture_output=True, check=False)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    load_before = os.getloadavg()
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for _ in range(args.rounds):  # interleaved, so a busy moment falls on every command alike
        for name, command in COMMANDS.items():
            times[name].append(seconds(command))
    base = statistics.median(times["python -c pass (baseline)"])
    print(f"load average before {load_before[0]:.2f}, after {os.getloadavg()[0]:.2f}; {args.rounds} rounds")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name:<32} median {median:.3f} s  max {max(values):.3f} s  {median / base:5.1f}x the interpreter")


if __name__ == "__main__":
    main()
