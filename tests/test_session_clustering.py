"""Sessions are the unit of pairing (#21): with turns correlated within a session, pooling the turns as
independent cases calls equal versions different far more often than alpha; pairing by session, the turns
as rows of one case, keeps the false-alarm rate and still finds a real drop. `benchmarks/session_clustering.py`
prints the full table (500 pairs per row)."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.session_clustering import false_alarms, rates, turns


@pytest.mark.slow
def test_pairing_by_session_keeps_the_false_alarm_rate_that_pooled_turns_lose():
    rng = np.random.default_rng(5)
    equal = [turns(rng, 40, 10, path_sd=1.5, drop=0.0) for _ in range(200)]
    shares = rates(equal, min_effect=0.10)
    pooled, sessions = false_alarms(shares["pooled turns"]), false_alarms(shares["sessions"])
    assert pooled > 0.12  # nominal 0.05: the turns of a session are not independent (about 0.22 here)
    assert sessions < 0.09  # 0.05 plus two standard errors at 200 pairs


def test_a_real_drop_is_found_when_sessions_are_the_unit():
    rng = np.random.default_rng(6)
    down = [turns(rng, 40, 5, path_sd=0.5, drop=0.3) for _ in range(10)]
    assert rates(down, min_effect=0.10)["sessions"].get("regressed", 0.0) >= 0.9
