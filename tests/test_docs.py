"""The Markdown a reader opens renders as written: every code fence is closed (else the rest of the file
renders as code) and every table row has its header's cells (a `|` in a code span splits a cell; write `\\|`)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DOCS = sorted([REPO / "README.md", *(REPO / "docs").glob("*.md"), *(REPO / "benchmarks").glob("*.md")])
FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")


def cells(row: str) -> int:
    return len(re.split(r"(?<!\\)\|", row.strip().strip("|")))


@pytest.mark.parametrize("path", DOCS, ids=lambda p: str(p.relative_to(REPO)))
def test_fences_are_closed_and_table_rows_match_their_header(path):
    problems, fence, header = [], None, None
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        found = FENCE.match(line)
        if fence is None and found:
            fence = (found.group(1), number)
        elif fence is not None:
            if found and found.group(1)[0] == fence[0][0] and len(found.group(1)) >= len(fence[0]):
                if not line.strip().strip(fence[0][0]):
                    fence = None
        elif line.startswith("|"):
            if header is None:
                header = cells(line)
            elif cells(line) != header:
                problems.append(f"{path.name}:{number}: {cells(line)} cells, the header has {header}; escape | as \\|")
        else:
            header = None
    if fence is not None:
        problems.append(f"{path.name}:{fence[1]}: the code fence opened here is never closed")
    assert problems == [], "\n".join(problems)
