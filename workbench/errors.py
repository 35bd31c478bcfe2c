"""The exceptions users see, and the exit codes they map to: a message for people, never a traceback.

The exit code is an API: 0 pass, 1 regression (only from a gate verdict), 2 bad input, 3 infrastructure
failure, 130 interrupted. `cli.main` is the one place that turns an exception into a code.

`WorkbenchError` (bad input) and `InfrastructureError` are siblings under `Failure`: `except WorkbenchError`
handles bad input only; a boundary that reports either (the CLI, a widget's status line) catches `Failure`.
"""

from __future__ import annotations

from enum import IntEnum
from pathlib import Path


class Exit(IntEnum):
    OK = 0
    REGRESSION = 1  # only ever from a gate verdict
    BAD_INPUT = 2
    INFRASTRUCTURE = 3
    INCONCLUSIVE = 4  # a gate verdict: the dataset could not have seen the effect the policy cares about
    INTERRUPTED = 130


class Failure(Exception):
    """A failure reported to people with its exit code; catch it only where it is reported, else a subclass.

    `file`, `line`, `field` and `fix` are optional structure: given, the message reads
    `file:line: field: message; fix`, and callers can read them back as attributes.
    """

    code: int = Exit.INFRASTRUCTURE  # a failure not known to be the input's fault

    def __init__(
        self,
        message: str,
        *,
        file: str | Path | None = None,
        line: int | None = None,
        field: str | None = None,
        fix: str | None = None,
    ):
        self.message, self.file, self.line, self.field, self.fix = message, file, line, field, fix
        where = f"{file}:{line}: " if file is not None and line is not None else f"{file}: " if file is not None else ""
        super().__init__(f"{where}{f'{field}: ' if field else ''}{message}{f'; {fix}' if fix else ''}")


class WorkbenchError(Failure):
    """Bad input or a failed precondition (exit 2); the message names the file, the field and the fix."""

    code = Exit.BAD_INPUT


class InfrastructureError(Failure):
    """Something the user's input did not cause failed (exit 3): the model is unreachable, a store is broken."""

    code = Exit.INFRASTRUCTURE
