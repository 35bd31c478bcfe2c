"""Retries as configured, against a real HTTP server on loopback that fails on request (tests/faultserver.py):
Retry-After honoured and capped, malformed and empty 200s retried with messages that say what came back,
timeouts that say so, a fallback with its own budget, and a run through the real runner at 20% faults."""

from __future__ import annotations

import asyncio
import itertools
import re
import time

import pytest

from workbench.experiment import evaluate
from workbench.models import ModelClient
from workbench.models.retry import Policy
from workbench.settings import Settings

from .conftest import TINY_PROMPT, write_project
from .faultserver import FaultServer
from .test_models import MESSAGES, spec

#: What every recorded error must look like: a status and what the server sent, or a timeout, and the attempt.
SAYS_WHAT_HAPPENED = re.compile(
    r"(HTTP \d{3}[^:]*: .+|the server answered HTTP 200 with .+: .+|timed out after \d+\.\d s)"
    r" \(attempt \d+ of \d+\)"
)


def model(url: str, name: str = "primary", **extra) -> dict:
    """An openai spec on the fault server with small timeouts and backoffs, so the tests stay fast."""
    return {
        "provider": "openai",
        "name": name,
        "base_url": url,
        "timeout": 2,
        "max_retries": 2,
        "backoff": 0.01,
        "max_wait": 3,
        **extra,
    }


def call(client: ModelClient):
    start = time.perf_counter()
    response = asyncio.run(client.acall(MESSAGES))
    return response, time.perf_counter() - start


def gaps(server: FaultServer) -> list[float]:
    times = [r.at for r in server.requests]
    return [b - a for a, b in itertools.pairwise(times)]


def test_retry_after_is_honoured():
    with FaultServer(script=["429", "ok"], retry_after=1) as server:
        response, _ = call(ModelClient(spec(model(server.url))))
    assert response.error is None and response.text.startswith("An answer")
    assert server.behaviours() == ["429", "ok"]
    assert 0.95 <= gaps(server)[0] < 1.6  # the backoff alone would have waited ~0.01 s


def test_retry_after_is_capped_by_max_wait():
    with FaultServer(script=["429", "ok"], retry_after=120) as server:
        response, elapsed = call(ModelClient(spec(model(server.url, max_wait=0.3))))
    assert response.error is None
    assert 0.28 <= gaps(server)[0] < 1.0 and elapsed < 2


def test_retry_after_as_an_http_date():
    def when() -> str:  # two seconds after the 429 is sent, to the second
        return time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 2))

    with FaultServer(script=["429", "ok"], retry_after=when) as server:
        response, _ = call(ModelClient(spec(model(server.url))))
    assert response.error is None and 0.9 <= gaps(server)[0] < 2.6  # the date has one-second resolution


def test_malformed_and_empty_answers_are_retried():
    with FaultServer(script=["malformed", "empty", "ok"]) as server:
        response, _ = call(ModelClient(spec(model(server.url))))
    assert response.error is None and server.behaviours() == ["malformed", "empty", "ok"]


@pytest.mark.parametrize(
    "fault, says",
    [
        ("malformed", 'the server answered HTTP 200 with a body that is not JSON: \'{"id": "chatcmpl-1", "choices"'),
        ("empty", 'the server answered HTTP 200 with no choices: \'{"id": "chatcmpl-fault"'),
        ("500", 'HTTP 500 Internal Server Error: \'{"error": {"message": "upstream failed'),
        ("429", 'HTTP 429 Too Many Requests: \'{"error": {"message": "Rate limit reached'),
    ],
)
def test_an_error_says_what_the_server_returned(fault, says):
    with FaultServer(default=fault, retry_after=0) as server:
        response, _ = call(ModelClient(spec(model(server.url, max_retries=1))))
    assert response.text is None and response.error.startswith(says), response.error
    assert response.error.endswith("(attempt 2 of 2)") and SAYS_WHAT_HAPPENED.fullmatch(response.error)
    assert len(server.requests) == 2


def test_an_excerpt_never_keeps_half_a_secret():
    from workbench import secrets
    from workbench.models.retry import excerpt

    secrets.remember("sk-straddling-0123456789abcdef")
    quoted = excerpt("x" * 150 + " key sk-straddling-0123456789abcdef and more text after it")
    assert "sk-s" not in quoted and "key ***" in quoted


