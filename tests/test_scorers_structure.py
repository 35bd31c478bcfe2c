from __future__ import annotations

import asyncio

import pytest

from workbench.datasets import Case
from workbench.errors import WorkbenchError
from workbench.scorers import (
    Sample,
    contains_all,
    contains_any,
    from_spec,
    json_schema,
    length_bounds,
    regex,
    valid_json,
    valid_python,
)

CASE = Case(id="c", inputs={})
SCHEMA = {"type": "object", "required": ["answer"], "properties": {"answer": {"type": "string"}}}


def value(scorer, output, schema=None):
    return asyncio.run(scorer.score(Sample(output, CASE, output_schema=schema)))


def test_regex_search_and_full_match():
    assert value(regex(pattern=r"\d{3}-\d{4}"), "call 555-0199 now").value is True
    assert value(regex(pattern=r"\d{3}-\d{4}", full=True), "call 555-0199").value is False
    assert value(regex(pattern="yes", full=True, ignore_case=True), " YES ").value is True


def test_contains_any_and_all():
    assert value(contains_any(terms=["Paris", "Lyon"]), "lyon is nice").value is True
    assert value(contains_all(terms=["Paris", "Lyon"]), "lyon is nice").reason == "missing: paris"


def test_length_bounds():
    assert value(length_bounds(min_words=2, max_words=3), "one two three").value is True
    assert value(length_bounds(max_words=2), "one two three").value is False
    assert value(length_bounds(max_chars=5), "123456").reason == "1 words, 6 characters"


def test_valid_json_accepts_a_fenced_block():
    assert value(valid_json(), '```json\n{"a": 1}\n```').value is True
    result = value(valid_json(), "{'a': 1}")
    assert result.value is False and result.reason.startswith("not JSON: Expecting property name")


def test_json_schema_uses_the_configuration_schema_by_default():
    assert value(json_schema(), '{"answer": "x"}', SCHEMA).value is True
    result = value(json_schema(), '{"answer": 3}', SCHEMA)
    assert result.value is False and result.reason == "answer: 3 is not of type 'string'"
    assert value(json_schema(), "{}", SCHEMA).reason == "(root): 'answer' is a required property"
    assert value(json_schema(), '{"answer": "x"}').value is None  # no schema anywhere: not applicable
    assert value(json_schema(schema=SCHEMA), "[]").value is False


def test_valid_python_parses_without_running():
    assert value(valid_python(), "```python\nimport os\nos.remove('x')\n```").value is True
    assert value(valid_python(), "def f(:\n  pass").reason.startswith("syntax error")


def test_custom_scorers_by_import_path():
    plain = from_spec("tests.custom_scorers:shouts")
    assert plain.name == "tests.custom_scorers:shouts" and value(plain, "HEY").value is True
    factory = from_spec({"name": "tests.custom_scorers:max_exclamations", "args": {"limit": 1}})
    assert factory.spec == {"name": "max_exclamations", "args": {"limit": 1}}
    assert value(factory, "a!!").value is False
    with pytest.raises(WorkbenchError, match="cannot import"):
        from_spec("tests.custom_scorers:missing")
