"""Is a finished run usable? Too many failed calls is an infrastructure failure (exit 3); a scorer that
failed on every case it could score is bad input (exit 2). Both name what went wrong."""

from __future__ import annotations

from .errors import InfrastructureError, WorkbenchError
from .record import SCORER_ERROR
from .results import RunResult

#: The default limit: a run fails only when every call failed.
MAX_ERROR_RATE = 1.0


def error_kinds(errors: list[str]) -> str:
    """`APIConnectionError x3, TimeoutError x1`: the text before the first colon of each error, counted."""
    counts: dict[str, int] = {}
    for error in errors:
        kind = error.split(":", 1)[0].strip()[:60] or "error"
        counts[kind] = counts.get(kind, 0) + 1
    return ", ".join(f"{k} x{n}" for k, n in sorted(counts.items(), key=lambda kv: -kv[1]))


def check_run(result: RunResult, max_error_rate: float = MAX_ERROR_RATE) -> None:
    """Raise when the share of failed calls exceeds `max_error_rate` (or every call failed), or a scorer
    failed on every case that has an answer."""
    calls = result.columns(["error"])  # a streamed run's record stays on disk
    errors = [e for e in calls["error"] if isinstance(e, str)]
    rate = len(errors) / len(calls) if len(calls) else 0.0
    if errors and (rate > max_error_rate or len(errors) == len(calls)):
        raise InfrastructureError(
            f"{result.prompt_ref} on {result.dataset_ref}: {len(errors)} of {len(calls)} calls failed ({rate:.0%}, "
            f"limit {max_error_rate:.0%}): {error_kinds(errors)}; first: {errors[0][:300]}",
            fix="check that the model in the configuration's model: is reachable, or raise --max-error-rate",
        )
    frame = result.score_rows()
    scorer_error = frame["error"].str.startswith(SCORER_ERROR, na=False)
    answered = frame["scorer"].notna() & (frame["error"].isna() | scorer_error)  # calls that got an answer
    for name, rows in frame[answered].groupby("scorer", sort=False):
        if scorer_error[rows.index].all():
            raise WorkbenchError(
                f"scorer '{name}' failed on all {len(rows)} rows it scored; first: {rows['error'].iloc[0][:300]}",
                field="--scorer",
                fix="make the scorer return a bool, a finite number, a label (str) or a Score",
            )
