"""The feature-prediction paper's figures (6–8: metric vs time per epoch; 9: convergence on SVHN)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # headless: figures are files, never windows

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import seaborn as sns  # noqa: E402

from benchmark.report.claims.common import DATASET_NAMES  # noqa: E402
from benchmark.report.claims.convergence import scaled_val_loss  # noqa: E402
from benchmark.report.data import ReportData  # noqa: E402
from mike.featpred.procedure_table import PROCEDURES  # noqa: E402

MARKERS = dict(zip(PROCEDURES, "os^vDP", strict=True))
PALETTE = dict(zip(PROCEDURES, sns.color_palette("colorblind", len(PROCEDURES)), strict=True))


def fp_figure(data: ReportData, dataset: str, number: int) -> plt.Figure | None:
    p = data.probes
    p = p[p["dataset"] == dataset]
    if p.empty:
        return None
    metric = p["metric"].iloc[0]
    fig, ax = plt.subplots(figsize=(7, 5))
    for procedure in PROCEDURES:
        g = p[p["procedure"] == procedure].groupby("z")
        if not len(g):
            continue
        s = g.agg(t=("epoch_seconds", "mean"), m=("value", "mean"))
        s["t_sd"] = g["epoch_seconds"].std(ddof=0).fillna(0)  # uncorrected, as the paper
        s["m_sd"] = g["value"].std(ddof=0).fillna(0)
        style = {"fmt": MARKERS[procedure], "color": PALETTE[procedure], "capsize": 2, "markersize": 7}
        ax.errorbar(s["t"], s["m"], xerr=s["t_sd"], yerr=s["m_sd"], label=procedure, **style)
        for z, row in s.iterrows():
            ax.annotate(f"z={z}", (row["t"], row["m"]), fontsize=6, xytext=(4, 3), textcoords="offset points")
    if p["constant"].notna().any():  # the floor: predicting the mean position (or the majority class)
        ax.axhline(p["constant"].mean(), color="grey", linestyle="--", linewidth=1, label="constant guess")
    ax.set_xlabel("training time per epoch (s)")
    ax.set_ylabel("mean Euclidean distance (lower is better)" if metric == "distance" else "accuracy")
    name = DATASET_NAMES.get(dataset, dataset)
    ax.set_title(f"Figure {number}: {name}: probe {metric} vs time per epoch (mean ± sd over seeds)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def figure9(data: ReportData, store) -> plt.Figure | None:
    """Validation loss per epoch of the SVHN convergence runs, scaled to 1 after the first epoch (one thin
    line per seed, the mean over seeds bold)."""
    c = data.convergence
    if c.empty:
        return None
    fig, ax = plt.subplots(figsize=(7, 5))
    for procedure in PROCEDURES:
        runs = c[c["procedure"] == procedure]
        curves = [scaled_val_loss(store, r) for r in runs["run_id"]]
        curves = [k for k in curves if len(k)]
        if not curves:
            continue
        for k in curves:
            ax.plot(np.arange(1, len(k) + 1), k, color=PALETTE[procedure], linewidth=0.6, alpha=0.4)
        longest = max(len(k) for k in curves)
        padded = np.full((len(curves), longest), np.nan)
        for i, k in enumerate(curves):
            padded[i, : len(k)] = k
        ax.plot(
            np.arange(1, longest + 1),
            np.nanmean(padded, axis=0),
            color=PALETTE[procedure],
            linewidth=1.8,
            label=procedure,
        )
    ax.set_xlabel("epoch")
    ax.set_ylabel("validation loss / validation loss after epoch 1")
    z = ", ".join(str(v) for v in sorted(c["z"].dropna().unique()))
    ax.set_title(f"Figure 9: convergence on SVHN, z = {z} (early stopping, patience 15)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
