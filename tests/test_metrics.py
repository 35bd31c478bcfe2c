"""Prometheus metrics: counted per call during a run, served over HTTP, pushed to a gateway, written as text;
the example alert rules name only metrics the library exports."""

from __future__ import annotations

import http.server
import json
import re
import socket
import threading
import time
import urllib.request
from pathlib import Path

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import free_port
from workbench.cli import main
from workbench.metrics import RunMetrics, error_kind

ROOT = Path(__file__).resolve().parents[1]

SLOW = """\
name: slow
description: A scripted model that takes its time, so a scrape can happen while the run goes on.
model:
  provider: langchain
  name: langchain_core.language_models.fake_chat_models.FakeListChatModel
  kwargs:
    responses: ["Paris.", "4", "Blue."]
    sleep: {sleep}
  max_concurrency: 1
variables: [question]
messages:
  - role: user
    content: "{{question}}"
"""


def samples(text: str) -> dict[tuple[str, tuple], float]:
    """Every sample of an exposition, keyed by name and sorted labels."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(text: str, name: str, **labels: str) -> float:
    return samples(text).get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture
def slow(project):
    def write(sleep: float = 0.0) -> str:
        (project.prompts_dir / "slow").mkdir(exist_ok=True)
        (project.prompts_dir / "slow" / "1.0.0.yaml").write_text(SLOW.format(sleep=sleep))
        return "slow@1.0.0"

    return write


def run_args(project, *extra: str) -> list[str]:
    return [
        "--root",
        str(project.root),
        "run",
        "slow@1.0.0",
        "--dataset",
        "tiny",
        "--scorer",
        "case_checks",
        "--no-log",
        "--quiet",
        *extra,
    ]


def test_each_call_is_counted_by_kind():
    metrics = RunMetrics()
    ok = {
        "error": None,
        "latency_s": 0.3,
        "input_tokens": 40,
        "output_tokens": 7,
        "cost": 0.002,
        "cached": False,
        "guardrails": None,
        "blocked": False,
        "scores": [{"error": None}],
    }
    rows = [
        ok,
        {**ok, "cached": True, "cost": 0.002},  # a cache hit: no latency, tokens or cost now
        {**ok, "error": "TimeoutError: ", "latency_s": 30.0, "input_tokens": None, "output_tokens": None, "cost": None},
        {**ok, "error": "retrieval: ValueError: no index", "latency_s": 0.0, "cost": None},
        {
            **ok,
            "guardrails": "pii:EMAIL,injection:ignore_instructions",
            "blocked": True,
            "latency_s": 0.0,
            "input_tokens": None,
            "output_tokens": None,
            "cost": None,
        },
        {**ok, "scores": [{"error": "scorer llm_judge: ValueError: no grade"}]},
    ]
    for row in rows:
        metrics.observe(row, "support@1.1.0")
    metrics.observe(ok, "support@1.0.0")
    text, v = metrics.exposition(), {"configuration": "support", "version": "1.1.0", "source": "evaluation"}
    assert value(text, "workbench_requests_total", **v) == 6
    assert value(text, "workbench_requests_total", configuration="support", version="1.0.0", source="evaluation") == 1
    assert value(text, "workbench_errors_total", **v, kind="timeout") == 1
    assert value(text, "workbench_errors_total", **v, kind="retrieval") == 1
    assert value(text, "workbench_errors_total", **v, kind="scorer") == 1
    assert value(text, "workbench_errors_total", **v, kind="model") == 0
    assert value(text, "workbench_cache_hits_total", **v) == 1
    assert value(text, "workbench_request_latency_seconds_count", **v) == 2  # answered, not cached, not blocked
    assert value(text, "workbench_request_latency_seconds_sum", **v) == pytest.approx(0.6)
    assert value(text, "workbench_request_latency_seconds_bucket", **v, le="0.5") == 2
    assert value(text, "workbench_tokens_sum", **v, direction="input") == 40 * 3  # the retrieval error had none
    assert value(text, "workbench_cost_usd_total", **v) == pytest.approx(0.004)
    assert value(text, "workbench_guardrail_triggers_total", **v, rule="pii") == 1
    assert value(text, "workbench_guardrail_triggers_total", **v, rule="injection") == 1
    assert value(text, "workbench_guardrail_blocks_total", **v) == 1


def test_error_kinds():
    assert error_kind("TimeoutError: ") == "timeout"
    assert error_kind("retrieval: KeyError: 'x'") == "retrieval"
    assert error_kind("request over the per-request token limit: about 900 tokens > 500") == "budget"
    assert error_kind("APIConnectionError: Connection error.") == "model"


def test_alert_rules_parse_and_name_exported_metrics():
    rules_file = yaml.safe_load((ROOT / "ops" / "prometheus" / "alerts.yml").read_text())
    exported = RunMetrics.names()
    rules = [rule for group in rules_file["groups"] for rule in group["rules"]]
    assert all(set(group) == {"name", "rules"} for group in rules_file["groups"])
    alerts = {rule["alert"]: rule for rule in rules}
    assert {"WorkbenchDailySpendOver50USD", "WorkbenchErrorRateHigh", "WorkbenchLatencyP95High"} <= set(alerts)
    for rule in rules:
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"} and rule["annotations"]["summary"]
        assert re.fullmatch(r"\d+[smhd]", rule["for"])
        expr = rule["expr"]
        assert expr.count("(") == expr.count(")") and expr.count("[") == expr.count("]")
        used = set(re.findall(r"\bworkbench_[a-z_]+", expr))
        assert used and used <= exported, f"{rule['alert']}: {used - exported} are not exported"
        for label in re.findall(r"by \(([^)]*)\)", expr):
            assert {part.strip() for part in label.split(",")} <= {"configuration", "version", "source", "le"}
    spend = alerts["WorkbenchDailySpendOver50USD"]["expr"]
    assert "workbench_cost_usd_total[1d]" in spend and spend.rstrip().endswith("> 50")
    assert "histogram_quantile(0.95" in alerts["WorkbenchLatencyP95High"]["expr"]
    assert "workbench_errors_total" in alerts["WorkbenchErrorRateHigh"]["expr"]


def test_metrics_are_scraped_over_http_while_the_run_goes_on(project, slow, capsys):
    slow(sleep=0.6)
    port = free_port()
    done: list[int] = []
    thread = threading.Thread(target=lambda: done.append(main(run_args(project, "--metrics-port", str(port)))))
    thread.start()
    seen = []  # (requests counted, run still going) per scrape
    while thread.is_alive():
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as response:
                text = response.read().decode()
            seen.append(
                (
                    value(text, "workbench_requests_total", configuration="slow", version="1.0.0", source="evaluation"),
                    thread.is_alive(),
                )
            )
        except OSError:
            pass  # the server is not up yet, or the run just ended
        time.sleep(0.1)
    thread.join()
    assert done == [0]
    during = [n for n, alive in seen if alive]
    assert any(0 < n < 3 for n in during), seen  # a scrape saw a run half done
    assert max(n for n, _ in seen) <= 3
    with pytest.raises(OSError):  # the server stops with the run
        urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2)


class Gateway(http.server.BaseHTTPRequestHandler):
    """Stands in for a Pushgateway: records each request's method, path and body."""

    received: list[tuple[str, str, bytes]]  # each test's handler class gets its own list (see `gateway`)
    status = 200

    def do_PUT(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.received.append(("PUT", self.path, body))
        self.send_response(self.status)
        self.end_headers()

    do_POST = do_PUT

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def gateway():
    handler = type("Handler", (Gateway,), {"received": [], "status": 200})
    server = http.server.HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield handler, f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def test_a_run_pushes_its_metrics_to_a_pushgateway(project, slow, gateway, capsys):
    slow()
    handler, url = gateway
    assert main(run_args(project, "--pushgateway", url)) == 0
    [(method, path, body)] = handler.received
    assert method == "PUT" and path == f"/metrics/job/workbench/instance/{socket.gethostname()}"
    text = body.decode()
    assert value(text, "workbench_requests_total", configuration="slow", version="1.0.0", source="evaluation") == 3
    assert (
        value(text, "workbench_errors_total", configuration="slow", version="1.0.0", source="evaluation", kind="model")
        == 0
    )
    assert "# TYPE workbench_request_latency_seconds histogram" in text
    assert "slow@1.0.0 on tiny@1" in capsys.readouterr().out


def test_a_failed_push_exits_3_after_the_report(project, slow, gateway, capsys):
    slow()
    handler, url = gateway
    handler.status = 500
    assert main(run_args(project, "--pushgateway", url)) == 3
    out, err = capsys.readouterr()
    assert "slow@1.0.0 on tiny@1" in out and "push failed" in err and "Traceback" not in err


def test_bad_metrics_options_exit_2_before_running(project, slow, capsys):
    slow()
    assert main(run_args(project, "--pushgateway", "localhost:9091")) == 2
    assert "is not a URL" in capsys.readouterr().err
    assert main(run_args(project, "--metrics-file", str(project.root / "no" / "such" / "m.prom"))) == 2
    assert "--metrics-file: no folder" in capsys.readouterr().err
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        assert main(run_args(project, "--metrics-port", str(taken.getsockname()[1]))) == 2
    assert "cannot listen on 127.0.0.1" in capsys.readouterr().err
    assert not (project.home / "cache.sqlite").exists()  # nothing ran


def test_the_text_format_is_written_for_a_textfile_collector(project, slow, capsys):
    slow()
    path = project.root / "run.prom"
    assert main(run_args(project, "--metrics-file", str(path))) == 0
    text = path.read_text()
    assert value(text, "workbench_requests_total", configuration="slow", version="1.0.0", source="evaluation") == 3
    assert not list(project.root.glob("*.tmp*"))


@pytest.mark.slow  # the replay compares answers with MiniLM
def test_replayed_traffic_is_counted_for_candidate_and_production(project, tmp_path, capsys):
    from tests.test_replay import CANDIDATE, LOGGED

    (project.prompts_dir / "candidate").mkdir()
    (project.prompts_dir / "candidate" / "1.0.0.yaml").write_text(CANDIDATE)
    traffic = project.root / "traffic.jsonl"
    traffic.write_text(
        "".join(
            json.dumps(
                {
                    "ts": f"2026-10-0{i + 1}T10:00:00Z",
                    "prompt_ref": "support@1.1.0",
                    "inputs": {"question": q},
                    "output": a,
                    "latency_s": 0.5,
                    "input_tokens": 530,
                    "output_tokens": 12,
                }
            )
            + "\n"
            for i, (q, a) in enumerate(LOGGED)
        )
    )
    path = tmp_path / "replay.prom"
    assert (
        main(["--root", str(project.root), "replay", "candidate@1.0.0", str(traffic), "--metrics-file", str(path)]) == 0
    )
    text = path.read_text()
    candidate = {"configuration": "candidate", "version": "1.0.0", "source": "shadow"}
    production = {"configuration": "support", "version": "1.1.0", "source": "production"}
    assert value(text, "workbench_requests_total", **candidate) == 4
    assert value(text, "workbench_requests_total", **production) == 4
    assert value(text, "workbench_request_latency_seconds_sum", **production) == 2.0
    assert value(text, "workbench_tokens_sum", **production, direction="input") == 4 * 530
