"""Each deliberately broken configuration under tests/broken_prompts gets its own message."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from workbench.cli import main
from workbench.prompts import check

BROKEN = sorted((Path(__file__).parent / "broken_prompts").glob("*/*.yaml"))
REPO_PROMPTS = Path(__file__).parent.parent / "prompts"


def expectation(path: Path) -> tuple[int, str, str]:
    """The first line of each broken file says `# expect: LINE: FIELD: message start`."""
    match = re.match(r"# expect: (\d+): ([^:]+): (.+)", path.read_text().splitlines()[0])
    assert match, f"{path} lacks its '# expect:' line"
    return int(match.group(1)), match.group(2), match.group(3)


def test_there_are_at_least_fifteen_broken_configurations():
    assert len(BROKEN) >= 15


@pytest.mark.parametrize("path", BROKEN, ids=lambda p: p.parent.name)
def test_broken_configuration_gets_its_message(path):
    line, field, message = expectation(path)
    spec, problems = check(path)
    assert spec is None
    rendered = [str(p) for p in problems]
    assert any(r.startswith(f"{path}:{line}: {field}: {message}") for r in rendered), rendered


def test_repository_configurations_pass():
    for path in REPO_PROMPTS.glob("*/*.yaml"):
        spec, problems = check(path)
        assert problems == [], problems


def test_cli_lint_exit_codes(capsys):
    assert main(["prompts", "lint", str(REPO_PROMPTS)]) == 0
    assert main(["prompts", "lint", str(BROKEN[0].parent.parent)]) == 2
    out = capsys.readouterr().out.splitlines()
    assert len(out) >= len(BROKEN)
    assert all(re.match(r"^\S+\.yaml:\d+: \S+: .+", line) for line in out)
