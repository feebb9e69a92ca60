"""The suite line's time estimate."""

import pytest

from benchmark.executor import _estimate


def test_estimate_uses_each_stage_mean_and_overall_mean_for_unseen_stages():
    remaining = {"teacher": 2, "downstream": 10, "transfer": 1}
    seconds = {"teacher": 60.0, "downstream": 4.0}  # 2 teachers took 60 s, 1 downstream 4 s
    counts = {"teacher": 2, "downstream": 1}
    overall = 64.0 / 3
    assert _estimate(remaining, seconds, counts) == pytest.approx(2 * 30 + 10 * 4 + overall)
