"""Names are names, not paths: one pattern for configuration, dataset, corpus and run names.

Every name is checked here before a path is built from it, so `../outside`, `/etc`, `a\\b` or a NUL byte
can never lead a read or a write outside the project.
"""

from __future__ import annotations

import re

from .errors import WorkbenchError

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
RULE = "use 1-128 letters, digits, '-', '_' or '.', starting with a letter or a digit"


def check_name(name: str, kind: str, field: str | None = None) -> str:
    """`name` if it is a valid `kind` name ("configuration", "dataset", "corpus", "run"), else a bad-input error."""
    if not isinstance(name, str) or not NAME.fullmatch(name):
        shown = repr(name) if isinstance(name, str) else type(name).__name__
        raise WorkbenchError(f"{shown} is not a valid {kind} name", field=field or kind, fix=RULE)
    return name


def split_ref(ref: str, kind: str, field: str | None = None) -> tuple[str, str]:
    """`name@version` (or a bare `name`) split, with the name checked; the version is checked by its owner."""
    if not isinstance(ref, str):
        raise WorkbenchError(f"expected a {kind} reference such as name@version", field=field or kind)
    name, _, version = ref.partition("@")
    check_name(name, kind, field)
    if "\x00" in version or "/" in version or "\\" in version:
        raise WorkbenchError(
            f"{ref!r}: {version!r} is not a version",
            field=field or kind,
            fix="write name@version, e.g. support@1.0.0 or support@2",
        )
    return name, version