def test_a_client_error_is_not_retried():
    with FaultServer(default="401") as server:
        response, _ = call(ModelClient(spec(model(server.url))))
    assert response.error.startswith("HTTP 401 Unauthorized: ") and response.error.endswith("(attempt 1 of 3)")
    assert len(server.requests) == 1


def test_a_timeout_says_how_long_and_which_attempt():
    with FaultServer(default="hang") as server:
        response, elapsed = call(ModelClient(spec(model(server.url, timeout=0.3, max_retries=1))))
    assert response.error == "timed out after 0.3 s (attempt 2 of 2)"
    assert len(server.requests) == 2 and elapsed < 1.5


def test_the_fallback_gets_its_own_full_budget():
    """The primary spends its whole budget (timeouts and Retry-After waits); the fallback still answers slowly."""
    script = {"primary": ["hang", "429", "hang"], "backup": ["slow"]}
    with FaultServer(script=script, retry_after=0.5, slow_s=0.8) as server:
        primary = model(server.url, timeout=0.4, backoff=0.2)
        client = ModelClient(spec(primary, fallbacks=[model(server.url, "backup", timeout=1.0, max_retries=0)]))
        response, elapsed = call(client)
    assert response.error is None and response.model == "backup"
    assert server.behaviours() == ["hang", "429", "hang", "slow"]
    # primary: 3 attempts (two timeouts, one 429) and two waits (backoff ~0.2, Retry-After 0.5), then 0.8 s of fallback
    assert 0.4 + 0.15 + 0.5 + 0.4 + 0.8 <= elapsed <= client.deadline
    assert client.deadline == Policy(3, 0.4, 0.2, 3).budget + Policy(1, 1.0).budget


def test_every_model_of_the_chain_says_what_happened():
    script = {"primary": ["500"] * 2, "backup": ["hang"]}
    with FaultServer(script=script) as server:
        client = ModelClient(
            spec(model(server.url, max_retries=1), fallbacks=[model(server.url, "backup", timeout=0.2, max_retries=0)])
        )
        response, _ = call(client)
    first, second = response.error.split("; ")
    assert first.startswith("primary: HTTP 500") and first.endswith("(attempt 2 of 2)")
    assert second == "backup: timed out after 0.2 s (attempt 1 of 1)"


def test_openai_compatible_servers_get_max_tokens():
    """llama.cpp, vLLM and Ollama read `max_tokens`; ChatOpenAI alone would send `max_completion_tokens`."""
    with FaultServer() as server:
        limited = model(server.url, params={"max_tokens": 3, "temperature": 0, "top_k": 5})
        response, _ = call(ModelClient(spec(limited)))
    body = server.requests[0].body
    assert body["max_tokens"] == 3 and "max_completion_tokens" not in body and body["top_k"] == 5
    assert response.output_tokens == 3


def test_openai_itself_gets_max_completion_tokens():
    from workbench.models.factory import openai_arguments
    from workbench.prompts import ModelSpec

    openai = ModelSpec(provider="openai", name="gpt-4o-mini", params={"max_tokens": 7})
    arguments = openai_arguments(openai, {"max_tokens": 7})
    assert arguments["max_tokens"] == 7 and "extra_body" not in arguments
    compatible = ModelSpec(provider="openai", name="m", base_url="http://127.0.0.1:1/v1", params={"max_tokens": 7})
    assert openai_arguments(compatible, {"max_tokens": 7})["extra_body"] == {"max_tokens": 7}


def test_kwargs_reach_chat_openai():
    with FaultServer() as server:
        headers = model(server.url, kwargs={"default_headers": {"X-Team": "support"}})
        response, _ = call(ModelClient(spec(headers)))
    assert response.error is None and server.requests[0].body["model"] == "primary"


def test_a_bare_chat_model_retries_the_same_way(monkeypatch):
    """ragas' judge holds a chat model, not a client: `Retrying` gives it the same attempts and hiding."""
    from workbench.models import chat_model
    from workbench.models.retry import Retrying
    from workbench.prompts import ModelSpec

    monkeypatch.setenv("WB_RAGAS_JUDGE", "sk-ragas-0123456789abcdef")
    with FaultServer(script=["500", "echo"]) as server:
        judge = ModelSpec(**model(server.url, api_key_env="WB_RAGAS_JUDGE"))
        answer = asyncio.run(Retrying(chat_model(judge), judge).ainvoke("hi"))
    assert server.behaviours() == ["500", "echo"]
    assert "sk-ragas" not in answer.content and "your key is ***" in answer.content


