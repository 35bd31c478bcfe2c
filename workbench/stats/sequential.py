"""Group-sequential comparison on new cases: `start` cases with both versions, then `batch` more per look, until
a verdict or the budget of `max_cases` is spent (Lan-DeMets alpha spending of O'Brien-Fleming type).

Two one-sided tests at each look, each spending its error rate over the information fraction t = n / max_cases
as alpha(t) = 2 - 2 Phi(z_(1 - alpha/2) / sqrt(t)) (`spent`): early looks spend almost nothing, so the last look
is nearly the fixed test at max_cases (its recall is kept) while clear cases stop early.

- regression: the gate's test of "no change" (exact McNemar on pass/fail scores, a paired t-test on others),
  two-sided at alpha / family as the fixed gate is, so alpha / (2 family) is spent on the drop's side;
- no regression: the one-sided lower bound of the mean difference (`power.worst_diff`, the gate's "ruled out")
  above -min_effect, a non-inferiority test of a drop of min_effect, spending alpha for each scorer: the gate
  passes only when every critical scorer does, an intersection-union test, so no split is needed.

The verdicts are the fixed gate's (`compare._verdicts`) at each look's nominal levels: `regressed` (a
significant drop not ruled out), `no regression` (a drop of min_effect ruled out, a negligible significant drop
included), `improved` (a significant gain), else `continue`, which is `inconclusive` at the last look (without
a min_effect: `no regression`, the fixed gate's "no significant change"). Each boundary ignores the other
(non-binding), so stopping for one verdict only lowers the other's error rate. Bonferroni across `family`
critical scorers keeps the family-wise false alarm rate at alpha / 2 (a drop's side of a two-sided alpha); the
chance of passing while any one scorer is down by min_effect stays at alpha.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
from scipy import optimize, special, stats

from .power import POWER, cases_needed, mcnemar_drop_power, mcnemar_pvalue, paired_power, worst_diff

CONTINUE, REGRESSED, IMPROVED, NO_REGRESSION, INCONCLUSIVE = (
    "continue",
    "regressed",
    "improved",
    "no regression",
    "inconclusive",
)
_STEP = 0.01  # the grid of the Brownian motion's values W(t) in the recursion, over 8 standard deviations


def spent(fractions, alpha: float) -> np.ndarray:
    """The error rate spent by information fractions `fractions` (Lan-DeMets, O'Brien-Fleming type); alpha at 1."""
    t = np.clip(np.asarray(fractions, dtype=float), 1e-12, 1.0)
    return 2 * stats.norm.sf(stats.norm.isf(alpha / 2) / np.sqrt(t))


def boundaries(fractions, alpha: float) -> np.ndarray:
    """The z values that a one-sided test crosses at each look, so that under the null hypothesis the first
    crossing happens at look k with probability spent(t_k) - spent(t_(k-1)) (alpha in all); inf where a look
    may spend nothing. Numerical integration of the Brownian motion's density on a grid (Armitage, McPherson
    and Rowe's recursion), the statistics at the looks being Z_k = W(t_k) / sqrt(t_k)."""
    t = np.asarray(fractions, dtype=float)
    if len(t) == 0 or np.any(np.diff(t) <= 0) or t[0] <= 0 or t[-1] > 1 + 1e-12:
        raise ValueError("information fractions must increase within (0, 1]")
    spend = np.diff(spent(t, alpha), prepend=0.0)
    z = np.full(len(t), np.inf)
    nodes, mass, before = np.zeros(1), np.ones(1), 0.0  # W(0) = 0 with probability 1
    for k, now in enumerate(t):
        step = math.sqrt(now - before)

        if spend[k] > 1e-15:
            z[k] = optimize.brentq(_crossing, -20.0, 60.0, args=(nodes, mass, now, step, spend[k]), xtol=1e-10)
        top = min(z[k] * math.sqrt(now), 8 * math.sqrt(now))
        grid = np.arange(-8 * math.sqrt(now), top, _STEP)
        grid = np.append(grid, top)  # where the motion goes on, with the boundary a node
        kernel = np.exp(-0.5 * ((grid[:, None] - nodes[None, :]) / step) ** 2) / (step * math.sqrt(2 * math.pi))
        weights = np.diff(grid, prepend=grid[0]) / 2 + np.diff(grid, append=grid[-1]) / 2  # the trapezoid rule
        nodes, mass, before = grid, (kernel @ mass) * weights, now
    return z


def _crossing(c: float, nodes, mass, now: float, step: float, target: float) -> float:
    """The probability of going on to a first crossing of c at this look, less `target`."""
    return float(mass @ special.ndtr((nodes - c * math.sqrt(now)) / step)) - target


@dataclass(frozen=True)
class Design:
    """A group-sequential comparison: `start` cases first, `batch` more per look, at most `max_cases` (the
    budget); its alpha (two-sided, as the fixed gate's), min_effect and the `family` of critical scorers."""

    start: int = 100
    batch: int = 50
    max_cases: int = 400
    alpha: float = 0.05
    min_effect: float = 0.05
    family: int = 1

    def __post_init__(self) -> None:
        for name in ("start", "batch", "max_cases", "family"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}: {getattr(self, name)} is not a positive number")
        if not 0 < self.alpha < 1 or self.min_effect < 0:
            raise ValueError("alpha must be in (0, 1) and min_effect at least 0")

    @cached_property
    def looks(self) -> np.ndarray:
        """The case counts at each look: start, start + batch, ..., max_cases (a last batch may be shorter)."""
        first = min(self.start, self.max_cases)
        return np.append(np.arange(first, self.max_cases, self.batch), self.max_cases)

    @cached_property
    def drop_levels(self) -> np.ndarray:
        """The (two-sided) p-value each look's test of no change must be below: alpha / (2 family) spent."""
        return 2 * stats.norm.sf(boundaries(self.looks / self.max_cases, self.alpha / (2 * self.family)))

    @cached_property
    def bound_levels(self) -> np.ndarray:
        """The one-sided level of each look's lower bound of the difference: alpha spent (per scorer: see the module)."""
        return stats.norm.sf(boundaries(self.looks / self.max_cases, self.alpha))


def decide(p, estimate, bound, drop_level, min_effect: float, last) -> np.ndarray:
    """The verdict at one look (vectorised): the fixed gate's rule at the look's levels (see the module)."""
    estimate, last = np.asarray(estimate), np.asarray(last)
    significant = np.asarray(p) < np.asarray(drop_level)
    ruled_out = (min_effect > 0) & (np.asarray(bound) > -min_effect)
    verdict = np.select(
        [significant & (estimate < 0) & ~ruled_out, significant & (estimate > 0), ruled_out],
        [REGRESSED, IMPROVED, NO_REGRESSION],
        CONTINUE,
    )
    undecided = INCONCLUSIVE if min_effect > 0 else NO_REGRESSION
    return np.where(last & (verdict == CONTINUE), undecided, verdict)


def paired_looks(diffs, design: Design, pass_fail: bool = True) -> dict[str, np.ndarray]:
    """Every look of `design` at once (vectorised over leading axes: simulations, scorers). `diffs`: candidate
    minus baseline per case (-1, 0, 1 for pass/fail), cases on the last axis in the order they are evaluated, at
    least `design.max_cases` of them. Returns n, estimate, sd, worse, better, p, bound and verdict per look."""
    d = np.asarray(diffs, dtype=float)
    if d.shape[-1] < design.max_cases:
        raise ValueError(f"{d.shape[-1]} cases given; the design looks at up to {design.max_cases}")
    n = design.looks
    s1, s2 = np.cumsum(d, axis=-1)[..., n - 1], np.cumsum(d * d, axis=-1)[..., n - 1]
    worse, better = np.cumsum(d < 0, axis=-1)[..., n - 1], np.cumsum(d > 0, axis=-1)[..., n - 1]
    mean = s1 / n
    sd = np.sqrt(np.maximum(s2 - n * mean**2, 0) / np.maximum(n - 1, 1))
    last = np.arange(len(n)) == len(n) - 1
    p, bound, verdict = _test(mean, sd, n, worse, better, design, np.arange(len(n)), last, pass_fail)
    return {
        "n": np.broadcast_to(n, mean.shape),
        "estimate": mean,
        "sd": sd,
        "worse": worse,
        "better": better,
        "p": p,
        "bound": bound,
        "verdict": verdict,
    }


def _test(mean, sd, n, worse, better, design: Design, look, last, pass_fail: bool):
    """p-value of no change, the lower bound of the difference and the verdict at look index `look` (vectorised)."""
    if pass_fail:
        p = mcnemar_pvalue(worse, better)
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            score = np.where(sd > 0, np.abs(mean) * np.sqrt(n) / sd, np.where(mean == 0, 0.0, np.inf))
        p = 2 * stats.t.sf(score, np.maximum(n - 1, 1))
    bound = worst_diff(mean, sd, n, design.bound_levels[look], pass_fail=pass_fail)
    return p, bound, decide(p, mean, bound, design.drop_levels[look], design.min_effect, last)


def first_stop(verdicts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index of the first look with a verdict (the last look when none) and that verdict, per row."""
    decided = verdicts != CONTINUE
    index = np.where(decided.any(axis=-1), decided.argmax(axis=-1), verdicts.shape[-1] - 1)
    return index, np.take_along_axis(verdicts, index[..., None], axis=-1)[..., 0]


def cases_to_decide(
    n: int, discordant: int, pass_rate: float, sd: float, design: Design, pass_fail: bool, power: float = POWER
) -> float:
    """The cases a fixed comparison needs to see a drop of min_effect with `power`, at the noise seen in `n`
    cases (the gate's `cases_needed`): about as many as decide the question either way; inf when none can."""
    level, effect = design.alpha / design.family, design.min_effect
    if n < 2 or effect <= 0:
        return math.inf
    if pass_fail:
        rate = discordant / n
        return cases_needed(lambda m: mcnemar_drop_power(m, rate, pass_rate, effect, level), power)
    if not np.isfinite(sd):
        return math.inf
    return cases_needed(lambda m: paired_power(m, sd, effect, level), power)


@dataclass
class SequentialState:
    """One critical scorer of a comparison run look by look: the scores so far, and its verdict once decided
    (kept: later looks do not undo it)."""

    design: Design
    baseline: list[float] = field(default_factory=list)
    candidate: list[float] = field(default_factory=list)
    looked: int = 0
    decided: dict | None = None

    def add(self, baseline, candidate, look: int | None = None) -> dict:
        """Add one look's scores (NaN on either side: a case without a pair, skipped) and look; `look`: its index
        in the design (default: the next; a scorer first scored late still looks at that look's levels)."""
        b, c = np.asarray(baseline, dtype=float), np.asarray(candidate, dtype=float)
        keep = np.isfinite(b) & np.isfinite(c)
        self.baseline.extend(b[keep].tolist())
        self.candidate.extend(c[keep].tolist())
        self.looked = self.looked + 1 if look is None else look + 1
        return self.look()

    def look(self) -> dict:
        """This look's numbers and verdict (the decided look's once there is one)."""
        if self.decided is not None:
            return self.decided
        design = self.design
        k = min(max(self.looked, 1), len(design.looks)) - 1
        b, c = np.asarray(self.baseline), np.asarray(self.candidate)
        n, d = len(b), c - b
        pass_fail = bool(np.isin(np.concatenate([b, c]), (0.0, 1.0)).all())
        mean, sd = (float(d.mean()) if n else 0.0), (float(d.std(ddof=1)) if n > 1 else 0.0)
        worse, better = int((d < 0).sum()), int((d > 0).sum())
        p, bound, verdict = _test(mean, sd, n, worse, better, design, k, k == len(design.looks) - 1, pass_fail)
        row = {
            "look": k + 1,
            "n": n,
            "estimate": mean if n else math.nan,
            "bound": float(bound),
            "p": float(p),
            "level": float(design.drop_levels[k]),
            "verdict": str(verdict),
            "baseline": float(b.mean()) if n else math.nan,
            "candidate": float(c.mean()) if n else math.nan,
            "cases_needed": math.nan,
        }
        if row["verdict"] == INCONCLUSIVE:
            rate = float(b.mean()) if n else math.nan
            row["cases_needed"] = cases_to_decide(n, worse + better, rate, sd, design, pass_fail)
        if row["verdict"] != CONTINUE:
            self.decided = row
        return row
