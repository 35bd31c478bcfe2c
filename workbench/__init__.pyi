"""The public names of `workbench` for type checkers and editors (the package imports them lazily at run time)."""

from . import ci, compare, plots, rag, replay, widgets
from .budget import Budget
from .calibration import calibrate
from .compare import Comparison
from .datasets import Case, Dataset, add_cases, load_dataset
from .errors import Failure, InfrastructureError, WorkbenchError
from .experiment import compare_refs, compare_sequential, evaluate
from .export import export_finetune
from .gate import GatePolicy, GateResult, check_gate
from .metrics import RunMetrics
from .models import ModelClient, chat_model
from .plugins import Provider
from .prompts import GuardrailPolicy, Prompt, resolve
from .results import RunResult
from .review import route
from .run_context import RunContext
from .scorers import Sample, Score, get_scorer, scorer
from .settings import Settings

__all__ = [
    "Budget",
    "Case",
    "Comparison",
    "Dataset",
    "Failure",
    "GatePolicy",
    "GateResult",
    "GuardrailPolicy",
    "InfrastructureError",
    "ModelClient",
    "Prompt",
    "Provider",
    "RunContext",
    "RunMetrics",
    "RunResult",
    "Sample",
    "Score",
    "Settings",
    "WorkbenchError",
    "add_cases",
    "calibrate",
    "chat_model",
    "check_gate",
    "ci",
    "compare",
    "compare_refs",
    "compare_sequential",
    "evaluate",
    "export_finetune",
    "get_scorer",
    "load_dataset",
    "plots",
    "rag",
    "replay",
    "resolve",
    "route",
    "scorer",
    "widgets",
]
