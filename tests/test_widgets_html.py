"""HTML helpers and escaping: planted <script> and <img onerror> in every text a view shows stay text."""

from __future__ import annotations

import html
from html.parser import HTMLParser

import pandas as pd

from workbench.compare import compare
from workbench.rag.inspection import frame as chunk_frame
from workbench.widgets import ComparisonView, FeedbackCollector, ScoreBoard
from workbench.widgets.html import badge, ci_bar, esc, fmt, table, word_diff
from workbench.widgets.retrieval_inspector import mark, render_inspection, spans
from workbench.widgets.verdict import render_verdict

from .test_widgets_cases import make_run

SCRIPT = "<script>document.title='PWNED'</script>"
IMG = "<img src=x onerror=\"document.body.dataset.pwned='yes'\">"
PAYLOAD = f"{SCRIPT} and {IMG}"
ALLOWED = {
    "style",
    "div",
    "span",
    "b",
    "i",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "pre",
    "del",
    "ins",
    "mark",
    "details",
    "summary",
    "h4",
    "code",
    "ul",
    "li",
}


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def assert_inert(rendered: str, planted: str = PAYLOAD) -> None:
    """Only the views' own tags and attributes, no event handler, and the planted text visible as text."""
    parser = Tags()
    parser.feed(rendered)
    names = {t for t, _ in parser.tags}
    assert names <= ALLOWED, names - ALLOWED
    assert not [a for _, attrs in parser.tags for a in attrs if a.lower().startswith("on")]
    text = "".join(parser.text)
    for piece in (SCRIPT, IMG):
        if piece in planted:
            assert piece in text, f"{piece!r} not shown as text"


def test_esc_escapes_markup_and_quotes_and_blanks_missing_values():
    assert esc(PAYLOAD) == html.escape(PAYLOAD, quote=True)
    assert esc(None) == "" and esc(float("nan")) == ""
    assert esc('a"b') == "a&quot;b"
    assert fmt(float("nan")) == "–" and fmt(0.12345) == "0.123" and fmt(None) == "–"


def test_word_diff_marks_words_only_in_one_side_and_escapes_them():
    left, right = word_diff("The Plus plan costs $6 per month.", "The Plus plan costs $12 per\nmonth. " + SCRIPT)
    assert '<del class="wb-del">$6 </del>' in left and "<ins" not in left
    assert '<ins class="wb-ins">$12 </ins>' in right and "<del" not in right
    assert "per\nmonth." in right and '<ins class="wb-ins">per' not in right  # whitespace alone is no change
    assert "&lt;script&gt;" in right and "<script>" not in right
    assert word_diff("same words", "same words") == ("same words", "same words")
    assert word_diff(None, "new") == ("", '<ins class="wb-ins">new</ins>')


def test_table_badge_and_ci_bar_escape_and_clamp():
    rendered = table([[esc(PAYLOAD), "1"]], [PAYLOAD, "n"], numeric=[1])
    assert_inert(rendered)
    assert '<td class="wb-num">1</td>' in rendered
    assert_inert(badge(PAYLOAD, "bad", title=PAYLOAD))
    bar = ci_bar(-2.0, 0.5, 0.25, 0.0, 1.0)
    assert "left:0.0%" in bar and "left:25.0%" in bar
    assert ci_bar(float("nan"), 1, 0.5) == ""


def test_comparison_view_escapes_outputs_errors_ids_tags_inputs_and_chunks():
    case = f"case {IMG}"
    chunks = {case: [{"rank": 1, "source": f"doc {SCRIPT}.md", "text": PAYLOAD, "scores": {"semantic": 0.5}}]}
    base = make_run(
        f"tiny@1.0.0 {SCRIPT}",
        {case: {"checks": 1}, "other": {"checks": 1}},
        outputs={case: "fine"},
        tags={case: f"billing,{SCRIPT}"},
        chunks=chunks,
    )
    cand = make_run(
        "tiny@1.1.0",
        {case: {"checks": 0}, "other": {}},
        outputs={case: PAYLOAD},
        errors={"other": f"model said {IMG}"},
        tags={case: f"billing,{SCRIPT}"},
    )
    view = ComparisonView(compare(base, cand), dataset=None)
    rendered = view.html()
    assert_inert(rendered)
    assert "model said" in rendered and "retrieved chunks (baseline 1, candidate 0)" in rendered
    bundle = view._repr_mimebundle_()
    assert bundle["text/html"] == rendered and "application/vnd.jupyter.widget-view+json" in bundle


def test_score_board_feedback_and_verdict_escape_names(tmp_path, project):
    base = make_run(f"a@1.0.0 {SCRIPT}", {"x": {"checks": 1}})
    cand = make_run(f"a@1.1.0 {IMG}", {"x": {"checks": 0}}, outputs={"x": PAYLOAD})
    assert_inert(ScoreBoard(compare(base, cand)).html(), planted="")
    assert_inert(ScoreBoard([base, cand]).html(), planted="")
    collector = FeedbackCollector(cand, reviewer=f"rev {IMG}", settings=project, path=tmp_path / "f.jsonl")
    collector.record("x", thumb="down", comment=PAYLOAD, correction=SCRIPT)
    assert_inert(collector.html())
    record = {
        "passed": False,
        "failures": [PAYLOAD],
        "baseline": SCRIPT,
        "candidate": IMG,
        "dataset": "d@1",
        "dataset_hash": "h" * 64,
        "baseline_run_id": None,
        "candidate_run_id": IMG,
        "scorers": [{"scorer": SCRIPT, "verdict": "regressed"}],
        "failing_cases": [IMG, SCRIPT],
    }
    assert_inert(render_verdict(record))


def test_retrieval_view_escapes_chunks_and_marks_grounding_passages():
    chunks = [
        {
            "rank": 1,
            "source": f"billing/{IMG}.md",
            "text": f"Refunds within 14 days. {SCRIPT}",
            "scores": {"semantic": 0.8, "bm25": 3.2},
        }
    ]
    frame = chunk_frame(chunks, answer=None)
    from workbench.prompts.schema import Retrieval

    rendered = render_inspection(frame, f"query {SCRIPT}", Retrieval(corpus="docs"))
    assert_inert(rendered)
    assert "<th>semantic</th>" in rendered and "<th>bm25</th>" in rendered
    text = "Refunds within 14 days. Contact support <b>now</b>."
    regions = spans(text, ["Refunds within 14 days.", "missing sentence", "Contact support <b>now</b>."])
    assert regions == [(0, 23), (24, 51)]
    marked = mark(text, regions)
    assert marked.count('<mark class="wb-ground">') == 2 and "&lt;b&gt;now&lt;/b&gt;" in marked


def test_pandas_tables_in_notebooks_escape_by_default():
    rendered = pd.DataFrame({"output": [PAYLOAD]}).to_html()
    assert "<script>" not in rendered and "&lt;script&gt;" in rendered
