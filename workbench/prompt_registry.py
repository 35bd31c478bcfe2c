"""The project's MLflow prompt registry: each configuration version registered once (found again by its content
hash), and the `production` alias kept on the version `prompts/production.yaml` names."""

from __future__ import annotations

import string
from typing import Any

from .mlflow_store import client, quiet
from .prompts import Prompt, production, resolve
from .settings import Settings

HASH_TAG = "workbench.hash"
PRODUCTION_ALIAS = "production"


def registry_template(prompt: Prompt) -> list[dict[str, str]]:
    """The messages in the registry's `{{var}}` syntax; literal braces stay single."""

    def convert(text: str) -> str:
        out = []
        for literal, field, _, _ in string.Formatter().parse(text):
            out.append(literal)
            if field is not None:
                out.append("{{" + field + "}}")
        return "".join(out)

    return [{"role": m.role, "content": convert(m.content)} for m in prompt.spec.messages]


def register_prompt(prompt: Prompt, settings: Settings, again: bool = True) -> Any:
    """Register a configuration version in the project's prompt registry; the same hash returns the same version.
    When another process creates the prompt at the same moment, it is looked up `again` (once)."""
    from mlflow.exceptions import MlflowException

    registry = client(settings)
    if registry.get_prompt(prompt.name) is not None:
        token = None
        while True:
            page = registry.search_prompt_versions(prompt.name, max_results=100, page_token=token)
            for version in page:
                if version.tags.get(HASH_TAG) == prompt.hash:
                    return version
            token = page.token
            if not token:
                break
    model = prompt.spec.model
    params = model.params
    config = {
        "provider": model.provider,
        "model_name": model.name,
        "temperature": params.temperature,
        "max_tokens": params.max_tokens,
        "top_p": params.top_p,
        "top_k": params.top_k,
        "frequency_penalty": params.frequency_penalty,
        "presence_penalty": params.presence_penalty,
        "stop_sequences": params.stop,
        "extra_params": {"seed": params.seed} if params.seed is not None else {},
    }
    try:
        with quiet("mlflow.store.model_registry.abstract_store"):  # "Waiting up to 300 seconds for prompt version"
            return registry.register_prompt(
                name=prompt.name,
                template=registry_template(prompt),
                commit_message=f"{prompt.ref}: {prompt.spec.description}",
                tags={HASH_TAG: prompt.hash, "workbench.version": prompt.version},
                model_config={k: v for k, v in config.items() if v is not None},
            )
    except MlflowException as exc:
        if not again or exc.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
    return register_prompt(prompt, settings, again=False)


def sync_production_alias(name: str, settings: Settings) -> int | None:
    """Make the registry's `production` alias follow `prompts/production.yaml` (registering that version when
    the registry lacks it); a family with no production version has no alias. Returns the aliased version."""
    from mlflow.exceptions import MlflowException

    registry = client(settings)
    marked = production(name, settings.prompts_dir)
    try:
        aliased = int(registry.get_prompt_version_by_alias(name, PRODUCTION_ALIAS).version)
    except MlflowException:  # no such prompt, or no such alias
        aliased = None
    if marked is None:
        if aliased is not None:
            registry.delete_prompt_alias(name, PRODUCTION_ALIAS)
        return None
    version = int(register_prompt(resolve(marked, settings.prompts_dir), settings).version)
    if aliased != version:
        registry.set_prompt_alias(name, alias=PRODUCTION_ALIAS, version=version)
    return version
