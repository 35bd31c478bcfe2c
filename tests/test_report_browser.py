"""The rendered gate report in headless Chromium: the verdict and tables are there, and markup planted in model
outputs, inputs, case ids and tags is shown as text and never runs."""

from __future__ import annotations

import json
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from workbench.cli import main
from workbench.datasets import load_dataset

from .test_ci import copy_ci_files
from .test_widgets_cases import make_run

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
SCRIPT = "<script>document.title='PWNED'</script>"
IMG = "<img src=x onerror=\"document.body.dataset.pwned='yes'\">"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium(tmp_path: Path, *args: str) -> str:
    if not CHROMIUM.exists():
        pytest.fail("headless Chromium is missing: run `make chromium` (Debian's chromium package)")
    profile = tmp_path / "chromium-profile"
    done = subprocess.run(
        [str(CHROMIUM), *FLAGS, f"--user-data-dir={profile}", *args], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


class Dom(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict]] = []
        self.title, self.text, self._in = "", [], None

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))
        self._in = tag

    def handle_endtag(self, tag):
        self._in = None

    def handle_data(self, data):
        if self._in == "title":
            self.title += data
        self.text.append(data)


def dump(tmp_path: Path, page: Path) -> Dom:
    dom = Dom()
    dom.feed(chromium(tmp_path, "--dump-dom", page.as_uri()))
    return dom


def test_the_probe_detects_a_payload_that_runs(tmp_path):
    """Control: the same payload in an unescaped page does run in this browser, so the checks below can fail."""
    page = tmp_path / "unsafe.html"
    page.write_text(f"<html><head><title>safe</title></head><body><div>{SCRIPT} {IMG}</div></body></html>")
    dom = dump(tmp_path, page)
    body = next(attrs for tag, attrs in dom.elements if tag == "body")
    assert dom.title == "PWNED" and body.get("data-pwned") == "yes"


@pytest.fixture
def planted_report(tmp_path):
    """A gate report over two saved runs whose outputs, inputs, case ids and tags carry live markup."""
    root = tmp_path / "project"
    (root / "datasets" / "shop").mkdir(parents=True)
    (root / "prompts").mkdir()  # a project root holds prompts/ and datasets/ (settings.is_project)
    planted_id = f"case {IMG}"
    cases = [{"id": planted_id, "inputs": {"question": f"Price? {SCRIPT}"}, "expected": f"$6 {IMG}", "tags": [SCRIPT]}]
    cases += [{"id": f"case-{i:02d}", "inputs": {"question": f"Question {i}?"}, "tags": ["billing"]} for i in range(11)]
    (root / "datasets" / "shop" / "1.jsonl").write_text("".join(json.dumps(c) + "\n" for c in cases))
    dataset = load_dataset("shop", root / "datasets")
    ids = [c["id"] for c in cases]
    tags = {planted_id: SCRIPT}
    base = make_run(
        "shop@1.0.0",
        {i: {"checks": 1} for i in ids},
        dataset_ref="shop@1",
        dataset_hash=dataset.hash,
        outputs={planted_id: "It costs $6."},
        tags=tags,
    )
    cand = make_run(
        "shop@1.1.0",
        {i: {"checks": 0} for i in ids},
        dataset_ref="shop@1",
        dataset_hash=dataset.hash,
        outputs={planted_id: f"It costs {SCRIPT} {IMG}"},
        tags=tags,
    )
    base.save(root / "base.parquet")
    cand.save(root / "cand.parquet")
    (root / "gate.yaml").write_text("critical: [checks]\nmax_latency_increase: null\nmax_cost_increase: null\n")
    (root / "ci.yaml").write_text("notebooks:\n  - name: shop-gate\n    path: notebooks/gate.ipynb\n")
    copy_ci_files(root)
    code = main(
        [
            "--root",
            str(root),
            "ci",
            "-p",
            "baseline",
            str(root / "base.parquet"),
            "-p",
            "candidate",
            str(root / "cand.parquet"),
            "-p",
            "dataset",
            "shop",
            "--no-log",
        ]
    )
    assert code == 1
    return root / "reports" / "shop-gate.html", planted_id


def test_the_report_shows_the_verdict_and_tables_and_planted_markup_stays_text(tmp_path, planted_report):
    page, planted_id = planted_report
    dom = dump(tmp_path, page)
    text = "".join(dom.text)
    body = next(attrs for tag, attrs in dom.elements if tag == "body")
    assert dom.title == "shop-gate: " + str(page.parent.parent / "cand.parquet") + " against " + str(
        page.parent.parent / "base.parquet"
    )
    assert "data-pwned" not in body
    assert not [a for _, attrs in dom.elements for a in attrs if a.lower().startswith("on")]
    assert not [tag for tag, _ in dom.elements if tag in ("script", "iframe", "object", "embed")]
    images = [attrs.get("src", "") for tag, attrs in dom.elements if tag == "img"]
    assert images and all(src.startswith("data:image/png;base64,") for src in images)  # the plots, inline
    assert f"It costs {SCRIPT} {IMG}" in text  # the planted output, visible as text
    assert f"Price? {SCRIPT}" in text and planted_id in text
    assert "GATE FAILED: shop@1.1.0 against shop@1.0.0 on shop@1" in text
    assert "checks regressed: 1.000 -> 0.000" in text and "failing cases (12)" in text
    headers = [t.strip() for t in dom.text]
    assert "baseline [95% CI]" in headers and "cost and latency" in headers and "verdict" in headers
    assert text.index("GATE FAILED") < text.index("Cases that got worse")


def test_a_screenshot_of_the_report_renders(tmp_path, planted_report):
    page, _ = planted_report
    shot = tmp_path / "report.png"
    chromium(tmp_path, "--hide-scrollbars", "--window-size=1280,1600", f"--screenshot={shot}", page.as_uri())
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
