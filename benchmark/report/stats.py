"""The statistics behind the verdicts: means, uncorrected spread, Student-t confidence intervals."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats


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


def mean_ci(values: Sequence[float], level: float = 0.95) -> Interval:
    """Student-t interval of the mean; with one value, no interval."""
    x = np.asarray(values, dtype=float)
    x = x[~np.isnan(x)]
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
