"""ipywidgets views over library objects (runs, comparisons, retrieval); each also renders as static, escaped HTML.

The logic (filters, pages, diffs) lives in plain functions beside each widget, testable without a browser: `cases`,
`html`; feedback storage and harvest are `workbench.feedback`'s (re-exported here: `Feedback`, `FeedbackStore`).
"""

from ..feedback import Feedback, FeedbackStore
from .comparison_view import ComparisonView
from .feedback import FeedbackCollector
from .retrieval_inspector import RetrievalInspector
from .review_queue import ReviewQueue
from .score_board import ScoreBoard

__all__ = [
    "ComparisonView",
    "Feedback",
    "FeedbackCollector",
    "FeedbackStore",
    "RetrievalInspector",
    "ReviewQueue",
    "ScoreBoard",
]
