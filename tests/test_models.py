"""The model layer against real components: the local model, LangChain classes, loopback sockets."""

from __future__ import annotations

import asyncio
import importlib.metadata
import sqlite3
import subprocess
import sys
import warnings

import pytest

from workbench import secrets
from workbench.errors import WorkbenchError
from workbench.models import ModelClient, ResponseCache, cost, load_pricing, request_key
from workbench.prompts import PromptSpec

from .conftest import free_port


def spec(model: dict, fallbacks: list[dict] | None = None) -> PromptSpec:
    return PromptSpec.model_validate(
        {
            "name": "t",
            "description": "d",
            "model": model,
            "fallbacks": fallbacks or [],
            "variables": ["q"],
            "messages": [{"role": "user", "content": "{q}"}],
        }
    )


LOCAL = {"provider": "local", "name": "smollm2-135m", "params": {"temperature": 0, "max_tokens": 8, "seed": 3}}
MESSAGES = [{"role": "user", "content": "Say hello."}]


def closed_port_model(**extra) -> dict:
    return {
        "provider": "openai",
        "name": "gpt-4o-mini",
        "base_url": f"http://127.0.0.1:{free_port()}/v1",
        "max_retries": 1,
        "timeout": 5,
        **extra,
    }


def test_cache_is_shared_across_processes(tmp_path):
    path = tmp_path / "cache.sqlite"
    cache = ResponseCache(path)
    key = request_key({"messages": MESSAGES})
    cache.put(key, {"text": "hi"})
    assert cache.get(key) == {"text": "hi"}  # queued, seen at once by this process
    cache.flush()  # on disk: other processes see it
    code = (
        f"from workbench.models import ResponseCache; c = ResponseCache({str(path)!r}); "
        f"print(c.get({key!r})['text']); c.put('other', {{'text': 'from child'}})"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "hi"
    assert cache.get("other") == {"text": "from child"}  # the child never closed its cache: its exit wrote it


def test_cache_writes_behind_and_a_failing_cache_warns_once_and_is_off(tmp_path):
    cache = ResponseCache(tmp_path / "cache.sqlite")
    for i in range(500):
        cache.put(f"key-{i}", {"text": str(i)})
    assert cache.get("key-499") == {"text": "499"} and len(cache) == 500
    reader = sqlite3.connect(tmp_path / "cache.sqlite")
    assert reader.execute("SELECT count(*) FROM responses").fetchone()[0] == 500
    reader.execute("DROP TABLE responses")  # the next write fails in the writer thread
    reader.commit()
    with pytest.warns(UserWarning, match=r"cache\.sqlite failed \(no such table: responses\)"):
        cache.put("lost", {"text": "x"})
        cache.flush()
    assert isinstance(cache.failure, sqlite3.OperationalError)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no second warning
        cache.put("later", {"text": "y"})  # stored nowhere: the run goes on uncached
        assert cache.get("later") is None
        cache.close()


def test_request_key_covers_messages_model_parameters_and_seed():
    client = ModelClient(spec(LOCAL))
    other_seed = ModelClient(spec({**LOCAL, "params": {**LOCAL["params"], "seed": 4}}))
    operational = ModelClient(spec({**LOCAL, "timeout": 9, "max_concurrency": 3}))
    key = request_key(client.request(MESSAGES))
    assert key != request_key(other_seed.request(MESSAGES))
    assert key != request_key(client.request([{"role": "user", "content": "Say bye."}]))
    assert key == request_key(operational.request(MESSAGES))
    # the local model's runtime is in the key: answers cached from another llama.cpp build are not served
    assert client.request(MESSAGES)["model"]["runtime"] == f"xllamacpp {importlib.metadata.version('xllamacpp')}"


def test_local_model_reports_usage_and_zero_cost(tmp_path):
    client = ModelClient(spec(LOCAL), cache=ResponseCache(tmp_path / "c.sqlite"))
    first = asyncio.run(client.acall(MESSAGES))
    assert first.error is None and first.text and not first.cached
    assert first.input_tokens > 0 and 0 < first.output_tokens <= 8 and first.cost == 0.0
    second = asyncio.run(client.acall(MESSAGES))
    assert second.cached and second.text == first.text and client.calls == 1


def test_errors_are_recorded_retried_and_never_cached(tmp_path):
    cache = ResponseCache(tmp_path / "c.sqlite")
    client = ModelClient(spec(closed_port_model()), cache=cache)
    response = asyncio.run(client.acall(MESSAGES))
    assert (
        response.text is None and "APIConnectionError" in response.error and response.error.endswith("(attempt 2 of 2)")
    )
    assert len(cache) == 0


def test_fallback_answers_when_the_primary_is_down(tmp_path):
    client = ModelClient(spec(closed_port_model(max_retries=0), fallbacks=[LOCAL]))
    response = asyncio.run(client.acall(MESSAGES))
    assert response.error is None and response.model == "smollm2-135m" and response.text


def test_api_key_comes_from_the_environment_and_is_redacted(monkeypatch):
    model = closed_port_model(api_key_env="WB_TEST_KEY", max_retries=0)
    with pytest.raises(WorkbenchError, match="WB_TEST_KEY is not set"):
        ModelClient(spec(model))
    monkeypatch.setenv("WB_TEST_KEY", "sk-test-secret-0123456789")
    client = ModelClient(spec(model))
    assert secrets.hide("bad key sk-test-secret-0123456789") == "bad key ***"
    assert "sk-test-secret" not in str(client.request(MESSAGES))


def test_url_credentials_are_hidden_even_when_lint_is_bypassed():
    """A spec built in code skips lint; the password in its URL is still never recorded."""
    url = f"http://team:pw-0123456789@127.0.0.1:{free_port()}/v1"
    response = asyncio.run(ModelClient(spec(closed_port_model(base_url=url, max_retries=0))).acall(MESSAGES))
    assert response.error and "pw-0123456789" not in response.error
    assert secrets.hide(f"GET {url}") == "GET http://team:***@127.0.0.1:" + url.rsplit(":", 1)[1]


def test_secret_values_are_found_in_nested_kwargs():
    kwargs = {
        "default_headers": {"Authorization": "Bearer tok-0123456789", "X-Team": "ml"},
        "model_kwargs": {"user": "sk-proj-abcdefghijklmnop"},
        "proxy": "http://u:p4ssw0rd-long@proxy:3128",
        "max_tokens": 5,
        "organization": "org-team",
    }
    found = dict(secrets.secret_values(kwargs))
    assert found == {
        ("default_headers", "Authorization"): "tok-0123456789",
        ("model_kwargs", "user"): "sk-proj-abcdefghijklmnop",
        ("proxy",): "p4ssw0rd-long",
    }


def test_secret_environment_variables_are_hidden(monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "ak-from-the-environment-0123")
    monkeypatch.setenv("TOKENIZERS_PARALLELISM", "disabled-really-0123456")  # a name that only looks like one
    monkeypatch.setenv("POSTGRES_PASSWORD", "postgres")  # a word, not a key: never masked in answers
    secrets.remember_environment()  # as every client does when it is built
    assert (
        secrets.hide("ak-from-the-environment-0123 disabled-really-0123456 postgres")
        == "*** disabled-really-0123456 postgres"
    )


def test_langchain_provider_builds_any_chat_model_class():
    model = {
        "provider": "langchain",
        "name": "langchain_core.language_models.fake_chat_models.FakeListChatModel",
        "kwargs": {"responses": ["Paris"]},
    }
    response = asyncio.run(ModelClient(spec(model)).acall(MESSAGES))
    assert response.text == "Paris" and response.input_tokens is None and response.cost is None
    with pytest.raises(WorkbenchError, match="cannot import nowhere.Model"):
        ModelClient(spec({"provider": "langchain", "name": "nowhere.Model"}))


def test_pricing_table_and_project_override(tmp_path):
    table = load_pricing()
    assert cost("openai", "gpt-4o-mini", 1_000_000, 1_000_000, table) == pytest.approx(0.75)
    assert cost("local", "smollm2-135m", 10**9, 10**9, table) == 0.0
    assert cost("openai", "unknown-model", 10, 10, table) is None
    custom = tmp_path / "pricing.yaml"
    custom.write_text("models:\n  my-model: {input: 1.0, output: 2.0}\n")
    assert cost("openai", "my-model", 1000, 1000, load_pricing(custom)) == pytest.approx(0.003)
    custom.write_text("models:\n  broken: {input: 1.0}\n")
    with pytest.raises(WorkbenchError, match="models.broken: give input: and output:"):
        load_pricing(tmp_path / "pricing.yaml")


def test_concurrency_bound_is_respected(tmp_path):
    client = ModelClient(spec(LOCAL), concurrency=2)
    peak = 0
    active = 0
    model_spec, original = client.chain[0]

    class Counting:
        async def ainvoke(self, messages, **options):
            nonlocal active, peak
            active += 1
            peak = max(peak, active)
            try:
                return await original.ainvoke(messages, **options)
            finally:
                active -= 1

    client.chain = [(model_spec, Counting())]

    async def many():
        return await asyncio.gather(*(client.acall([{"role": "user", "content": f"Count to {i}."}]) for i in range(5)))

    results = asyncio.run(many())
    assert all(r.error is None for r in results) and peak == 2


@pytest.mark.slow
def test_second_local_model_gemma_runs_offline():
    """The optional second local model; it is a pre-trained (not chat-tuned) model, so only usage is asserted."""
    from workbench.models import LocalChatModel

    message = LocalChatModel(model_name="gemma3-270m", max_tokens=8, temperature=0).invoke(
        [("user", "The capital of France is")]
    )
    assert message.usage_metadata["output_tokens"] > 0 and message.usage_metadata["input_tokens"] > 0
