"""Figures of MIKE's Section 5 studies: instability and downstream quality against the embedding size,
downstream quality per decoder variant, and step time, step memory and quality against the number of
teachers."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # headless: figures are files, never windows

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from benchmark.report.step_memory import StepMemoryModel, teachers_per_sample  # noqa: E402

N_TASKS = 11


def per_seed_average(d: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """11-task average of normalised IoU per (by..., seed); seeds missing a task are left out."""
    g = d.groupby([*by, "seed"])["value"]
    return g.mean()[g.count() == N_TASKS].reset_index()


def _mean_sd(ax, frame: pd.DataFrame, x: str, y: str, label: str, **style) -> None:
    """Each seed a faint point, the mean over seeds a line with ± sd bars."""
    ax.scatter(frame[x], frame[y], s=10, alpha=0.35, **style)
    g = frame.groupby(x)[y]
    ax.errorbar(g.mean().index, g.mean(), yerr=g.std(ddof=0).fillna(0), label=label, capsize=3, **style)


def bottleneck_figure(contrasts: pd.DataFrame, averages: pd.DataFrame) -> plt.Figure | None:
    """Left: instability D per embedding size (seeds as points); right: 11-task average per schedule."""
    if contrasts.empty and averages.empty:
        return None
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.2))
    if not contrasts.empty:
        _mean_sd(left, contrasts, "channels", "d", "progressive − uniform", color="#9467bd")
    left.axhline(0, color="grey", linewidth=0.8)
    left.set_xscale("log", base=2)
    left.set_xlabel("embedding channels (× 8×8)")
    left.set_ylabel("instability D (log units)")
    left.set_title("Figures 5–6's instability against the embedding size")
    for schedule, colour in (("uniform", "#1f77b4"), ("progressive", "#ff7f0e")):
        part = averages[averages["schedule"] == schedule] if not averages.empty else averages
        if not part.empty:
            _mean_sd(right, part, "embedding_channels", "value", schedule, color=colour)
    right.set_xscale("log", base=2)
    right.set_xlabel("embedding channels (× 8×8)")
    right.set_ylabel("normalised IoU, 11-task average")
    right.set_title("downstream quality against the embedding size")
    right.legend(fontsize=8)
    fig.tight_layout()
    return fig


def decoder_figure(averages: pd.DataFrame, order: list[str]) -> plt.Figure | None:
    """Bars per decoder variant: downstream through a fresh mirror and through the transferred decoder."""
    if averages.empty:
        return None
    fig, ax = plt.subplots(figsize=(max(6, 1.8 * len(order)), 4.2))
    width = 0.38
    for k, (mode, colour) in enumerate((("fresh", "#1f77b4"), ("finetune", "#2ca02c"))):
        part = averages[averages["decoder"] == mode].groupby("decoder_variant")["value"]
        mean, sd = part.mean().reindex(order), part.std(ddof=0).reindex(order).fillna(0)
        x = np.arange(len(order)) + (k - 0.5) * width
        ax.bar(x, mean, width, yerr=sd, capsize=3, color=colour, label=f"{mode} decoder downstream")
    ax.set_xticks(np.arange(len(order)))
    ax.set_xticklabels(order, fontsize=8)
    ax.set_ylabel("normalised IoU, 11-task average")
    ax.set_title("decoder variants: the encoder alone (fresh mirror) and encoder + its decoder (finetune)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def scaling_figure(
    cost: pd.DataFrame, averages: pd.DataFrame, fit: StepMemoryModel | None
) -> plt.Figure | None:
    """Seconds and memory per step against N (log-log), and the 11-task average against N."""
    if cost.empty:
        return None
    fig, (t_ax, m_ax, q_ax) = plt.subplots(1, 3, figsize=(15, 4.2))
    _mean_sd(t_ax, cost, "teachers", "seconds_per_step", "median of the timed steps", color="#1f77b4")
    t_ax.set_ylabel("seconds per transfer step")
    mib = cost.assign(mib=cost["step_memory_bytes"] / 2**20)
    _mean_sd(m_ax, mib, "teachers", "mib", "step memory", color="#d62728")
    if fit is not None:
        points = cost.groupby("teachers")["tasks"].first().map(teachers_per_sample).sort_index()
        modelled = [fit.predict(n, per_sample) / 2**20 for n, per_sample in points.items()]
        m_ax.plot(
            points.index,
            modelled,
            "--",
            color="grey",
            linewidth=0.8,
            label="model (fixed + per teacher per sample + per teacher)",
        )
    m_ax.set_ylabel("MiB a step holds (parameters, Adam, saved tensors)")
    for ax in (t_ax, m_ax):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("teachers N")
        ax.legend(fontsize=8)
    if not averages.empty:
        _mean_sd(q_ax, averages, "n_teachers", "value", "MIKE (uniform)", color="#1f77b4")
        q_ax.set_xscale("log")
        q_ax.legend(fontsize=8)
    q_ax.set_xlabel("teachers N")
    q_ax.set_ylabel("normalised IoU, 11-task average")
    fig.suptitle("transfer from N teachers at once (routed)")
    fig.tight_layout()
    return fig


def forgetting_figure(matrices: dict[str, pd.DataFrame]) -> plt.Figure | None:
    """One heatmap per variant: rows the step of the sequence (its teacher), columns the downstream task,
    cells the normalised IoU (mean over seeds)."""
    if not matrices:
        return None
    fig, axes = plt.subplots(
        1, len(matrices), figsize=(7 * len(matrices), 0.5 * max(len(m) for m in matrices.values()) + 2.5)
    )
    axes = np.atleast_1d(axes)
    for ax, (name, m) in zip(axes, matrices.items(), strict=True):
        image = ax.imshow(
            m.to_numpy(float), vmin=0, vmax=max(1.0, float(np.nanmax(m.to_numpy(float)))), cmap="viridis"
        )
        ax.set_xticks(range(m.shape[1]))
        ax.set_xticklabels(m.columns, fontsize=7, rotation=90)
        ax.set_yticks(range(m.shape[0]))
        ax.set_yticklabels(m.index, fontsize=7)
        ax.set_xlabel("downstream task")
        ax.set_ylabel("after the teacher of step")
        ax.set_title(f"{name}: normalised IoU after each step")
        for (i, j), v in np.ndenumerate(m.to_numpy(float)):
            if np.isfinite(v):
                ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=6, color="white")
        ax.grid(False)
        fig.colorbar(image, ax=ax, shrink=0.8)
    fig.tight_layout()
    return fig
