from __future__ import annotations

import pytest

from workbench.errors import WorkbenchError
from workbench.prompts import check, diff, load_prompt, lock_hash, resolve

from .conftest import TINY_PROMPT


def test_resolve_pins_a_version(project):
    prompt = resolve("tiny@1.0.0", project.prompts_dir)
    assert (prompt.name, prompt.version, prompt.ref) == ("tiny", "1.0.0", "tiny@1.0.0")
    assert len(prompt.hash) == 64


@pytest.mark.parametrize("ref", ["tiny", "tiny@latest", "tiny@"])
def test_bare_or_latest_reference_is_refused_with_the_versions(project, ref):
    (project.prompts_dir / "tiny" / "1.1.0.yaml").write_text(TINY_PROMPT.replace("few words", "one word"))
    with pytest.raises(WorkbenchError, match=r"does not pin a version; write one of: tiny@1.0.0, tiny@1.1.0"):
        resolve(ref, project.prompts_dir)


def test_unknown_version_and_name(project):
    with pytest.raises(WorkbenchError, match="versions are: tiny@1.0.0"):
        resolve("tiny@9.9.9", project.prompts_dir)
    with pytest.raises(WorkbenchError, match="no configuration named 'nope'.*known: tiny"):
        resolve("nope@1.0.0", project.prompts_dir)


def test_versions_sort_numerically(project):
    for version in ("1.10.0", "1.2.0"):
        (project.prompts_dir / "tiny" / f"{version}.yaml").write_text(TINY_PROMPT)
    from workbench.prompts import versions

    assert versions("tiny", project.prompts_dir) == ["1.0.0", "1.2.0", "1.10.0"]


def test_hash_ignores_layout_and_comments_but_not_content(tmp_path):
    folder = tmp_path / "tiny"
    folder.mkdir()
    a = folder / "1.0.0.yaml"
    a.write_text(TINY_PROMPT)
    b = folder / "1.0.1.yaml"
    b.write_text("# a comment\n" + TINY_PROMPT.replace("variables: [question]", "variables:\n  - question"))
    c = folder / "1.0.2.yaml"
    c.write_text(TINY_PROMPT.replace("temperature: 0.0", "temperature: 0.1"))
    ha, hb, hc = (load_prompt(p).hash for p in (a, b, c))
    assert ha == hb != hc


def test_edit_after_a_run_without_version_bump_is_a_lint_error(project):
    prompt = resolve("tiny@1.0.0", project.prompts_dir)
    lock_hash(prompt, project.prompts_dir)
    assert check(prompt.path, prompt.hash)[1] == []
    prompt.path.write_text(TINY_PROMPT.replace("few words", "one word"))
    spec, problems = check(prompt.path, prompt.hash)
    assert spec is None
    assert str(problems[0]).endswith(
        f"1: version: content changed after a run recorded hash {prompt.hash[:12]}; "
        "revert the change or save it as a new version"
    )
    with pytest.raises(WorkbenchError, match="content changed after a run"):
        resolve("tiny@1.0.0", project.prompts_dir)


def test_render_fills_variables_and_keeps_roles(project):
    prompt = resolve("tiny@1.0.0", project.prompts_dir)
    messages = prompt.render({"question": "Why {braces}?"})
    assert messages == [
        {"role": "system", "content": "Answer in a few words."},
        {"role": "user", "content": "Why {braces}?"},
    ]
    with pytest.raises(WorkbenchError, match="lack variable"):
        prompt.render({})


def test_diff_shows_messages_and_parameters(project):
    (project.prompts_dir / "tiny" / "1.1.0.yaml").write_text(
        TINY_PROMPT.replace("few words", "one word").replace("max_tokens: 12", "max_tokens: 20")
    )
    out = diff(resolve("tiny@1.0.0", project.prompts_dir), resolve("tiny@1.1.0", project.prompts_dir))
    assert "-    max_tokens: 12" in out and "+    max_tokens: 20" in out
    assert "-  content: Answer in a few words." in out and "+  content: Answer in a one word." in out


def test_hash_is_stable_across_schema_additions(project):
    """A golden value: a change to the schema (a new optional field) must not re-hash existing configurations."""
    assert (
        resolve("tiny@1.0.0", project.prompts_dir).hash
        == "7aca58b5dad1aa6da6786c350df71ab104468e6759c0012610bb87cf988594f8"
    )
