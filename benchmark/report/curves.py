"""Logged metric series of single runs, read from Sacred's `metrics` collection: per-layer transfer
losses (Figures 5–6) and epoch curves (autoencoders)."""

from __future__ import annotations

import pandas as pd

from benchmark.store import RunStore


def _run_id(run_id):
    return int(run_id) if str(run_id).isdigit() else run_id  # Sacred's run ids are integers


def layer_curves(store: RunStore, run_id, task: str) -> pd.DataFrame:
    """Per-layer transfer loss of one run: columns step, layer, loss (Figures 5–6)."""
    prefix = f"layer/{task}/"
    cursor = store.db.metrics.find(
        {"run_id": _run_id(run_id), "name": {"$regex": f"^{prefix}"}},
        {"name": 1, "steps": 1, "values": 1, "_id": 0},
    )
    frames = [
        pd.DataFrame({"step": m["steps"], "loss": m["values"], "layer": m["name"][len(prefix) :]})
        for m in cursor
    ]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["step", "loss", "layer"])


def metric_series(store: RunStore, run_id, name: str) -> pd.Series:
    """One logged metric of one run, indexed by step (for autoencoders: the epoch, from 0)."""
    doc = store.db.metrics.find_one({"run_id": _run_id(run_id), "name": name}, {"steps": 1, "values": 1})
    if doc is None:
        return pd.Series(dtype=float)
    return pd.Series(doc["values"], index=doc["steps"], dtype=float).sort_index()
