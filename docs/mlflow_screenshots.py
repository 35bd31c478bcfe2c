"""Retake the MLflow UI screenshots in docs/: a real `mlflow server` on loopback, one evaluation of the demo
project logged to it (traces of every case, a reviewer's label), and headless Chromium on the UI's pages.

    PYTHONPATH=. python docs/mlflow_screenshots.py [--prompt support@1.1.0] [--dataset support-mini] [--cache-home DIR]

Writes docs/mlflow-runs.png (Duration and Dataset columns), docs/mlflow-run.png (the run page),
docs/mlflow-traces.png (every case's scores and the reviewer's label as assessment columns),
docs/mlflow-trace.png (a failed case's trace with its assessments) and docs/mlflow-prompt.png (the
`production` alias). Nothing is written to the project's own `.workbench/`: the store and cache live in a
temporary folder (with `--cache-home`, a second take answers from the cache, so its run lasts well under a
second; the committed screenshots are of a fresh evaluation).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
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


class Browser:
    """Headless Chromium driven over the DevTools protocol: the MLflow UI is a JS app whose panels open on click."""

    def __init__(self, folder: Path, width: int = 1600, height: int = 1000):
        from websockets.sync.client import connect

        port = free_port()
        self.process = subprocess.Popen(
            [CHROMIUM, *FLAGS, f"--remote-debugging-port={port}", f"--user-data-dir={folder / 'chromium'}"]
            + [f"--window-size={width},{height}", "about:blank"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=2) as answer:
                    page = next(t for t in json.load(answer) if t["type"] == "page")
                break
            except (OSError, StopIteration):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)
        self.stack = contextlib.ExitStack()
        self.socket = self.stack.enter_context(connect(page["webSocketDebuggerUrl"], max_size=None, open_timeout=60))
        self.calls = 0
        self.send("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=False)

    def send(self, method: str, **params) -> dict:
        self.calls += 1
        self.socket.send(json.dumps({"id": self.calls, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv())
            if message.get("id") == self.calls:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})

    def js(self, expression: str):
        return self.send("Runtime.evaluate", expression=expression, returnByValue=True)["result"].get("value")

    def wait_for(self, expression: str, seconds: float = 90) -> None:
        deadline = time.monotonic() + seconds
        while not self.js(expression):
            if time.monotonic() > deadline:
                raise TimeoutError(f"the page never showed: {expression}")
            time.sleep(0.5)

    def shoot(
        self, url: str, out: Path, ready: str, clicks: tuple[str, ...] = (), width: int = 1600, height: int = 1000
    ) -> None:
        """Open `url`, wait until the text `ready` is on the page, click each button named in `clicks`, capture."""
        self.send("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=False)
        self.send("Page.navigate", url=url)
        self.wait_for(f"document.body && document.body.innerText.includes({json.dumps(ready)})")
        time.sleep(3)  # the page's other requests
        self.js(CLOSE_ASSISTANT)
        for text in clicks:
            self.wait_for(CLICK % json.dumps(text), seconds=30)
            time.sleep(2)
        time.sleep(1)
        out.write_bytes(base64.b64decode(self.send("Page.captureScreenshot", format="png")["data"]))
        print(f"wrote {out}")

    def close(self) -> None:
        self.stack.close()
        self.process.terminate()
        self.process.wait(timeout=30)


# The MLflow Assistant side panel opens by default and covers a third of the page; a tip pops up on traces.
CLOSE_ASSISTANT = """(() => {
  for (const b of document.querySelectorAll('button')) {
    if (b.getAttribute('aria-label') === 'Close' || b.innerText.trim() === 'Got it') b.click();
  }
  return true;
})()"""
# Click the button whose aria-label starts with, or whose text is, the given one.
CLICK = """(() => {
  const want = %s;
  const target = [...document.querySelectorAll('button,[role=tab]')].find(
    e => (e.getAttribute('aria-label') || '').startsWith(want) || e.innerText.trim() === want);
  if (!target) return false;
  target.click();
  return true;
})()"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompt", default="support@1.1.0")
    parser.add_argument("--dataset", default="support-mini")
    parser.add_argument("--cache-home", help="keep the workbench home (its answer cache) here to retake quickly")
    args = parser.parse_args()

    from workbench.experiment import evaluate
    from workbench.mlflow_store import client
    from workbench.review import ReviewQueue
    from workbench.settings import Settings

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        server, url = start_server(folder)
        try:
            os.environ["WORKBENCH_HOME"] = args.cache_home or str(folder / "home")
            settings = Settings.load(root=REPO, tracking_uri=url)
            result = evaluate(args.prompt, args.dataset, settings=settings, traces=None)
            failed = result.frame[result.frame["passed"].eq(False)]["case_id"]
            case = failed.iloc[0] if len(failed) else result.record["case_id"].iloc[0]
            ReviewQueue(result, settings, reviewer="ana").label(
                case, "fail", rating=2, comment="does not answer the question"
            )
            store = client(settings)
            assert result.run_id is not None
            experiment = store.get_run(result.run_id).info.experiment_id
            traces = store.search_traces(locations=[experiment], run_id=result.run_id, max_results=100, flush=True)
            trace = next(t for t in traces if t.info.tags.get("workbench.case_id") == case)
            name, docs = args.prompt.partition("@")[0], REPO / "docs"
            browser = Browser(folder)
            try:
                runs = f"{url}/#/experiments/{experiment}/runs"
                browser.shoot(runs, docs / "mlflow-runs.png", "Duration")
                browser.shoot(f"{runs}/{result.run_id}", docs / "mlflow-run.png", "About this run")
                traced = f"{url}/#/experiments/{experiment}/traces"
                browser.shoot(traced, docs / "mlflow-traces.png", "reviewer_verdict", width=2400, height=900)
                browser.shoot(
                    f"{traced}?selectedEvaluationId={trace.info.trace_id}",
                    docs / "mlflow-trace.png",
                    "Inputs / Outputs",
                    clicks=("Assess trace",),
                )
                browser.shoot(f"{url}/#/prompts/{name}", docs / "mlflow-prompt.png", "production")
            finally:
                browser.close()
        finally:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(timeout=30)


if __name__ == "__main__":
    main()
