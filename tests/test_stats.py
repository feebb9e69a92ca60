"""The statistics of the verdicts: Holm by hand, the minimum detectable effect, one-sided tests."""

import math

import pytest

from benchmark.report.stats import holm, mde, one_sided_bounds, one_sided_p


def test_holm_by_hand():
    # Sorted: 0.001 (vs 0.05/4 = 0.0125: rejected), 0.01 (vs 0.05/3 = 0.0167: rejected),
    # 0.03 (vs 0.05/2 = 0.025: not rejected) — and the procedure stops there, so 0.04 (vs 0.05) is kept too.
    assert holm([0.03, 0.001, 0.04, 0.01]) == [False, True, False, True]
    assert holm([0.01, 0.02, 0.03]) == [True, True, True]  # 0.01 < 0.0167, 0.02 < 0.025, 0.03 < 0.05
    assert holm([0.2]) == [False] and holm([]) == []


def test_minimum_detectable_effect_by_hand():
    # n = 4, sd = 1, one-sided α = 0.05: t_{0.95,3} = 2.3534, t_{0.80,3} = 0.9785 → 3.3319 / 2
    assert mde(1.0, 4) == pytest.approx(1.66595, abs=1e-4)
    # two-sided: t_{0.975,3} = 3.1824
    assert mde(1.0, 4, sides=2) == pytest.approx((3.18245 + 0.97847) / 2, abs=1e-4)
    assert math.isnan(mde(1.0, 1))


def test_one_sided_t_test_and_bounds():
    x = [1.0, 2.0, 3.0]  # mean 2, sd 1, se 0.5774, t = 3.464 at 0, df 2 → p = 0.0371
    assert one_sided_p(x, 0.0, greater=True) == pytest.approx(0.03709, abs=1e-4)
    assert one_sided_p(x, 0.0, greater=False) == pytest.approx(1 - 0.03709, abs=1e-4)
    low, high = one_sided_bounds(x)  # 2 ± t_{0.95,2} (2.92) · 0.5774
    assert (low, high) == pytest.approx((2 - 1.6859, 2 + 1.6859), abs=1e-3)


def test_no_spread_and_one_value():
    assert one_sided_p([0.0, 0.0, 0.0], 0.05, greater=False) == 0.0  # every value below: decided
    assert one_sided_p([0.0, 0.0, 0.0], 0.0, greater=True) == 1.0
    assert one_sided_p([5.0], 0.0, greater=True) == 1.0  # one seed proves nothing
