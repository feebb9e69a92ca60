"""Everything the report needs, read from the run store with projections (no whole documents, no models).

Rows carry their run id, config hash, git commit and hardware, so every figure and table cell can be traced.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from benchmark.store import RunStore

FIELDS = {
    "stage": "$config.stage",
    "profile": "$config.profile",
    "seed": "$config.seed",
    "config_hash": "$meta.config_hash",
    "label": "$info.label",
    "git_commit": "$info.git_commit",
    "hardware": "$info.hardware",
    "seconds": "$info.seconds",
}


@dataclass
class ReportData:
    profile: str
    runs: pd.DataFrame  # every COMPLETED run of the profile: provenance
    downstream: pd.DataFrame  # one row per downstream run, with its encoder's kind, tasks and schedule
    probes: pd.DataFrame  # one row per probe run (feature-prediction suite)
    transfer: pd.DataFrame  # MIKE transfer runs (for Figures 5–6: their metric names are loaded on demand)
    data_sources: dict  # what data the runs used: synthetic COCO or a root, loss networks


def profiles_in(store: RunStore) -> list[str]:
    return sorted(p for p in store.db.runs.distinct("config.profile", {"status": "COMPLETED"}) if p)


def _frame(store: RunStore, match: dict, extra: dict) -> pd.DataFrame:
    pipeline = [{"$match": {"status": "COMPLETED", **match}}, {"$project": {"_id": 1, **FIELDS, **extra}}]
    rows = list(store.db.runs.aggregate(pipeline))
    frame = pd.DataFrame(rows)
    if frame.empty:
        return pd.DataFrame(columns=["run_id", *FIELDS, *extra])
    frame["run_id"] = frame.pop("_id").astype(str)
    # A field no document has (e.g. one added in a later version) is still a column, all missing.
    return frame.reindex(columns=["run_id", *FIELDS, *extra])


def load(store: RunStore, profile: str) -> ReportData:
    base = {"config.profile": profile}
    runs = _frame(store, base, {"data": "$config.data"})
    encoders = _frame(
        store,
        {**base, "config.stage": {"$in": ["transfer", "baseline"]}},
        {"tasks": "$config.tasks", "schedule": "$config.schedule"},
    )
    downstream = _frame(
        store,
        {**base, "config.stage": "downstream"},
        {"task": "$config.task", "encoder": "$config.encoder", "value": "$result.normalised_iou"},
    )
    if not downstream.empty:  # each downstream run beside what its encoder was
        encoder_of = pd.DataFrame(
            {
                "encoder": encoders["config_hash"],
                "kind": encoders["stage"].map({"transfer": "MIKE", "baseline": "pixel-wise"}),
                "encoder_tasks": encoders["tasks"].map("+".join),
                "n_teachers": encoders["tasks"].map(len),
                "schedule": encoders["schedule"],
                "encoder_run": encoders["run_id"],
            }
        )
        downstream = downstream.merge(encoder_of, on="encoder", how="inner")
    probes = _frame(
        store,
        {**base, "config.stage": "probe"},
        {
            "dataset": "$result.dataset",
            "procedure": "$result.procedure",
            "z": "$result.z",
            "metric": "$result.metric",
            "value": "$result.test_metric",
            "constant": "$result.constant_metric",
            "epoch_seconds": "$result.epoch_seconds",
            "epoch_cpu_seconds": "$result.epoch_cpu_seconds",
            "loss_network": "$result.loss_network",
            "selected_hidden": "$result.selected_hidden",
            "autoencoder": "$config.autoencoder",
        },
    )
    transfer = encoders[encoders["stage"] == "transfer"] if not encoders.empty else encoders
    lossnets = runs[runs["stage"] == "loss_network"] if not runs.empty else runs
    sources = {
        "synthetic_coco": any(
            isinstance(d, dict) and d.get("synthetic") is not None for d in runs.get("data", [])
        ),
        "coco_roots": sorted(
            {d["coco_root"] for d in runs.get("data", []) if isinstance(d, dict) and d.get("coco_root")}
        ),
        "loss_networks": sorted(set(probes["loss_network"].dropna())) if not probes.empty else [],
        "loss_network_runs": lossnets["run_id"].tolist() if not lossnets.empty else [],
    }
    return ReportData(
        profile, runs.drop(columns=["data"], errors="ignore"), downstream, probes, transfer, sources
    )


def single_teacher(downstream: pd.DataFrame) -> pd.DataFrame:
    """Downstream runs of single-teacher encoders (Figure 3): MIKE all-layers uniform, and their baselines."""
    if downstream.empty:
        return downstream
    d = downstream
    return d[(d["n_teachers"] == 1) & (d["schedule"].isna() | (d["schedule"] == "uniform"))]


def layer_curves(store: RunStore, run_id, task: str) -> pd.DataFrame:
    """Per-layer transfer loss of one run: columns step, layer, loss (Figures 5–6)."""
    rid = int(run_id) if str(run_id).isdigit() else run_id  # Sacred's run ids are integers
    prefix = f"layer/{task}/"
    cursor = store.db.metrics.find(
        {"run_id": rid, "name": {"$regex": f"^{prefix}"}}, {"name": 1, "steps": 1, "values": 1, "_id": 0}
    )
    frames = [
        pd.DataFrame({"step": m["steps"], "loss": m["values"], "layer": m["name"][len(prefix) :]})
        for m in cursor
    ]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["step", "loss", "layer"])
