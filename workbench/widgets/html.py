"""HTML pieces shared by the widgets. Every piece of model, user or document text goes through `esc`."""

from __future__ import annotations

import difflib
import html
import math
import re
from collections.abc import Iterable
from typing import Any

#: Scoped styles (every class starts with `wb-`), included once per rendered view.
STYLE = """<style>
.wb-view{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;font-size:13px;color:#1f2328;line-height:1.45}
.wb-view table.wb-table{border-collapse:collapse;margin:6px 0;width:100%}
.wb-view .wb-table th,.wb-view .wb-table td{border:1px solid #d0d7de;padding:4px 8px;text-align:left;vertical-align:top}
.wb-view .wb-table th{background:#f6f8fa;font-weight:600}
.wb-view .wb-num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.wb-badge{display:inline-block;padding:1px 7px;border-radius:10px;font-size:11px;font-weight:600;margin:1px 2px;
  white-space:nowrap;border:1px solid transparent}
.wb-good{background:#dafbe1;color:#116329;border-color:#aceebb}.wb-bad{background:#ffebe9;color:#a40e26;border-color:#ffcecb}
.wb-neutral{background:#eaeef2;color:#424a53;border-color:#d0d7de}.wb-warn{background:#fff8c5;color:#7d4e00;border-color:#eed888}
.wb-view .wb-table td .wb-badge{white-space:normal}
.wb-view .wb-text{white-space:pre-wrap;word-break:break-word;max-height:16em;overflow:auto;margin:0}
.wb-view del.wb-del{background:#ffebe9;color:#a40e26;text-decoration:line-through}
.wb-view ins.wb-ins{background:#dafbe1;color:#116329;text-decoration:none}
.wb-view mark.wb-ground{background:#fff1a8}
.wb-view tr.wb-grounds td{background:#fffbe0}
.wb-view .wb-wide{min-width:30em}
.wb-view .wb-error{color:#a40e26;font-family:monospace;white-space:pre-wrap}
.wb-view .wb-muted{color:#656d76}
.wb-view .wb-case{border:1px solid #d0d7de;border-radius:6px;margin:8px 0;padding:6px 10px}
.wb-view .wb-case h4{margin:2px 0 6px 0;font-size:13px}
.wb-view .wb-cols{display:grid;grid-template-columns:1fr 1fr;gap:10px}
.wb-view details summary{cursor:pointer;color:#0969da}
.wb-view .wb-banner{padding:10px 14px;border-radius:6px;font-size:16px;font-weight:700;margin:6px 0}
.wb-view .wb-banner.wb-good{border:1px solid #aceebb}.wb-view .wb-banner.wb-bad{border:1px solid #ffcecb}
.wb-view .wb-ci{display:inline-block;position:relative;width:80px;height:10px;background:#f6f8fa;border:1px solid #d0d7de;
  vertical-align:middle}
.wb-view .wb-ci span{position:absolute;top:1px;height:6px;background:#6e7781}
.wb-view .wb-ci i{position:absolute;top:-2px;width:2px;height:12px;background:#0969da}
</style>"""

TOKEN = re.compile(r"^\s+|\S+\s*")  # words with their trailing space; leading space alone


def esc(value: Any) -> str:
    """Text for HTML: None and NaN become an empty string, everything else is escaped (quotes too)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return html.escape(str(value), quote=True)


def fmt(value: Any, digits: int = 3) -> str:
    """A number for a table cell ('–' when missing)."""
    if value is None:
        return "–"
    try:
        number = float(value)
    except (TypeError, ValueError):
        return esc(value)
    if math.isnan(number):
        return "–"
    return f"{number:.{digits}f}"


def badge(text: Any, kind: str = "neutral", title: str | None = None) -> str:
    """A small coloured label; kind is good, bad, warn or neutral."""
    tip = f' title="{esc(title)}"' if title else ""
    return f'<span class="wb-badge wb-{kind}"{tip}>{esc(text)}</span>'


def verdict_kind(verdict: str) -> str:
    return {"improved": "good", "regressed": "bad", "passed": "good", "failed": "bad"}.get(verdict, "neutral")


def score_badge(name: str, value: Any, passed: Any = None) -> str:
    """`name 0.50` coloured by pass/fail (or by the value for 0/1 scores)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return badge(f"{name} –", "neutral", "not scored")
    ok = passed if isinstance(passed, bool) else (float(value) >= 1.0 if float(value) in (0.0, 1.0) else None)
    kind = "neutral" if ok is None else "good" if ok else "bad"
    return badge(f"{name} {float(value):.2f}", kind)


def word_diff(before: str | None, after: str | None) -> tuple[str, str]:
    """Both texts as escaped HTML: words only in `before` struck out, words only in `after` marked inserted.

    Words are compared without their surrounding whitespace; each side keeps its own spacing."""
    a = TOKEN.findall(before if isinstance(before, str) else "")
    b = TOKEN.findall(after if isinstance(after, str) else "")
    left, right = [], []
    words = difflib.SequenceMatcher(None, [t.strip() for t in a], [t.strip() for t in b], autojunk=False)
    for op, i1, i2, j1, j2 in words.get_opcodes():
        old, new = esc("".join(a[i1:i2])), esc("".join(b[j1:j2]))
        if op == "equal":
            left.append(old)
            right.append(new)
            continue
        if old:
            left.append(f'<del class="wb-del">{old}</del>')
        if new:
            right.append(f'<ins class="wb-ins">{new}</ins>')
    return "".join(left), "".join(right)


def table(
    rows: Iterable[Iterable[str]],
    header: Iterable[str],
    numeric: Iterable[int] = (),
    row_classes: Iterable[str] | None = None,
) -> str:
    """An HTML table of cells that are already HTML (escape text with `esc` first); header cells are escaped here."""
    numeric = set(numeric)
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    classes = list(row_classes) if row_classes is not None else None
    body = []
    for index, row in enumerate(rows):
        cells = "".join(f'<td class="wb-num">{c}</td>' if i in numeric else f"<td>{c}</td>" for i, c in enumerate(row))
        cls = f' class="{esc(classes[index])}"' if classes and classes[index] else ""
        body.append(f"<tr{cls}>{cells}</tr>")
    return f'<table class="wb-table"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def ci_bar(low: float, high: float, point: float, lo: float = 0.0, hi: float = 1.0) -> str:
    """A tiny interval bar: the grey span is [low, high], the blue tick the point estimate, on [lo, hi]."""
    values = [low, high, point]
    if any(v is None or (isinstance(v, float) and math.isnan(v)) for v in values) or hi <= lo:
        return ""

    def pos(v: float) -> float:
        return 100 * (min(max(v, lo), hi) - lo) / (hi - lo)

    return (
        f'<span class="wb-ci" title="[{low:.3f}, {high:.3f}]"><span style="left:{pos(low):.1f}%;'
        f'width:{max(pos(high) - pos(low), 1):.1f}%"></span><i style="left:{pos(point):.1f}%"></i></span>'
    )


def view(body: str) -> str:
    """Wrap a rendered view with the shared styles."""
    return f'{STYLE}<div class="wb-view">{body}</div>'
