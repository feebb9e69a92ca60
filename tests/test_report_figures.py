"""The figures in the papers' forms: Figure 3's radar clockwise from the top in the paper's task order,
Figures 5–6 on a linear axis (with a log-scale inset), Figure 9 from the per-epoch validation loss."""

import numpy as np
import pytest

from benchmark.report import figures, fp_figures
from benchmark.report.data import load
from mike.data.tasks import TASK_CODES
from tests.run_documents import convergence_runs, figure3_runs, progressive_runs, served


@pytest.fixture(scope="module")
def gs(tmp_path_factory):
    with served(tmp_path_factory.mktemp("figures")) as store:
        yield store


def test_radar_charts_run_clockwise_from_the_top_in_the_papers_order(gs):
    figure3_runs(gs.reset(), "small", (0,), lambda e, t, s: 0.1)
    fig = figures.figure3(load(gs.flush(), "small"))
    ax = fig.axes[0]
    assert ax.get_theta_direction() == -1 and ax.get_theta_offset() == pytest.approx(np.pi / 2)
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels == list(TASK_CODES)
    angles = ax.get_xticks()
    assert angles[0] == 0 and np.all(np.diff(angles) > 0)  # increasing angle = clockwise here


def test_figures_5_6_use_the_papers_linear_axis(gs):
    progressive_runs(gs.reset(), "small", (0,), lambda s, seed, k, x: 1 + np.exp(-x / 50), steps=40)
    store = gs.flush()
    fig, ids = figures.figures56(load(store, "small"), store, "BTS")
    main = [ax for ax in fig.axes if ax.get_title().startswith("Figure")]
    assert len(main) == 2 and len(ids) == 2
    assert all(ax.get_yscale() == "linear" for ax in main)
    assert [child.get_yscale() for ax in main for child in ax.child_axes] == ["log", "log"]  # the insets


def test_figure9_scales_each_curve_to_one_after_the_first_epoch(gs):
    convergence_runs(gs.reset(), "paper", (0, 1), lambda p, s: np.linspace(4.0, 1.0, 20))
    store = gs.flush()
    fig = fp_figures.figure9(load(store, "paper"), store)
    lines = [line for line in fig.axes[0].get_lines() if line.get_label() == "I-F-FP"]
    assert lines and lines[0].get_ydata()[0] == pytest.approx(1.0)
    assert lines[0].get_ydata()[-1] == pytest.approx(0.25)
