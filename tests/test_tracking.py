"""MLflow on a real local SQLite store: params, metrics, the per-case table, artifacts, the prompt registry."""

from __future__ import annotations

import json

import mlflow

from workbench.experiment import evaluate
from workbench.mlflow_store import client
from workbench.prompt_registry import register_prompt, registry_template
from workbench.prompts import resolve


def test_run_is_logged_with_params_metrics_table_and_configuration(project):
    result = evaluate("tiny@1.0.0", "tiny", settings=project, progress=False)
    run = client(project).get_run(result.run_id)
    prompt = resolve("tiny@1.0.0", project.prompts_dir)
    params = run.data.params
    assert (
        params["prompt.name"] == "tiny" and params["prompt.version"] == "1.0.0" and params["prompt.hash"] == prompt.hash
    )
    assert params["model.provider"] == "local" and params["model.name"] == "smollm2-135m"
    assert params["model.params.max_tokens"] == "12" and params["dataset.hash"] == result.dataset_hash
    assert json.loads(params["scorers"])[0]["name"] == "exact_match"
    assert run.data.metrics["cases"] == 3 and "case_checks.pass_rate" in run.data.metrics
    assert run.data.metrics["latency_p95_s"] > 0
    assert run.data.tags["workbench.prompt_uri"] == "prompts:/tiny/1"
    artifacts = {a.path for a in client(project).list_artifacts(result.run_id)}
    assert {"cases.json", "configuration", "results.parquet"} <= artifacts
    table = mlflow.artifacts.load_dict(f"{run.info.artifact_uri}/cases.json")  # a local file
    rows = [dict(zip(table["columns"], row)) for row in table["data"]]
    assert len(rows) == len(result.record) and {r["case_id"] for r in rows} == {"capital", "sum", "color"}


def test_prompt_registration_is_idempotent_by_hash(project):
    prompt = resolve("tiny@1.0.0", project.prompts_dir)
    first = register_prompt(prompt, project)
    assert register_prompt(prompt, project).version == first.version
    loaded = client(project).load_prompt(f"prompts:/tiny/{first.version}")
    assert loaded.template[-1] == {"role": "user", "content": "{{question}}"}
    assert loaded.model_config["model_name"] == "smollm2-135m" and loaded.model_config["max_tokens"] == 12
    changed = prompt.path.parent / "1.1.0.yaml"
    changed.write_text(prompt.path.read_text().replace("few words", "one word"))
    assert int(register_prompt(resolve("tiny@1.1.0", project.prompts_dir), project).version) == int(first.version) + 1


def test_an_experiment_another_process_creates_first_is_used(project, monkeypatch):
    """The race two runs at once on a fresh store walk: both find no experiment, one creates it first."""
    from mlflow import MlflowClient

    from workbench.tracking import experiment_id

    looked_up = MlflowClient.get_experiment_by_name
    other: list[str] = []

    def lookup(self, name):
        if not other:  # the other process creates the experiment just after this one looked
            other.append(client(project).create_experiment(name))
            return None
        return looked_up(self, name)

    monkeypatch.setattr(MlflowClient, "get_experiment_by_name", lookup)
    assert experiment_id("tiny", project) == other[0]
    assert [e.name for e in client(project).search_experiments()].count("tiny") == 1


def test_runs_logging_one_dataset_into_a_new_experiment_at_once_all_have_it(project):
    """Each run finds no dataset in the new experiment and inserts it; all but one insert fail and look again
    (without that second look, 16 of 40 failed here)."""
    import threading

    from workbench.datasets import load_dataset
    from workbench.tracking import dataset_input, log_dataset

    store, failed = client(project), []
    logged = dataset_input(load_dataset("tiny", project.datasets_dir), project)
    for attempt in range(10):
        experiment = store.create_experiment(f"race-{attempt}")
        runs = [store.create_run(experiment).info.run_id for _ in range(4)]
        together = threading.Barrier(len(runs))

        def log(run_id: str, together: threading.Barrier = together) -> None:
            together.wait()
            try:
                log_dataset(store, run_id, logged)
            except Exception as exc:
                failed.append(exc)

        threads = [threading.Thread(target=log, args=(run_id,)) for run_id in runs]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not failed, failed
        for run_id in runs:
            (found,) = store.get_run(run_id).inputs.dataset_inputs
            assert found.dataset.name == "tiny@1" and found.dataset.digest == logged.dataset.digest


