"""Reading and writing project files safely: UTF-8 with a located error, atomic replacement, file locks.

Every write of a file other processes read (dataset versions, `prompts/lock.json`, `prompts/production.yaml`,
feedback logs) goes through `atomic_write` under `locked`: readers see the old file or the new one, never
half of one, and two writers take turns.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

from .errors import InfrastructureError, WorkbenchError

LOCK_TIMEOUT_S = 120.0


def read_text(path: str | Path, what: str = "file") -> str:
    """The file as UTF-8 text; a non-UTF-8 byte is an error naming its line and column."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise WorkbenchError(f"cannot read {what}: {exc.strerror}", file=path) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise WorkbenchError(
            f"byte 0x{data[exc.start]:02x} is not UTF-8 (column {column})",
            file=path,
            line=line,
            field="encoding",
            fix="save the file as UTF-8",
        ) from None


def atomic_write(path: str | Path, content: str | bytes) -> Path:
    """Write to a temporary file beside `path`, fsync it, then rename it over `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content.encode("utf-8") if isinstance(content, str) else content)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def lock_path(path: str | Path) -> Path:
    """The lock file that guards `path`: a hidden sibling (a folder's lives inside it)."""
    path = Path(path)
    return path / ".lock" if path.is_dir() else path.with_name(f".{path.name}.lock")


@contextmanager
def locked(path: str | Path, timeout: float = LOCK_TIMEOUT_S) -> Iterator[None]:
    """Hold the lock of `path` (a file or a folder) across processes; waits up to `timeout` seconds."""
    target = lock_path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        with FileLock(target, timeout=timeout):
            yield
    except Timeout:
        raise InfrastructureError(
            f"another workbench command has held {target} for {timeout:.0f}s",
            fix="wait for it to finish, or delete the lock file if no command is running",
        ) from None
