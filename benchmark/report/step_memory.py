"""A model of the memory one routed transfer step holds, fitted to the scaling study's step costs, and the
largest number of teachers whose step fits on the device.

Memory is not linear in N. With routing each sample runs through the teachers of its own task only, so
the activations autograd saves grow with the teachers *per sample* (N / distinct tasks: 1 up to N = 11,
then 2 at 22, 4 at 44), while each teacher adds only its frozen weights. The model is therefore

    bytes = fixed + per_teacher_per_sample · (N / tasks) + per_teacher · N,

fitted by non-negative least squares (a negative cost would be noise, not memory)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import nnls


@dataclass(frozen=True)
class StepMemoryModel:
    fixed: float  # bytes: the autoencoder's parameters, gradients and Adam state, the batch
    per_teacher_per_sample: float  # bytes: the activations one teacher saves for a whole batch
    per_teacher: float  # bytes: one frozen teacher's weights

    def predict(self, teachers: float, teachers_per_sample: float) -> float:
        return self.fixed + self.per_teacher_per_sample * teachers_per_sample + self.per_teacher * teachers

    def largest_fitting(self, budget_bytes: float, tasks: int) -> int | None:
        """The largest N (≥ tasks, replicas spread evenly over `tasks` tasks) whose step fits in the budget;
        None when memory does not grow with N."""
        per_n = self.per_teacher_per_sample / tasks + self.per_teacher
        if per_n <= 0:
            return None
        return int((budget_bytes - self.fixed) // per_n)


def teachers_per_sample(tasks: list) -> float:
    """How many teachers a routed sample runs through: the teachers over the distinct tasks they serve."""
    return len(tasks) / len(set(tasks))


def fit_step_memory(cost: pd.DataFrame) -> StepMemoryModel | None:
    """The model fitted to step-cost runs (columns `teachers`, `tasks`, `step_memory_bytes`), averaged over
    seeds per N; None with fewer than three N (three coefficients)."""
    if cost.empty:
        return None
    rows = cost.assign(per_sample=cost["tasks"].map(teachers_per_sample))
    means = rows.groupby("teachers").agg(
        per_sample=("per_sample", "first"), bytes=("step_memory_bytes", "mean")
    )
    if len(means) < 3:
        return None
    design = np.column_stack([np.ones(len(means)), means["per_sample"], means.index.to_numpy(float)])
    coefficients, _ = nnls(design, means["bytes"].to_numpy(float))
    return StepMemoryModel(*map(float, coefficients))
