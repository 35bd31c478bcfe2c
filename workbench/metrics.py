"""Prometheus metrics of runs and replayed traffic, labelled by configuration, version and source (`evaluation`,
`shadow` for a replayed candidate, `production` for logged traffic).

A `RunMetrics` holds one prometheus-client registry. It is fed one call at a time: `recorder(ref)` is the runner's
`on_call` hook (every `RunContext` run: evaluations and shadow replays), `observe_traffic` takes logged production
traffic. The registry is served over HTTP while a run goes on (`serve`, for a Prometheus scrape), pushed to a
Pushgateway (`push`) or written in the text exposition format (`write`, for node_exporter's textfile collector).

Cached calls count as requests and cache hits; latency, tokens and cost count only calls that reached a model
(a cached answer costs nothing now, and its recorded latency is the original call's).
"""

from __future__ import annotations

import math
import numbers
import re
import socket
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    push_to_gateway,
    start_http_server,
    write_to_textfile,
)
from prometheus_client.exposition import generate_latest

from .errors import InfrastructureError, WorkbenchError

if TYPE_CHECKING:
    import pandas as pd

LABELS = ("configuration", "version", "source")
SOURCES = ("evaluation", "shadow", "production")  # a run, a replayed candidate, logged production traffic
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
TOKEN_BUCKETS = (16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384)
ERROR_KINDS = ("timeout", "retrieval", "budget", "model", "scorer")


def error_kind(error: str) -> str:
    """A recorded error's kind: timeout, retrieval, budget or model (a scorer's error is `scorer`)."""
    if error.startswith("retrieval:"):
        return "retrieval"
    if error.startswith("TimeoutError") or "timed out" in error.lower():
        return "timeout"
    if "budget" in error or "token limit" in error:
        return "budget"
    return "model"


def split_ref(ref: str) -> tuple[str, str]:
    """`name@version` as the two labels (a ref without a version: version `unknown`)."""
    name, _, version = ref.partition("@")
    return name, version or "unknown"


class RunMetrics:
    """The workbench's Prometheus metrics in their own registry (so tests and processes never share state)."""

    def __init__(self, registry: CollectorRegistry | None = None):
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "workbench_requests", "Calls of a configuration (cached ones included)", LABELS, registry=r
        )
        self.errors = Counter(
            "workbench_errors", "Calls or scores that ended in an error, by kind", (*LABELS, "kind"), registry=r
        )
        self.latency = Histogram(
            "workbench_request_latency_seconds",
            "Latency of calls that reached a model",
            LABELS,
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.tokens = Histogram(
            "workbench_tokens",
            "Tokens per call that reached a model, by direction (input, output)",
            (*LABELS, "direction"),
            buckets=TOKEN_BUCKETS,
            registry=r,
        )
        self.cost = Counter(
            "workbench_cost_usd", "Spend in US dollars of calls that reached a model", LABELS, registry=r
        )
        self.cache_hits = Counter("workbench_cache_hits", "Calls answered from the response cache", LABELS, registry=r)
        self.guardrail_triggers = Counter(
            "workbench_guardrail_triggers",
            "Guardrail rules that fired, by rule kind (pii, injection, forbidden, schema)",
            (*LABELS, "rule"),
            registry=r,
        )
        self.guardrail_blocks = Counter(
            "workbench_guardrail_blocks", "Calls whose request or answer a guardrail blocked", LABELS, registry=r
        )
        self._server: Any = None
        self.failures: list[str] = []  # what `published` could not deliver (a push, a file)

    def exit_code(self) -> int:
        """For a command: 3 (an infrastructure failure, each named on stderr) when metrics were not delivered, else 0."""
        for failure in self.failures:
            print(f"error: {failure}", file=sys.stderr)
        return 3 if self.failures else 0

    @staticmethod
    def names() -> set[str]:
        """Every sample name the metrics expose (e.g. `workbench_requests_total`, `..._bucket`), for alert rules."""
        probe = RunMetrics()
        answered = {
            "error": None,
            "latency_s": 1.0,
            "input_tokens": 1,
            "output_tokens": 1,
            "cost": 1.0,
            "cached": False,
            "guardrails": "pii:EMAIL",
            "blocked": True,
            "scores": [{"error": "scorer x: boom"}],
        }
        for row in (answered, {**answered, "error": "model: x"}, {**answered, "cached": True}):
            probe.observe(row, "probe@1")
        return {sample.name for family in probe.registry.collect() for sample in family.samples}

    def observe(self, row: Mapping[str, Any], ref: str, source: str = "evaluation") -> None:
        """Count one call (a run record row, see `record.RECORD`) of configuration `ref` (`name@version`);
        `source` tells an evaluation from a shadow replay and from production traffic."""
        labels = (*split_ref(ref), source)
        self.requests.labels(*labels).inc()
        error = row.get("error")
        if isinstance(error, str):
            self.errors.labels(*labels, error_kind(error)).inc()
        for score in row.get("scores") or []:
            if isinstance(score.get("error"), str):
                self.errors.labels(*labels, "scorer").inc()
        if row.get("cached"):
            self.cache_hits.labels(*labels).inc()
        else:
            latency: Any = row.get("latency_s")
            if error is None and _number(latency) and latency > 0:  # a request blocked before the model took no time
                self.latency.labels(*labels).observe(latency)
            for direction in ("input", "output"):
                tokens: Any = row.get(f"{direction}_tokens")
                if _number(tokens):
                    self.tokens.labels(*labels, direction).observe(tokens)
            cost: Any = row.get("cost")
            if _number(cost):
                self.cost.labels(*labels).inc(cost)
        for rule in filter(None, (row.get("guardrails") or "").split(",")):
            self.guardrail_triggers.labels(*labels, rule.partition(":")[0]).inc()
        if row.get("blocked"):
            self.guardrail_blocks.labels(*labels).inc()

    def recorder(self, ref: str, source: str = "evaluation") -> Callable[[Mapping[str, Any]], None]:
        """The runner's `on_call` hook for configuration `ref`: each call is counted as soon as it is recorded."""
        return lambda row: self.observe(row, ref, source)

    def observe_traffic(self, traffic: pd.DataFrame) -> None:
        """Logged production requests (`drift.load_traffic`), each under the configuration that answered it."""
        for row in traffic.to_dict("records"):
            self.observe(
                {**row, "error": row.get("error") if isinstance(row.get("error"), str) else None},
                row["prompt_ref"],
                "production",
            )

    def exposition(self) -> str:
        """The registry in the Prometheus text exposition format."""
        return generate_latest(self.registry).decode()

    def write(self, path: str | Path) -> Path:
        """The text format to `path`, written to a temporary file and renamed (a textfile collector never reads half)."""
        path = _writable(path)
        write_to_textfile(str(path), self.registry)
        return path

    def push(self, gateway: str, job: str = "workbench", grouping_key: dict[str, str] | None = None) -> None:
        """Push (HTTP PUT) to a Pushgateway: the group (job, instance = this host) is replaced by this registry."""
        if not re.match(r"^https?://", gateway):
            raise WorkbenchError(f"--pushgateway: '{gateway}' is not a URL; write e.g. http://localhost:9091")
        try:
            push_to_gateway(
                gateway,
                job=job,
                registry=self.registry,
                grouping_key=grouping_key or {"instance": socket.gethostname()},
                timeout=10,
            )
        except OSError as exc:  # urllib's errors (URLError, HTTPError) are OSErrors
            raise PushFailed(
                f"--pushgateway {gateway}: push failed: {exc}; check the URL and that the gateway runs"
            ) from None

    def serve(self, port: int, addr: str = "127.0.0.1") -> None:
        """Serve the registry at http://addr:port/metrics from a background thread until `stop`."""
        try:
            self._server = start_http_server(port, addr=addr, registry=self.registry)
        except OSError as exc:
            raise WorkbenchError(
                f"--metrics-port {port}: cannot listen on {addr}:{port}: {exc.strerror}; pick a free port"
            ) from None

    def stop(self) -> None:
        """Stop serving (no-op when not serving)."""
        if self._server is not None:
            server, thread = self._server
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)
            self._server = None


