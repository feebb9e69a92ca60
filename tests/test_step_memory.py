"""The step-memory model of the scaling study: fitted to costs built from known coefficients, and the
largest N it states, against hand-computed values."""

import pandas as pd
import pytest

from benchmark.report.step_memory import fit_step_memory, teachers_per_sample
from mike.data.tasks import TASK_CODES

MIB = 2**20


def _tasks(n: int) -> list[str]:
    return [TASK_CODES[k % len(TASK_CODES)] for k in range(n)]


def _cost(mib_of, ns=(1, 3, 11, 22, 44)) -> pd.DataFrame:
    rows = []
    for n in ns:
        for seed, noise in ((0, -0.5), (1, 0.5)):  # seeds straddle the truth: their mean is exact
            tasks = _tasks(n)
            rows.append(
                {
                    "teachers": n,
                    "tasks": tasks,
                    "seed": seed,
                    "step_memory_bytes": (mib_of(n, tasks) + noise) * MIB,
                }
            )
    return pd.DataFrame(rows)


def test_teachers_per_sample_counts_replicas_of_a_task():
    assert teachers_per_sample(_tasks(3)) == 1
    assert teachers_per_sample(_tasks(11)) == 1
    assert teachers_per_sample(_tasks(22)) == 2
    assert teachers_per_sample(_tasks(44)) == 4


def test_fit_recovers_fixed_per_sample_and_per_teacher_costs():
    model = fit_step_memory(_cost(lambda n, tasks: 50 + 77 * teachers_per_sample(tasks) + 0.5 * n))
    assert model.fixed / MIB == pytest.approx(50, abs=1e-6)
    assert model.per_teacher_per_sample / MIB == pytest.approx(77, abs=1e-6)
    assert model.per_teacher / MIB == pytest.approx(0.5, abs=1e-6)
    # By hand: each teacher beyond 11 tasks adds 77 / 11 + 0.5 = 7.5 MiB; (0.9 · 24 GiB − 50 MiB) / 7.5 MiB.
    assert model.largest_fitting(0.9 * 24 * 1024 * MIB, 11) == int((0.9 * 24 * 1024 - 50) // 7.5) == 2942


def test_memory_flat_to_eleven_is_not_read_as_growing_with_each_teacher():
    # The measured shape at `cpu`: 128 MiB to N = 11, then +77 MiB per teacher per sample. A straight line
    # in N would charge every teacher ~5 MiB; the model charges the weights nothing here.
    model = fit_step_memory(_cost(lambda n, tasks: 51 + 77 * teachers_per_sample(tasks)))
    assert model.per_teacher / MIB == pytest.approx(0, abs=1e-6)
    assert model.predict(11, 1) / MIB == pytest.approx(128)
    assert model.predict(100, 100 / 11) / MIB == pytest.approx(51 + 77 * 100 / 11)


def test_memory_that_does_not_grow_states_no_limit():
    model = fit_step_memory(_cost(lambda n, tasks: 200))
    assert model.largest_fitting(1e12, 11) is None


def test_fewer_than_three_n_are_too_few_for_three_coefficients():
    assert fit_step_memory(_cost(lambda n, tasks: 100 + n, ns=(1, 3))) is None
    assert fit_step_memory(pd.DataFrame()) is None
