"""ipywidgets views over library objects (runs, comparisons, retrieval); each also renders as static, escaped HTML.

The logic (filters, pages, diffs, feedback storage) lives in plain functions beside each widget, testable without
a browser: `cases`, `html`, `feedback_store`.
"""

from .comparison_view import ComparisonView
from .feedback import FeedbackCollector
from .feedback_store import Feedback, FeedbackStore
from .retrieval_inspector import RetrievalInspector
from .score_board import ScoreBoard

__all__ = ["ComparisonView", "Feedback", "FeedbackCollector", "FeedbackStore", "RetrievalInspector", "ScoreBoard"]
