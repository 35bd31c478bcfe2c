"""Retake the MLflow UI screenshots in docs/: a real `mlflow server` on loopback, one evaluation of the demo
project logged to it (traces of every case, a reviewer's label), and headless Chromium on the UI's pages.

    PYTHONPATH=. python docs/mlflow_screenshots.py [--prompt support@1.1.0] [--dataset support-mini]

Writes docs/mlflow-runs.png (Duration and Dataset columns), docs/mlflow-run.png (the run page),
docs/mlflow-trace.png (a failed case's trace with its assessments) and docs/mlflow-prompt.png (the
`production` alias). Nothing is written to the project's own `.workbench/`: the store and cache live in a
temporary folder.
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(folder: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    log = (folder / "mlflow-server.log").open("w")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mlflow",
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--backend-store-uri",
            f"sqlite:///{folder / 'server.db'}",
            "--artifacts-destination",
            str(folder / "artifacts"),
            "--workers",
            "1",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2):
                return process, url
        except OSError:
            assert process.poll() is None, (folder / "mlflow-server.log").read_text()[-2000:]
            time.sleep(0.5)
    process.kill()
    raise RuntimeError("mlflow server did not start")


def screenshot(url: str, out: Path, profile: Path, size: str = "1600,1000", budget_ms: int = 20000) -> None:
    subprocess.run(
        [
            CHROMIUM,
            *FLAGS,
            f"--user-data-dir={profile}",
            f"--window-size={size}",
            f"--virtual-time-budget={budget_ms}",
            f"--screenshot={out}",
            url,
        ],
        check=True,
        capture_output=True,
        timeout=180,
    )
    print(f"wrote {out}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompt", default="support@1.1.0")
    parser.add_argument("--dataset", default="support-mini")
    args = parser.parse_args()

    from workbench.experiment import evaluate
    from workbench.review import ReviewQueue
    from workbench.settings import Settings
    from workbench.tracking import client

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        server, url = start_server(folder)
        try:
            import os

            os.environ["WORKBENCH_HOME"] = str(folder / "home")
            settings = Settings.load(root=REPO, tracking_uri=url)
            result = evaluate(args.prompt, args.dataset, settings=settings, traces=None)
            failed = result.frame[result.frame["passed"].eq(False)]["case_id"]
            case = failed.iloc[0] if len(failed) else result.record["case_id"].iloc[0]
            ReviewQueue(result, settings, reviewer="ana").label(
                case, "fail", rating=2, comment="misses the refund window", correction=None
            )
            store = client(settings)
            run = store.get_run(result.run_id)
            experiment = run.info.experiment_id
            traces = store.search_traces(locations=[experiment], run_id=result.run_id, max_results=100, flush=True)
            trace = next(t for t in traces if t.info.tags.get("workbench.case_id") == case)
            profile = folder / "chromium"
            docs = REPO / "docs"
            screenshot(f"{url}/#/experiments/{experiment}/runs", docs / "mlflow-runs.png", profile)
            screenshot(f"{url}/#/experiments/{experiment}/runs/{result.run_id}", docs / "mlflow-run.png", profile)
            screenshot(
                f"{url}/#/experiments/{experiment}/traces?selectedEvaluationId={trace.info.trace_id}",
                docs / "mlflow-trace.png",
                profile,
            )
            name = args.prompt.partition("@")[0]
            screenshot(f"{url}/#/prompts/{name}", docs / "mlflow-prompt.png", profile)
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