class PushFailed(InfrastructureError):
    """The Pushgateway could not be reached or refused the push (an infrastructure failure, exit 3)."""


def add_options(parser: Any) -> None:
    """`--metrics-port`, `--metrics-file` and `--pushgateway` on a command that runs a configuration."""
    parser.add_argument(
        "--metrics-port",
        type=int,
        metavar="N",
        help="serve Prometheus metrics on http://127.0.0.1:N/metrics while the run goes on",
    )
    parser.add_argument(
        "--metrics-file",
        type=Path,
        metavar="PATH",
        help="write the run's Prometheus metrics here in the text format (e.g. for a textfile collector)",
    )
    parser.add_argument("--pushgateway", metavar="URL", help="push the run's Prometheus metrics to this Pushgateway")


@contextmanager
def published(
    port: int | None = None, path: str | Path | None = None, gateway: str | None = None, job: str = "workbench"
) -> Iterator[RunMetrics]:
    """Metrics for the duration of a block: served on 127.0.0.1:`port` while it runs; when it ends (also after an
    error or an interrupt: what ran is reported), written to `path` and pushed to `gateway`."""
    metrics = RunMetrics()
    if path is not None:
        _writable(path)
    if gateway is not None and not re.match(r"^https?://", gateway):  # checked before anything runs
        raise WorkbenchError(f"--pushgateway: '{gateway}' is not a URL; write e.g. http://localhost:9091")
    if port is not None:
        metrics.serve(port)
    try:
        yield metrics
    finally:
        metrics.stop()
        if path is not None:
            try:
                metrics.write(path)
            except OSError as exc:
                metrics.failures.append(f"--metrics-file {path}: cannot write: {exc.strerror}")
        if gateway is not None:
            try:
                metrics.push(gateway, job=job)
            except PushFailed as exc:
                metrics.failures.append(str(exc))


def _writable(path: str | Path) -> Path:
    path = Path(path)
    if not path.parent.is_dir():
        raise WorkbenchError(f"{path}: --metrics-file: no folder {path.parent}; create it or pick another path")
    return path


def _number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and not math.isnan(value)
