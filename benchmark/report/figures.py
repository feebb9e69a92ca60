"""The MIKE paper's figures (3, 4, 5–6), drawn from the report's tables in the paper's own forms."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # headless: figures are files, never windows

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from benchmark.report.curves import layer_curves  # noqa: E402
from benchmark.report.data import ReportData, single_teacher  # noqa: E402
from mike.data.tasks import TASK_CODES  # noqa: E402

sns.set_theme(style="whitegrid", context="paper")
COLOURS = {"MIKE": "#1f77b4", "pixel-wise": "#d62728"}


def _radar(ax, series: dict[str, pd.DataFrame], colours: dict[str, str]) -> None:
    """series: name -> frame indexed by task with columns mean, sd. As the paper: the first task at the
    top, the others clockwise in the paper's order (matplotlib's polar default is counter-clockwise from
    the right)."""
    ax.set_theta_direction(-1)
    ax.set_theta_offset(np.pi / 2)
    angles = np.linspace(0, 2 * np.pi, len(TASK_CODES), endpoint=False)
    closed = np.append(angles, angles[0])
    for name, frame in series.items():
        mean = frame["mean"].reindex(TASK_CODES).to_numpy()
        sd = frame["sd"].reindex(TASK_CODES).fillna(0).to_numpy()
        ax.plot(closed, np.append(mean, mean[0]), color=colours[name], label=name, linewidth=1.5)
        low, high = np.append(mean - sd, mean[0] - sd[0]), np.append(mean + sd, mean[0] + sd[0])
        ax.fill_between(closed, low, high, color=colours[name], alpha=0.2)
    ax.set_xticks(angles)
    ax.set_xticklabels(TASK_CODES, fontsize=7)
    ax.set_ylim(0, 1.05)
    ax.set_yticks([0.25, 0.5, 0.75, 1.0])
    ax.tick_params(axis="y", labelsize=6)


def _stats(frame: pd.DataFrame) -> pd.DataFrame:
    """Per task: mean over seeds and its (uncorrected) standard deviation."""
    g = frame.groupby("task")["value"]
    return pd.DataFrame({"mean": g.mean(), "sd": g.std(ddof=0)})


def _average(frame: pd.DataFrame) -> str:
    per_seed = frame.groupby("seed")["value"].mean()
    return f"{per_seed.mean():.2f}" + (f" ± {per_seed.std(ddof=0):.2f}" if len(per_seed) > 1 else "")


def figure3(data: ReportData) -> plt.Figure | None:
    d = single_teacher(data.downstream)
    encoders = [t for t in TASK_CODES if t in set(d["encoder_tasks"])]
    if not encoders:
        return None
    fig, axes = plt.subplots(3, 4, figsize=(14, 13), subplot_kw={"projection": "polar"})
    for ax, enc in zip(axes.flat, encoders, strict=False):
        mine = d[d["encoder_tasks"] == enc]
        parts = {k: mine[mine["kind"] == k] for k in ("MIKE", "pixel-wise") if (mine["kind"] == k).any()}
        _radar(ax, {k: _stats(v) for k, v in parts.items()}, COLOURS)
        ax.set_title(f"encoder from the {enc} teacher", fontsize=9, pad=12)
        ax.set_xlabel("  ".join(f"{k} avg {_average(v)}" for k, v in parts.items()), fontsize=8, labelpad=8)
    for ax in list(axes.flat)[len(encoders) :]:
        ax.set_visible(False)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower right", fontsize=10)
    fig.suptitle(
        "Figure 3: normalised IoU on the 11 tasks, MIKE (uniform) vs pixel-wise baseline", fontsize=12
    )
    fig.tight_layout()
    return fig


def figure4(data: ReportData, three: str) -> plt.Figure | None:
    d = data.downstream
    d = d[(d["kind"] == "MIKE") & (d["schedule"] == "uniform")]
    names = {"CTB": "single (CTB)", three: f"three ({three})"}
    eleven = next((e for e in d["encoder_tasks"].unique() if e.count("+") == 10), None)
    if eleven:
        names[eleven] = "eleven"
    present = {k: v for k, v in names.items() if (d["encoder_tasks"] == k).any()}
    if len(present) < 2:
        return None
    colours = dict(zip(present.values(), ("#2ca02c", "#1f77b4", "#9467bd"), strict=False))
    fig, ax = plt.subplots(figsize=(6, 6), subplot_kw={"projection": "polar"})
    series = {present[k]: _stats(d[d["encoder_tasks"] == k]) for k in present}
    _radar(ax, series, colours)
    ax.set_xlabel(
        "\n".join(f"{present[k]}: avg {_average(d[d['encoder_tasks'] == k])}" for k in present), fontsize=8
    )
    ax.legend(loc="upper right", bbox_to_anchor=(1.3, 1.1), fontsize=8)
    ax.set_title("Figure 4: MIKE encoders from 1, 3 and 11 teachers", fontsize=11, pad=18)
    fig.tight_layout()
    return fig


def figures56(data: ReportData, store, task: str) -> tuple[plt.Figure | None, list[str]]:
    """Per-layer loss against batch on the paper's linear axis, with a log-scale inset for the tail."""
    t = data.transfer
    if t.empty:
        return None, []
    t = t[(t["tasks"].map(lambda ts: list(ts) == [task])) & t["schedule"].isin(["uniform", "progressive"])]
    if t.empty:
        return None, []
    # the lowest seed's progressive run and the uniform run of the same seed and length (else the lowest)
    first = t.sort_values(["schedule", "seed"]).drop_duplicates("schedule", keep="first")
    prog = first[first["schedule"] == "progressive"]
    if not prog.empty:
        p = prog.iloc[0]
        twin = t[(t["schedule"] == "uniform") & t["seed"].eq(p["seed"]) & t["steps"].eq(p["steps"])]
        first = pd.concat([prog, twin.head(1) if not twin.empty else first[first["schedule"] == "uniform"]])
    t = first
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.8), sharey=True)
    ids = []
    for ax, schedule, number in zip(axes, ("uniform", "progressive"), (5, 6), strict=True):
        row = t[t["schedule"] == schedule]
        if row.empty:
            ax.set_title(f"Figure {number}: {schedule}: no run")
            continue
        curves = layer_curves(store, row.iloc[0]["run_id"], task)
        ids.append(row.iloc[0]["run_id"])
        inset = ax.inset_axes([0.55, 0.5, 0.42, 0.45])
        layers = sorted(curves["layer"].unique())
        colours = dict(zip(layers, sns.color_palette("viridis", len(layers)), strict=True))
        for layer in layers:
            c = curves[curves["layer"] == layer].sort_values("step")
            ax.plot(c["step"], c["loss"], color=colours[layer], linewidth=0.8, label=layer)
            inset.plot(c["step"], c["loss"], color=colours[layer], linewidth=0.5)
        warmup = row.iloc[0].get("warmup_steps")
        if warmup is not None and not pd.isna(warmup) and warmup > 0:
            ax.axvspan(0, warmup, color="grey", alpha=0.15, label="pixel-wise warm-up")
        inset.set_yscale("log")
        inset.tick_params(labelsize=6)
        inset.set_title("log scale", fontsize=7)
        ax.set_xlabel("batch")
        ax.set_title(
            f"Figure {number}: {'all-layers uniform' if schedule == 'uniform' else 'last-layer progressive'}"
        )
    axes[0].set_ylabel(f"per-layer loss, {task} teacher")
    if axes[1].get_legend_handles_labels()[0]:
        axes[1].legend(fontsize=6, ncol=2, loc="upper left")
    fig.tight_layout()
    return fig, ids
