"""Check a configuration file and report every problem as `file:line: field: message`."""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from ..plugins import provider
from ..secrets import SECRET_KEY, secret_values, url_credentials
from .schema import HINTS, PromptSpec, content_hash

SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$")
CONTEXT_VARIABLE = "context"  # filled by retrieval when the configuration has a retrieval block


@dataclass(frozen=True)
class Problem:
    path: Path
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.field}: {self.message}"


def placeholders(template: str) -> list[str]:
    """The `{names}` a message uses; raises ValueError on malformed braces or fields."""
    names = []
    for _, field, spec, conversion in string.Formatter().parse(template):
        if field is None:
            continue
        if not field.isidentifier() or spec or conversion:
            written = "{" + field + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "") + "}"
            raise ValueError(
                f"placeholder {written} must be a plain name such as {{question}}; write {{{{ }}}} for literal braces"
            )
        names.append(field)
    return names


def check(path: Path, locked_hash: str | None = None) -> tuple[PromptSpec | None, list[Problem]]:
    """Parse and validate one file. Returns the spec (None when invalid) and the problems."""
    path = Path(path)
    problems: list[Problem] = []

    def add(line: int, field: str, message: str) -> None:
        problems.append(Problem(path, line, field, message))

    version = path.name.removesuffix(".yaml")
    if path.suffix != ".yaml":
        add(1, "file", "configurations are prompts/<name>/<semver>.yaml; rename the file to end in .yaml")
    elif not SEMVER.match(version):
        add(1, "version", f"file name '{path.name}' is not a semantic version; rename it like 1.0.0.yaml")

    try:
        text = path.read_text(encoding="utf-8")
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except OSError as exc:
        add(1, "file", f"cannot read: {exc.strerror}")
        return None, problems
    except UnicodeDecodeError as exc:
        data = path.read_bytes()
        add(
            data.count(b"\n", 0, exc.start) + 1,
            "encoding",
            f"byte 0x{data[exc.start]:02x} is not UTF-8; save the file as UTF-8",
        )
        return None, problems
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        context = f" ({exc.context} on line {exc.context_mark.line + 1})" if exc.context and exc.context_mark else ""
        add(mark.line + 1 if mark else 1, "yaml", f"syntax error: {exc.problem}{context}")
        return None, problems
    if not isinstance(node, yaml.MappingNode):
        add(1, "yaml", "the file must be a mapping of keys such as name:, model:, messages:")
        return None, problems

    lines = _line_index(node, (), {}, add)
    data = yaml.safe_load(text)

    try:
        spec = PromptSpec.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors():
            loc = tuple(error["loc"])
            add(_line_of(loc, lines), _field(loc), _message(error))  # type: ignore[arg-type]
        return None, problems

    folder = path.parent.name
    if spec.name != folder:
        add(lines.get(("name",), 1), "name", f"'{spec.name}' does not match its folder '{folder}'; rename one of them")
    _check_models(spec, lines, add)
    _check_variables(spec, lines, add)
    if locked_hash is not None and not problems:
        if content_hash(spec) != locked_hash:
            add(
                1,
                "version",
                f"content changed after a run recorded hash {locked_hash[:12]}; "
                f"revert the change or save it as a new version",
            )
    return (None if problems else spec), problems


def _check_models(spec: PromptSpec, lines: dict, add) -> None:
    for loc, model in [(("model",), spec.model)] + [(("fallbacks", i), m) for i, m in enumerate(spec.fallbacks)]:
        where = _field(loc)
        secret = _secret_kwargs(model)
        for path in sorted(secret, key=str):
            add(
                _line_of(loc + ("kwargs", *path), lines),
                _field(loc + ("kwargs", *path)),
                "secrets never go in a configuration; "
                + (
                    "export the key and name its variable in api_key_env (sent as Authorization: Bearer)"
                    if model.provider == "openai"
                    else "export it in the environment variable the class reads (such as OPENAI_API_KEY)"
                ),
            )
        if url_credentials(model.base_url):
            add(
                _line_of(loc + ("base_url",), lines),
                f"{where}.base_url",
                "holds credentials (user:password@ or a key in the query); remove them, export the key and name its "
                "variable in api_key_env",
            )
        for field, message in provider(model.provider).check(model):  # the provider's own rules
            path = tuple(field.split("."))
            if path[0] != "kwargs" or path[1:2] not in secret:
                add(_line_of(loc + path, lines), _field(loc + path), message)


def _secret_kwargs(model) -> set[tuple]:
    """Paths under `kwargs` (headers included) whose key or value looks like a secret."""
    secret = {path for path, _ in secret_values(model.kwargs)}
    return secret | {(key,) for key in model.kwargs if SECRET_KEY.search(str(key))}


def _check_variables(spec: PromptSpec, lines: dict, add) -> None:
    declared = set(spec.variables)
    for i, name in enumerate(spec.variables):
        if spec.variables.index(name) != i:
            add(_line_of(("variables", i), lines), f"variables[{i}]", f"'{name}' is declared twice")
    provided = declared | ({CONTEXT_VARIABLE} if spec.retrieval else set())
    used: set[str] = set()
    for i, message in enumerate(spec.messages):
        loc = ("messages", i, "content")
        try:
            names = placeholders(message.content)
        except ValueError as exc:
            add(_line_of(loc, lines), _field(loc), str(exc))
            used.update(declared)  # the variables' use cannot be judged past a broken placeholder
            continue
        used.update(names)
        for name in sorted(set(names) - provided):
            add(_line_of(loc, lines), _field(loc), f"uses undeclared variable {{{name}}}; add it to variables:")
    for name in sorted(declared - used):
        add(
            _line_of(("variables", spec.variables.index(name)), lines),
            "variables",
            f"'{name}' is declared but no message uses {{{name}}}; remove it or use it",
        )
    if spec.retrieval and spec.retrieval.query_variable not in declared:
        add(
            _line_of(("retrieval", "query_variable"), lines),
            "retrieval.query_variable",
            f"'{spec.retrieval.query_variable}' is not a declared variable; name the variable that holds the query",
        )
    if spec.retrieval and CONTEXT_VARIABLE not in used:
        add(_line_of(("retrieval",), lines), "retrieval", "a retrieval block needs a message that uses {context}")


def _line_index(node: yaml.Node, loc: tuple, lines: dict, add) -> dict:
    """Map each key path to its 1-based line; report duplicate keys on the way."""
    lines[loc] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        seen = set()
        for key_node, value_node in node.value:
            key = key_node.value
            if key in seen:
                add(key_node.start_mark.line + 1, _field(loc + (key,)), "duplicate key; keep only one")
            seen.add(key)
            _line_index(value_node, loc + (key,), lines, add)
            lines[loc + (key,)] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _line_index(item, loc + (i,), lines, add)
    return lines


def _line_of(loc: tuple, lines: dict) -> int:
    for end in range(len(loc), -1, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return 1


def _field(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "file"


def _message(error: dict[str, Any]) -> str:
    kind, loc = error["type"], error["loc"]
    if kind == "extra_forbidden":
        key = loc[-1]
        hint = HINTS.get(key)
        return f"unknown key '{key}'" + (f"; {hint}" if hint else "; check the spelling against the documented fields")
    if kind == "missing":
        return "missing required key"
    if kind == "literal_error":
        allowed = error["ctx"]["expected"]
        return f"'{error['input']}' is not allowed; use {allowed}"
    message = error["msg"]
    return message.removeprefix("Value error, ")
