"""What every `workbench` command module shares: argument types and the `--root` check (a bad value is a
usage error, exit 2, before anything runs), the project's settings from the arguments, and the `Command`
registrar each module's `add_commands` receives."""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Callable
from pathlib import Path

from .errors import WorkbenchError
from .settings import MARKER_HELP, Settings, is_project

Command = Callable[..., argparse.ArgumentParser]  # command(name, handler, help, parent) -> its parser


def _count(minimum: int):
    """A whole number of at least `minimum`."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{value} is below {minimum}; give {minimum} or more")
        return value

    return parse


positive, non_negative = _count(1), _count(0)


def number(text: str) -> float:
    """A finite number."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text} is not a finite number")
    return value


def positive_number(text: str) -> float:
    """A finite number above 0."""
    value = number(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{value} is not above 0")
    return value


def fraction(text: str) -> float:
    """A number from 0 to 1."""
    value = number(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{value} is not between 0 and 1")
    return value


def grade(text: str) -> int:
    """A human grade, 1 to 5."""
    if not text.isdigit() or not 1 <= int(text) <= 5:
        raise argparse.ArgumentTypeError(f"{text} is not between 1 and 5")
    return int(text)


def shard(text: str):
    """`i/n`: shard i of n, 1 <= i <= n."""
    from .shards import Shard  # the shard module imports the engine; only `run --shard` needs it

    try:
        return Shard.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def workers(text: str) -> int | None:
    """A number of worker processes, or `auto` (None: one per core, as memory allows)."""
    return None if text == "auto" else positive(text)


def check_root(root: str | None, source: str = "--root") -> None:
    """A root named explicitly (`source`: `--root` or `WORKBENCH_ROOT`) must be a project (`is_project`, the
    rule `find_root` also uses)."""
    if root is None:
        return
    path = Path(root)
    if not path.is_dir():
        raise WorkbenchError(f"{root}: no such folder", field=source, fix="give the project folder")
    if not is_project(path):
        raise WorkbenchError(
            f"{root} is not a workbench project ({MARKER_HELP})",
            field=source,
            fix="give the folder that holds prompts/ and datasets/, or run `workbench init` in it",
        )


def project_settings(args: argparse.Namespace, project: bool = True) -> Settings:
    """The project a command works on: an explicit root (`--root`, else `WORKBENCH_ROOT`) checked (unless the
    command needs no `prompts/` or `datasets/`: `project=False`), then `--tracking-uri` and `--no-cache` where the
    command has them."""
    if project:
        check_root(args.root or os.environ.get("WORKBENCH_ROOT"), "--root" if args.root else "WORKBENCH_ROOT")
    return Settings.load(
        root=args.root, tracking_uri=getattr(args, "tracking_uri", None), cache=not getattr(args, "no_cache", False)
    )
