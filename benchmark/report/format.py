"""How numbers and run ids are written in report tables."""

from __future__ import annotations

from benchmark.report.stats import mean_sd


def pm(values) -> str:
    """Mean ± uncorrected sd (the feature-prediction paper's statistic); a single value alone."""
    mean, sd = mean_sd(values)
    return f"{mean:.3f} ± {sd:.3f}" if len(values) > 1 else f"{mean:.3f}"


def ids_text(values, limit: int = 6) -> str:
    values = [str(v) for v in values]
    return ", ".join(values[:limit]) + (f" … (+{len(values) - limit})" if len(values) > limit else "")
