"""The statistics behind the verdicts, with the independent training run (seed) as the unit of evidence.

A comparison is a set of seed-level values (one number per seed: a paired difference, a ratio, a level) and
is judged by one-sided Student-t tests over those seeds. Why t over seed means and not a bootstrap: with
2–4 seeds a bootstrap has only 3–35 distinct resamples and its interval is too narrow; tasks, z values
and layers inside one seed are not independent replicates and are averaged into that seed's value first.
Claims made of many comparisons at once use Holm's step-down correction.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

ALPHA = 0.05  # one-sided level of every test
POWER = 0.8  # for the minimum detectable effect


@dataclass(frozen=True)
class Interval:
    mean: float
    low: float  # nan when there is a single observation
    high: float
    n: int

    def above(self, value: float = 0.0) -> bool:
        return not math.isnan(self.low) and self.low > value

    def below(self, value: float = 0.0) -> bool:
        return not math.isnan(self.high) and self.high < value

    def text(self, digits: int = 3) -> str:
        if math.isnan(self.low):
            return f"{self.mean:.{digits}f} (n={self.n}, no CI)"
        return f"{self.mean:.{digits}f} [95% CI {self.low:.{digits}f}, {self.high:.{digits}f}] (n={self.n})"


def _clean(values: Sequence[float]) -> np.ndarray:
    x = np.asarray(values, dtype=float)
    return x[~np.isnan(x)]


def mean_ci(values: Sequence[float], level: float = 0.95) -> Interval:
    """Student-t interval of the mean; with one value, no interval."""
    x = _clean(values)
    if len(x) == 0:
        return Interval(math.nan, math.nan, math.nan, 0)
    mean = float(x.mean())
    if len(x) < 2:
        return Interval(mean, math.nan, math.nan, 1)
    sem = float(x.std(ddof=1)) / math.sqrt(len(x))
    if sem == 0:
        return Interval(mean, mean, mean, len(x))
    half = float(stats.t.ppf(0.5 + level / 2, len(x) - 1)) * sem
    return Interval(mean, mean - half, mean + half, len(x))


def mean_sd(values: Sequence[float]) -> tuple[float, float]:
    """Mean and uncorrected sample standard deviation (the feature-prediction paper's statistic)."""
    x = np.asarray(values, dtype=float)
    return float(x.mean()), float(x.std(ddof=0))


def one_sided_p(values: Sequence[float], threshold: float, greater: bool) -> float:
    """p of the one-sided t test of H1: mean > threshold (greater) or mean < threshold, over the values.

    With no spread the t statistic is undefined: the values then decide alone (p = 0 when every value lies
    strictly beyond the threshold in the tested direction, else 1). Fewer than two values: p = 1.
    """
    x = _clean(values)
    if len(x) < 2:
        return 1.0
    if float(x.std(ddof=1)) <= 1e-12 * max(1.0, abs(float(x.mean()))):  # no spread (up to rounding)
        beyond = x[0] > threshold if greater else x[0] < threshold
        return 0.0 if beyond else 1.0
    alternative = "greater" if greater else "less"
    return float(stats.ttest_1samp(x, threshold, alternative=alternative).pvalue)


def holm(pvalues: Sequence[float], alpha: float = ALPHA) -> list[bool]:
    """Holm's step-down procedure: which hypotheses are rejected with family-wise error at most alpha.

    Sorted ascending, p_(k) is compared with alpha / (m - k) (k from 0); the first failure stops it.
    """
    m = len(pvalues)
    rejected = [False] * m
    for k, i in enumerate(sorted(range(m), key=lambda j: pvalues[j])):
        if pvalues[i] >= alpha / (m - k):
            break
        rejected[i] = True
    return rejected


def mde(sd: float, n: int, alpha: float = ALPHA, power: float = POWER, sides: int = 1) -> float:
    """Minimum detectable effect of a t test over n seeds: (t_{1-α/sides} + t_{power}) · sd / √n."""
    if n < 2 or math.isnan(sd):
        return math.nan
    df = n - 1
    return (float(stats.t.ppf(1 - alpha / sides, df)) + float(stats.t.ppf(power, df))) * sd / math.sqrt(n)


def seeds_for(sd: float, effect: float, alpha: float = ALPHA, power: float = POWER, cap: int = 200) -> float:
    """The fewest seeds (≥ 3) whose t test detects `effect` with `power` at this seed-level spread: the
    smallest n with mde(sd, n) ≤ effect; inf when even `cap` seeds would not (or the effect is 0)."""
    if math.isnan(sd) or math.isnan(effect) or effect <= 0:
        return math.inf
    for n in range(3, cap + 1):
        if mde(sd, n, alpha, power) <= effect:
            return n
    return math.inf


def one_sided_bounds(values: Sequence[float], alpha: float = ALPHA) -> tuple[float, float]:
    """The one-sided (1 - alpha) lower and upper bounds of the mean (together: a 1 - 2·alpha interval)."""
    x = _clean(values)
    if len(x) < 2:
        return math.nan, math.nan
    half = float(stats.t.ppf(1 - alpha, len(x) - 1)) * float(x.std(ddof=1)) / math.sqrt(len(x))
    return float(x.mean()) - half, float(x.mean()) + half