def test_registry_template_keeps_literal_braces(project):
    prompt = resolve("tiny@1.0.0", project.prompts_dir)
    source = prompt.path.read_text().replace("Answer in a few words.", "'Reply as JSON like {{\"a\": 1}}.'")
    prompt.path.write_text(source)
    template = registry_template(resolve("tiny@1.0.0", project.prompts_dir))
    assert template[0]["content"] == 'Reply as JSON like {"a": 1}.'


def test_cases_are_traced_into_the_run(project, monkeypatch):
    monkeypatch.setattr("workbench.traces.TRACE_BATCH", 2)  # three traces go in two batches
    result = evaluate("tiny@1.0.0", "tiny", settings=project, progress=False, traces=2)
    store = client(project)
    run = store.get_run(result.run_id)
    assert run.data.tags["workbench.traces"] == "2"
    traces = store.search_traces(run_id=result.run_id, locations=[run.info.experiment_id], flush=True)
    assert len(traces) == 2
    spans = {s.name: s for s in traces[0].data.spans}
    model = spans["smollm2-135m"]
    assert model.span_type == "CHAT_MODEL" and model.attributes["input_tokens"] > 0
    assert model.inputs["messages"][0] == {"role": "system", "content": "Answer in a few words."}
    assert set(spans["scorers"].outputs) == {"exact_match", "contains", "forbidden_terms", "case_checks"}
    root = next(s for s in traces[0].data.spans if s.parent_id is None)
    assert {s.parent_id for s in traces[0].data.spans if s is not root} == {root.span_id}  # one tree per case
    assert set(root.inputs) == {"question"} and set(root.outputs) == {"output"} and root.span_type == "CHAIN"
    everything = evaluate("tiny@1.0.0", "tiny", settings=project, progress=False, traces=None)
    assert store.get_run(everything.run_id).data.tags["workbench.traces"] == "3"
    traced = store.search_traces(run_id=everything.run_id, locations=[run.info.experiment_id])
    assert sorted(t.info.tags["workbench.case_id"] for t in traced) == ["capital", "color", "sum"]
    assert all(len(t.data.spans) == 3 and t.info.state.value == "OK" for t in traced)  # no retrieval here


def test_runs_are_found_by_configuration_and_dataset_hash(project):
    from workbench.tracking import find_runs

    first = evaluate("tiny@1.0.0", "tiny", settings=project, progress=False, traces=0)
    second = evaluate("tiny@1.0.0", "tiny", settings=project, progress=False, traces=0)
    runs = find_runs(project, prompt="tiny@1.0.0", dataset_hash=first.dataset_hash[:10])
    assert list(runs["run_id"]) == [second.run_id, first.run_id]
    assert runs["prompt_hash"].nunique() == 1 and runs["dataset_hash"].nunique() == 1
    assert find_runs(project, prompt="tiny@9.9.9").empty


def test_compare_from_logged_runs_and_production_default(project, capsys):
    from workbench.cli import main

    first = evaluate("tiny@1.0.0", "tiny", settings=project, progress=False, traces=0)
    root = str(project.root)
    assert main(["--root", root, "prompts", "promote", "tiny@1.0.0"]) == 0
    assert "tiny: 1.0.0" in (project.prompts_dir / "production.yaml").read_text()
    assert client(project).load_prompt("prompts:/tiny@production").version == 1
    code = main(["--root", root, "compare", "tiny@1.0.0", f"run:{first.run_id}", "--dataset", "tiny", "--quiet"])
    out = capsys.readouterr().out
    assert code == 0 and "GATE PASSED" in out and "tiny@1.0.0 -> tiny@1.0.0" in out
    code = main(["--root", root, "compare", "tiny@1.0.0", "--dataset", "tiny", "--quiet", "--no-log"])
    assert code == 0 and "GATE PASSED" in capsys.readouterr().out
    code = main(["--root", root, "compare", "tiny@1.0.0", "run:0123456789abcdef", "--dataset", "tiny", "--quiet"])
    assert code == 2 and "run '0123456789abcdef'" in capsys.readouterr().err
