"""Budgets on the real local model: the run stops before exceeding, keeps and logs its partial results."""

from __future__ import annotations

import mlflow
import pandas as pd
from mlflow import MlflowClient

from workbench.budget import Budget
from workbench.experiment import evaluate
from workbench.mlflow_store import use

from .conftest import write_project

CASES = [
    {"id": f"q{i}", "inputs": {"question": f"Name a color, number {i}."}, "checks": {"must_contain": ["a"]}}
    for i in range(10)
]


def test_token_budget_stops_the_run_before_exceeding_it(tmp_path):
    write_project(tmp_path, cases=CASES)
    from workbench.settings import Settings

    settings = Settings.load(root=tmp_path)
    result = evaluate("tiny@1.0.0", "tiny", settings=settings, budget=Budget(max_tokens=150), progress=False, traces=0)
    cases = result.cases()
    spent = int(cases["input_tokens"].sum() + cases["output_tokens"].sum())
    assert spent <= 150
    assert 1 <= len(cases) < 10 and result.model_calls == len(cases)
    assert result.stopped.startswith("token budget 150 reached") and result.stopped.endswith(
        f"{10 - len(cases)} of 10 calls not made"
    )
    assert cases["error"].isna().all() and result.summary().loc["case_checks", "n"] == len(cases)
    assert "STOPPED EARLY: token budget 150" in result.report()
    use(settings)
    run = MlflowClient().get_run(result.run_id)
    assert run.data.tags["workbench.stopped"] == result.stopped
    table = mlflow.artifacts.load_dict(f"{run.info.artifact_uri}/cases.json")
    assert len(table["data"]) == len(result.record)


def test_cached_answers_do_not_spend_the_budget(tmp_path):
    write_project(tmp_path, cases=CASES[:3])
    from workbench.settings import Settings

    settings = Settings.load(root=tmp_path)
    evaluate("tiny@1.0.0", "tiny", settings=settings, log=False, progress=False)
    again = evaluate("tiny@1.0.0", "tiny", settings=settings, budget=Budget(max_tokens=60), log=False, progress=False)
    assert again.stopped is None and again.model_calls == 0 and len(again.cases()) == 3


def test_per_request_limit_is_an_error_on_the_case_without_a_call(tmp_path):
    long_case = [{"id": "long", "inputs": {"question": "word " * 400}}, {"id": "short", "inputs": {"question": "Hi"}}]
    write_project(tmp_path, cases=long_case)
    from workbench.settings import Settings

    result = evaluate(
        "tiny@1.0.0",
        "tiny",
        settings=Settings.load(root=tmp_path),
        budget=Budget(max_request_tokens=100),
        log=False,
        progress=False,
    )
    cases = result.cases().set_index("case_id")
    assert cases.loc["long", "error"].startswith("request over the per-request token limit")
    assert pd.isna(cases.loc["short", "error"]) and result.model_calls == 1


def test_cost_budget_uses_the_pricing_table(tmp_path):
    """A priced model: the local GGUF served under a priced name would be the same; here the price is what matters."""
    import asyncio

    from workbench.budget import BudgetGuard

    async def scenario() -> tuple[int, str]:
        guard = BudgetGuard(Budget(max_cost_usd=0.001), 100, price=lambda i, o: (i + o) * 1e-6)
        made = 0
        messages = [{"role": "user", "content": "x" * 300}]
        while (reservation := await guard.reserve(messages)) is not None:
            made += 1
            await guard.settle(reservation, messages, 100, 100, 0.0002, cached=False)
        return made, guard.stopped

    made, stopped = asyncio.run(scenario())
    assert made == 4 and stopped.startswith("cost budget $0.001 reached ($0.0008 spent)")
