"""The `workbench` console script. It loads the command line inside a guard, so Ctrl-C while the commands
are still importing is `interrupted` and exit 130 like Ctrl-C at any later moment, never a traceback."""

from __future__ import annotations

import sys


def main() -> int:
    try:
        from .cli import main as run  # most of the start-up time: the window this guard closes
    except KeyboardInterrupt:
        from .errors import Exit  # nothing of the package is imported before the guard

        print("interrupted", file=sys.stderr)
        return Exit.INTERRUPTED
    return run()