# Through the real runner -------------------------------------------------------------------------------------------


def flaky_project(tmp_path, url: str, cases: int, fallback: bool, **primary) -> Settings:
    options = "".join(
        f"\n  {k}: {v}"
        for k, v in {"timeout": 0.5, "max_retries": 2, "backoff": 0.05, "max_wait": 0.5, **primary}.items()
    )
    prompt = TINY_PROMPT.replace(
        "provider: local\n  name: smollm2-135m", f"provider: openai\n  name: primary\n  base_url: {url}{options}"
    )
    if fallback:
        prompt += (
            f"fallbacks:\n  - provider: openai\n    name: backup\n    base_url: {url}\n    timeout: 0.5\n"
            "    max_retries: 2\n    backoff: 0.05\n    max_wait: 0.5\n"
        )
    write_project(
        tmp_path, prompt=prompt, cases=[{"id": f"c{i}", "inputs": {"question": f"Question {i}?"}} for i in range(cases)]
    )
    return Settings.load(root=tmp_path)


def test_twenty_percent_faults_with_a_fallback_leave_at_most_one_percent_of_errors(tmp_path):
    with FaultServer(fault_rate=0.2, retry_after=0.2, seed=7) as server:
        settings = flaky_project(tmp_path, server.url, 200, fallback=True, max_retries=1)  # 4% reach the fallback
        result = evaluate(
            "tiny@1.0.0", "tiny", scorers=["contains"], settings=settings, concurrency=16, log=False, progress=False
        )
    cases = result.cases()
    faults = [b for b in server.behaviours() if b != "ok"]
    errors = cases["error"].dropna()
    print(
        f"200 cases, {len(server.requests)} requests, {len(faults)} faults "
        f"({', '.join(f'{f} {faults.count(f)}' for f in sorted(set(faults)))}), "
        f"{(cases['model'] == 'backup').sum()} answered by the fallback, {len(errors)} errors, {result.duration_s:.1f} s"
    )
    assert len(cases) == 200 and 0.15 < len(faults) / len(server.requests) < 0.25
    assert (cases["model"] == "backup").sum() >= 1  # the fallback did answer
    assert len(errors) <= 2  # at most 1%
    assert all(SAYS_WHAT_HAPPENED.search(e) for e in errors), errors.tolist()


def test_every_error_of_a_run_says_what_happened(tmp_path):
    with FaultServer(fault_rate=1.0, retry_after=0, seed=3) as server:
        settings = flaky_project(tmp_path, server.url, 20, fallback=False, timeout=2.0, max_retries=0)
        result = evaluate(
            "tiny@1.0.0", "tiny", scorers=["contains"], settings=settings, concurrency=20, log=False, progress=False
        )
    errors = result.cases()["error"]
    assert errors.notna().all()
    assert all(SAYS_WHAT_HAPPENED.fullmatch(e) for e in errors), errors.tolist()
    kinds = {
        "HTTP 429"
        if "429" in e
        else "HTTP 500"
        if "500" in e
        else "timed out"
        if "timed out" in e
        else "not JSON"
        if "not JSON" in e
        else "no choices"
        for e in errors
    }
    assert kinds == {"HTTP 429", "HTTP 500", "timed out", "not JSON", "no choices"}


# Why the workbench owns the retry loop (docs/ARCHITECTURE.md, Decisions): what the openai SDK does alone ------------


def sdk_model(url: str):
    from langchain_openai import ChatOpenAI

    return ChatOpenAI(model="m", base_url=url, api_key="none", timeout=2, max_retries=2)


def test_the_openai_sdk_alone_honours_retry_after():
    with FaultServer(script=["429", "ok"], retry_after=1) as server:
        asyncio.run(sdk_model(server.url).ainvoke("hi"))
    assert server.behaviours() == ["429", "ok"] and gaps(server)[0] >= 0.95


@pytest.mark.parametrize("fault, error", [("malformed", "JSONDecodeError"), ("empty", "IndexError")])
def test_the_openai_sdk_alone_never_retries_a_malformed_200(fault, error):
    with FaultServer(script=[fault, "ok"]) as server, pytest.raises(Exception) as raised:
        asyncio.run(sdk_model(server.url).ainvoke("hi"))
    assert type(raised.value).__name__ == error and server.behaviours() == [fault]
